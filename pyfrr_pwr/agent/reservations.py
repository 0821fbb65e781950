"""Bandwidth reservations on our own links (draft sec. 2.2; pure, no I/O).

A reservation takes bandwidth on the links of a chosen path; each router
on it reserves on its own link to the next hop, and its links re-advertise
less available bandwidth (a hard constraint, flooded at once: see
``advertise.Attachment``). The head-end's route covers its own area; an ABR
reached expands the next segment of the plan with CSPF at the reservation's
bandwidth. Signalling the hops to each other is ``signalling``'s business.

The table maps a reservation ID to ``{"ifname": str | None, "bw": bytes/s,
"next": router ID | None}``; ``ifname`` and ``next`` are None at the tail.
With signalling it is a ``Table``: soft state (issue 7; RFC 2205 sec. 1.2)
whose bookings live in a ``dataplane.softstate.SoftState`` and expire
``hold`` seconds after their last refresh, with O(1) book, refresh,
release and per-link total (``reserved_bps``), O(expired) expiry. Its
entries also say who made each booking (``from``: the previous hop, the
authenticated sender of the reserve; None where we made it), when it
expires (``expires_at``, wall clock, for people; expiry itself runs on the
monotonic clock) and, where we are the head-end, the reservation's
``state``: pending (being set up), up, or lost (a refresh did not get
through: ``lost`` says where and why).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from pyfrr_pwr.dataplane.softstate import HOLD, SoftState
from pyfrr_pwr.proto.control import AgentRefusal, Candidate

__all__ = ["Table", "reserved_bps", "available_bps", "reserve_hop", "release_hop", "plan", "MAX_BOOKINGS"]

MAX_BOOKINGS = 100_000  # bookings one router holds (memory bound; a refusal beyond)


class Table(dict):
    """Reservation ID -> entry (a plain dict, the view), with the bandwidth
    booked in a SoftState. Change it only through its methods: ``book``,
    ``refresh``, ``release``, ``expire``, ``set_state`` (``pop`` and ``del``
    release; assigning an item is refused)."""

    def __init__(
        self, hold: float = HOLD, clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time, max_bookings: int = MAX_BOOKINGS
    ):
        super().__init__()
        self.soft = SoftState(hold)
        self.hold = self.soft.hold
        self.clock = clock
        self.wall = wall
        self.max_bookings = max_bookings
        self.own: dict = {}  # IDs of the reservations we head (insertion-ordered set)

    # -- changes -----------------------------------------------------------

    def book(self, rid: str, ifname: str | None, bw: float, nxt: str | None, *, owner: str | None = None, head: bool = False) -> dict:
        if rid not in self and len(self) >= self.max_bookings:
            raise AgentRefusal(f"{len(self)} reservations here already, the most this router holds")
        self.soft.book(self.clock(), rid, ifname, bw)
        e = {"ifname": ifname, "bw": bw, "next": nxt, "from": owner, "expires_at": round(self.wall() + self.hold, 3)}
        if head:
            e["state"] = "pending"
            self.own[rid] = None
        else:
            self.own.pop(rid, None)
        dict.__setitem__(self, rid, e)
        return e

    def refresh(self, rid: str) -> bool:
        if not self.soft.refresh(self.clock(), rid):
            return False
        dict.__getitem__(self, rid)["expires_at"] = round(self.wall() + self.hold, 3)
        return True

    def release(self, rid: str) -> dict | None:
        self.soft.release(rid)
        self.own.pop(rid, None)
        return dict.pop(self, rid, None)

    def expire(self) -> list:
        """Drop what was not refreshed in time: [(ID, entry)], O(expired)."""
        out = []
        for b in self.soft.expire(self.clock()):
            self.own.pop(b.key, None)
            out.append((b.key, dict.pop(self, b.key)))
        return out

    def set_state(self, rid: str, state: str, lost: dict | None = None) -> None:
        e = dict.__getitem__(self, rid)
        e["state"] = state
        if lost is None:
            e.pop("lost", None)
        else:
            e["lost"] = lost

    # -- views ---------------------------------------------------------------

    def reserved(self, ifname) -> float:
        """Bytes/s booked on one link, O(1)."""
        return self.soft.reserved(ifname)

    def next_expiry(self) -> float | None:
        return self.soft.next_expiry()

    # -- a dict's mutators, kept consistent -------------------------------------

    def pop(self, rid, *default):
        e = self.release(rid)
        if e is None:
            if default:
                return default[0]
            raise KeyError(rid)
        return e

    def __delitem__(self, rid) -> None:
        self.pop(rid)

    def __setitem__(self, rid, v) -> None:
        raise TypeError("book reservations with Table.book")

    def _refuse(self, *a, **kw):
        raise TypeError("change reservations with Table.book / release / expire")

    update = setdefault = popitem = clear = _refuse


def reserved_bps(table: dict, ifname: str) -> float:
    """Bits/s reserved on one of our links: O(1) on a Table."""
    if isinstance(table, Table):
        return table.reserved(ifname) * 8
    return sum(r["bw"] * 8 for r in table.values() if r["ifname"] == ifname)


def available_bps(port, used_bps: float | None, reserved: float) -> float:
    """What a link has left, in bits/s: a configured figure wins (labs model
    the draft's table), else its speed less what is measured in use; less
    what is reserved either way."""
    if port.available is not None:
        avail = port.available
    elif used_bps is not None:
        avail = max(port.speed - used_bps, 0.0)
    else:
        avail = port.speed
    return max(avail - reserved, 0.0)


def plan(best: Candidate, dst: str) -> tuple[list, list]:
    """The head-end's explicit route and the later segments of a chosen
    inter-area path: [{"area", "to"}], to the next ABR through the backbone,
    then to the tail-end in its area."""
    steps = []
    if best.abr_chain:
        if len(best.abr_chain) > 1:
            steps.append({"area": "0.0.0.0", "to": best.abr_chain[1]})
        steps.append({"area": best.vector.area, "to": dst})
    return list(best.head_path), steps


def _put(table: dict, rid: str, ifname, bw: float, nxt, owner, head: bool) -> None:
    if isinstance(table, Table):
        table.book(rid, ifname, bw, nxt, owner=owner, head=head)
    else:
        table[rid] = {"ifname": ifname, "bw": bw, "next": nxt}


def reserve_hop(
    table: dict,
    rid: str,
    bw: float,
    hops: list,
    plan: list,
    *,
    router_id: str | None,
    teds: dict,
    links,
    available,
    capacity: Callable[[str], float] | None = None,
    owner: str | None = None,
    head: bool = False,
) -> dict:
    """One hop of a reservation along an explicit route. ``hops`` starts
    with us; ``plan`` lists the later segments [{"area", "to"}]. Reserves on
    our own (advertised) link to the next hop and says where the request
    goes next: {"next": router ID, "hops", "plan"} or {"next": None} at the
    end. ``available(ifname)`` is a link's available bits/s, ``capacity``
    its speed. ``owner``: who asks (the previous hop; None: we do), ``head``:
    we are the head-end. A booking its owner makes again (an owner that
    restarted and reuses its IDs) replaces the old one."""
    if isinstance(bw, bool) or not isinstance(bw, (int, float)) or not math.isfinite(bw) or bw <= 0:
        raise AgentRefusal(f"{router_id}: reservation {rid}: bandwidth {bw!r} must be a finite number of bytes/s > 0")
    if rid in table:
        if owner is None or not isinstance(table, Table) or table[rid]["from"] != owner:
            raise AgentRefusal(f"reservation {rid} exists already")
        table.release(rid)  # its owner made it again: the old one is stale
    if len(hops) <= 1:
        if not plan:
            _put(table, rid, None, bw, None, owner, head)
            return {"next": None}
        seg, plan = plan[0], plan[1:]
        ted = teds.get(seg["area"])
        if ted is None:
            raise AgentRefusal(f"{router_id}: no TE database for area {seg['area']}")
        # imported here: a transit hop never pays for it (numpy; ~300 ms at the
        # first reservation through a router, issue 7 sec. 5; RSS, issue 10)
        from pyfrr_pwr.paths.ksp import k_shortest_paths

        G = ted.graph()
        ps = k_shortest_paths(G, router_id, seg["to"], 1, min_bandwidth=bw) if router_id in G and seg["to"] in G else []
        if not ps:
            raise AgentRefusal(f"{router_id}: no path to {seg['to']} in area {seg['area']} with {bw * 8 / 1e9:g} Gb/s available")
        hops = list(ps[0].nodes)
    nxt = hops[1]
    cands = sorted(((available(l.ifname) or 0.0, l.ifname) for l in links if l.nbr_id == nxt and l.advertised), reverse=True)
    if not cands:
        raise AgentRefusal(f"{router_id}: no link to {nxt}")
    avail_bps, ifn = cands[0]
    cap = capacity(ifn) if capacity is not None else None
    if cap is not None and bw * 8 > cap:
        raise AgentRefusal(f"{router_id}: {bw * 8 / 1e9:g} Gb/s requested exceeds the {cap / 1e9:g} Gb/s capacity of link {ifn} to {nxt}")
    if avail_bps < bw * 8:
        raise AgentRefusal(f"{router_id}: link {ifn} to {nxt} has {avail_bps / 1e9:g} Gb/s available, {bw * 8 / 1e9:g} Gb/s requested")
    _put(table, rid, ifn, bw, nxt, owner, head)
    return {"next": nxt, "hops": hops[1:], "plan": plan}


def release_hop(table: dict, rid: str) -> str | None:
    """Give a reservation's bandwidth back; returns the next hop."""
    r = table.release(rid) if isinstance(table, Table) else table.pop(rid, None)
    return r["next"] if r else None
