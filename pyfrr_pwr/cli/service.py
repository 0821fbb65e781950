"""``pyfrr-pwr service SERVICE``: which instance of a service to use, as
the head-end's agent ranks them (issue 9 sec. 3; ``cats.service``).

  pyfrr-pwr service inference --demand 1G --max-delay 5ms --max-jitter 1ms \\
      --weights power=1,carbon=2,price=0 [--critical] [--json]

Asks the local agent over its control socket (request ``{"cmd":
"service", "service": ..., "demand": bytes/s, "max_delay_us": ...,
"max_jitter_us": ..., "weights": "power=1,...", "critical": bool, "k":
...}``; the answer is ``cats.service.Ranking.to_json()``). Prints every
reachable instance with each term of its joint cost so the choice can be
audited, the instances that break a bound and why, and, when none
qualifies, which bound failed and the best figure seen. Exit 0 with a
winner, 3 when no instance qualifies, 1 without an agent, 2 for a bad
argument or a refusal.
"""

from __future__ import annotations

import argparse
import json

from rich.table import Table

from pyfrr_pwr.cli.agentctl import AgentUnreachable, _client_socket, agent_request
from pyfrr_pwr.cli.offline import K_MAX, delay_arg, int_in, positive_rate_arg
from pyfrr_pwr.cli.render import console as _out
from pyfrr_pwr.cli.render import no_lsp
from pyfrr_pwr.files.power import parse_rate
from pyfrr_pwr.model import metric
from pyfrr_pwr.proto import control as pc
from pyfrr_pwr.proto.control import AgentError

__all__ = ["register", "Service", "cmd_service", "print_ranking", "EX_NONE"]

EX_NONE = 3  # no instance meets the request


Service = pc.Service  # the request (proto.control)


def _weights_arg(s: str) -> str:
    from pyfrr_pwr.cats.service import parse_weights

    try:
        parse_weights(s)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return s


def _ask(sock: str, req, timeout: float, ranking: bool = True):
    """One request over the control socket (``agentctl.agent_request``);
    no agent there is a ConnectionError (exit status 1)."""
    try:
        res = agent_request(sock, req, timeout)
    except AgentUnreachable as exc:
        raise ConnectionError(str(exc)) from None
    if ranking and (not isinstance(res, dict) or "ranked" not in res):
        raise AgentError("agent: the answer is not a service ranking")
    return res


def _ms(us) -> str:
    return "-" if us is None else f"{us / 1000:.3g} ms"


def _gbps(bps) -> str:
    return "-" if bps is None else f"{bps * 8 / 1e9:.4g}G"


def print_ranking(res: dict) -> None:
    con = _out()
    b = res.get("bounds") or {}
    con.print(
        f"service {res['service']}: demand {_gbps(res['demand'])}, bounds delay <= {_ms(b.get('max_delay_us'))}, "
        f"jitter <= {_ms(b.get('max_jitter_us'))}; weights " + ", ".join(f"{k}={v:g}" for k, v in (res.get("weights") or {}).items())
    )
    if res["ranked"]:
        t = Table(title="instances by joint cost (cheapest first); * = figure assumed (not advertised)")
        terms = list(res["ranked"][0]["terms"])
        for col in ("#", "instance", "site", "via", "cost", *terms, "delay", "jitter", "PWR (W per Gb/s)"):
            t.add_column(col)
        for i, e in enumerate(res["ranked"]):
            cells = [f"{e['terms'][k]['cost']:.4g}{'*' if e['terms'][k]['assumed'] else ''}" for k in terms]
            f = e["figures"]
            t.add_row(
                str(i + 1),
                e["address"],
                e["site"],
                " -> ".join(e["via"]) or "(same area)",
                f"{e['cost']:.4g}",
                *cells,
                _ms(f["delay_us"]),
                _ms(f["jitter_us"]),
                f"{metric.w_per_gbps(f['pwr_sum']):.4g}",
            )
        con.print(t)
        w = res["ranked"][0]
        con.print(f"chosen: {w['address']} at {w['site']}")
        for k, term in w["terms"].items():
            con.print(
                f"  {k:<7} {term['value']:.4g} {term['unit']} x {term['weight']:g} = {term['cost']:.4g}   ({term['how']}){' [assumed]' if term['assumed'] else ''}"
            )
    if res["rejected"]:
        r = Table(title="reachable instances that break a bound")
        for col in ("instance", "site", "bound", "limit", "figure"):
            r.add_column(col)
        for e in res["rejected"]:
            for v in e["violations"]:
                unit = _ms if v["bound"] in ("max_delay", "max_jitter") else (_gbps if v["bound"] in ("capacity", "path_bandwidth") else lambda x: f"{x:.4g} W")
                r.add_row(e["address"], e["site"], v["bound"], unit(v["limit"]), unit(v["value"]))
        con.print(r)
    if res["unreachable"]:
        con.print("unreachable from here: " + ", ".join(f"{u['address']} at {u['site']}" for u in res["unreachable"]))
    for n in res.get("notes") or ():
        con.print(f"note: {n}")
    if not res["ranked"]:
        con.print(res.get("reason") or "no instance qualifies")


def cmd_service(args) -> int:
    req = Service(
        service=args.service,
        demand=metric.bps_to_Bps(parse_rate(args.demand)) if args.demand else None,
        max_delay_us=args.max_delay,
        max_jitter_us=args.max_jitter,
        weights=args.weights,
        critical=args.critical,
        k=args.k,
    )
    res = _ask(args.socket, req, timeout=30)
    if args.reserve and res["ranked"]:
        res["reserved"] = reserve_winner(args.socket, res)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        print_ranking(res)
        if res.get("reserved"):
            r = res["reserved"]
            _out().print(f"reserved {_gbps(res['demand'])} to {res['ranked'][0]['site']} as {r['id']} along {' '.join(r['route'])}")
            if r.get("no_lsp"):
                _out().print(no_lsp(r["no_lsp"]))
    return 0 if res["ranked"] else EX_NONE


def reserve_winner(sock: str, res: dict) -> dict:
    """``--reserve``: the path to the winning instance's site, set up through
    the data plane (issue 7: an SRv6 LSP carrying the site's prefixes) at the
    request's demand and within its delay and jitter bounds (issue 9 sec. 3)."""
    best, b = res["ranked"][0], res.get("bounds") or {}
    cons = {k: b[f"{k}_us"] for k in ("max_delay", "max_jitter") if b.get(f"{k}_us") is not None}
    r = pc.to_json(_ask(sock, pc.Reserve(to=best["site"], bw=float(res["demand"]), constraints=cons), timeout=60, ranking=False))  # Reserved, as JSON
    if not isinstance(r, dict) or "id" not in r:
        raise AgentError("agent: the answer to the reservation is not a reservation")
    return r


def register(sub) -> None:
    """Add this group's subcommands to the top-level parser."""
    sv = sub.add_parser("service", help="rank a service's instances by joint network + energy cost (asks the local agent)")
    sv.add_argument("service", help="service ID (CS-ID)")
    sv.add_argument("--demand", type=positive_rate_arg, help="bandwidth the request needs, e.g. 1G (default: the agent's cats.request.demand, else 1G)")
    sv.add_argument("--max-delay", type=delay_arg, help="end-to-end bound, e.g. 10ms, 500us (default 10ms; seed sec. 3.3)")
    sv.add_argument("--max-jitter", type=delay_arg, help="delay variation bound, e.g. 1ms (default 1ms; seed sec. 3.3)")
    sv.add_argument("--critical", action="store_true", help="critical traffic: 5 ms unless --max-delay says otherwise")
    sv.add_argument("--weights", type=_weights_arg, help="TERM=W,... over power, carbon, price, delay, score, load")
    sv.add_argument("-k", type=int_in(1, K_MAX), help=f"candidate paths per site, 1..{K_MAX}")
    sv.add_argument("--socket", default=_client_socket(), help="agent control socket (default $PYFRR_PWR_SOCKET)")
    sv.add_argument("--reserve", action="store_true", help="set up the path to the winner at the demand (an SRv6 LSP; see path --reserve)")
    sv.add_argument("--json", action="store_true")
    sv.set_defaults(func=cmd_service)
