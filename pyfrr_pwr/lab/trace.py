"""A lab's agent trace lines (``pyfrr_pwr.agent.trace``) as one timeline,
and where one reroute's time went (issue 10).

Agents trace only when started with ``PYFRR_PWR_TRACE=1`` in the
environment of the process that brings the lab up. Every timestamp is
CLOCK_MONOTONIC, shared by all namespaces of the host, so a bench's own
``time.monotonic()`` marks sort in with them. ``events`` and ``window``
read files; ``stages`` is pure.
"""

from __future__ import annotations

from pathlib import Path

from pyfrr_pwr.agent.trace import parse_line

__all__ = ["events", "window", "stages", "summary"]


def events(logs: dict[str, Path]) -> list[tuple[float, str, str, list[str]]]:
    """(time, node, event, fields) of every trace line in the agents' logs
    (node -> log path), sorted by time."""
    out = []
    for node, p in logs.items():
        try:
            text = Path(p).read_text(errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            ev = parse_line(line)
            if ev is not None:
                out.append((ev[0], node, ev[1], ev[2]))
    out.sort(key=lambda e: e[0])
    return out


def window(evs: list, t0: float, t1: float) -> list:
    return [e for e in evs if t0 <= e[0] <= t1]


def stages(evs: list, t0: float, origin: str, origin_rid: str, head: str, t_end: float) -> dict:
    """Milliseconds after ``t0`` (the change made at ``origin``, router ID
    ``origin_rid``) of each step of one reroute seen by ``head`` at
    ``t_end``: the origin's read and first origination, the first LSA of it
    anywhere else, each ABR's first and last vector round, the head-end's
    last LSA before ``t_end``, its last published view and its last choice
    round before ``t_end``. Absent steps are left out."""
    ms = lambda t: round((t - t0) * 1e3, 1)  # noqa: E731
    out: dict = {}

    def first(pred, key):
        for e in evs:
            if t0 <= e[0] <= t_end and pred(e):
                out[key] = ms(e[0])
                return

    def last(pred, key):
        for e in reversed(evs):
            if t0 <= e[0] <= t_end and pred(e):
                out[key] = ms(e[0])
                return

    first(lambda e: e[1] == origin and e[2] in ("watts", "netlink"), "origin_input")
    for st, name in ((4, "init"), (5, "two_way"), (9, "full")):  # RFC 2328 sec. 10.1 (proto.ospfapi.NsmState)
        first(lambda e, st=st: e[1] == origin and e[2] == "nsm" and e[3][2:3] == [str(st)], f"origin_nsm_{name}")
    first(lambda e: e[1] == origin and e[2] == "send", "origin_sent")
    first(lambda e: e[1] != origin and e[2] in ("lsa_upd", "lsa_del") and e[3][1:2] == [origin_rid], "origin_lsa_first_seen")
    abrs = sorted({e[1] for e in evs if t0 <= e[0] <= t_end and e[2] == "vec_done" and int(e[3][1]) > 0})
    for n in abrs:
        first(lambda e, n=n: e[1] == n and e[2] == "vec_done" and int(e[3][1]) > 0, f"{n}_vec_first")
        last(lambda e, n=n: e[1] == n and e[2] == "vec_done" and int(e[3][1]) > 0, f"{n}_vec_last")
    last(lambda e: e[1] == head and e[2] in ("lsa_upd", "lsa_del"), "head_last_lsa")
    last(lambda e: e[1] == head and e[2] == "view_published", "head_view_published")
    last(lambda e: e[1] == head and e[2] == "view_choices", "head_choices")
    out["seen"] = ms(t_end)
    return out


def summary(rounds: list[dict]) -> dict:
    """Median of each step over rounds (only steps present in half of them)."""
    import statistics

    keys = sorted({k for r in rounds for k in r})
    out = {}
    for k in keys:
        v = [r[k] for r in rounds if k in r]
        if len(v) * 2 >= len(rounds):
            out[k] = statistics.median(v)
    return out


def adjacency_drops(evs: list, t0: float, t1: float, exclude: set = frozenset()) -> list:
    """(time, node, interface address, neighbour) of every neighbour that
    went Down or was deleted (RFC 2328 sec. 10.1; proto.ospfapi.NsmState
    <= DOWN) between t0 and t1, except on the interfaces in ``exclude``:
    a flap nobody asked for (e.g. a dead interval too short for a loaded
    machine)."""
    return [(e[0], e[1], e[3][0], e[3][1]) for e in evs if t0 <= e[0] <= t1 and e[2] == "nsm" and e[3][2:3] and int(e[3][2]) <= 2 and e[3][0] not in exclude]
