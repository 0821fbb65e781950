"""Commands that run or ask the local agent: agent, show, path."""

from __future__ import annotations

import json
import os

from rich.table import Table

from pyfrr_pwr.cli.offline import HOPS_MAX, K_MAX, api_arg, area_arg, delay_arg, int_in, positive_rate_arg, rate_arg
from pyfrr_pwr.cli.render import console as _out
from pyfrr_pwr.cli.render import fmt as _fmt
from pyfrr_pwr.cli.render import no_lsp
from pyfrr_pwr.files.power import ConfigError, parse_rate
from pyfrr_pwr.model import metric
from pyfrr_pwr.proto import control as pc
from pyfrr_pwr.proto.control import AgentError

__all__ = ["AgentError", "agent_request", "register"]

DEFAULT_SOCKET = "/run/pyfrr-pwr/agent.sock"


def _client_socket() -> str:
    """Where `show` and `path` find the agent: $PYFRR_PWR_SOCKET (set by
    `lab exec` for that node's agent), else the router's default."""
    return os.environ.get("PYFRR_PWR_SOCKET") or DEFAULT_SOCKET


def cmd_agent(args) -> int:
    import logging

    from pyfrr_pwr.agent.daemon import run_agent

    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format=f"%(asctime)s pyfrr-pwr[{args.name or 'agent'}] %(levelname)s %(name)s: %(message)s",
        filename=args.log_file,
    )
    return run_agent(args.config, args.socket, args.api, args.name)


class AgentUnreachable(AgentError):
    """No agent answers on the control socket (nothing listens there)."""


def agent_request(sock: str, req, timeout: float = 5.0):
    """One request to a running agent's control socket.

    ``req`` is a typed message (``proto.control``): the result comes back
    typed where its kind has a result type. Or a dict of the same JSON
    (``{"cmd": "path", "to": ...}``), checked the same way: the result comes
    back as plain JSON. Raises ``AgentError`` when the agent refuses or none
    answers, ``proto.control.ProtocolError`` for a malformed request."""
    import socket as so

    msg = pc.from_json(req, pc.CONTROL) if isinstance(req, dict) else req
    s = so.socket(so.AF_UNIX, so.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock)
    except OSError as exc:
        raise AgentUnreachable(f"{sock}: no agent answers there ({exc.strerror}); is pyfrr-pwr agent running?") from None
    with s:
        s.sendall(pc.encode(msg))
        buf = b""
        try:
            while not buf.endswith(b"\n") and len(buf) < 1 << 24:  # no answer is 16 MiB
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        except TimeoutError:
            raise AgentError(f"{sock}: the agent did not answer within {timeout:g} s") from None
    if not buf:
        raise AgentError(f"{sock}: the agent closed the connection without an answer")
    rep = pc.decode(buf, pc.REPLY)
    if not rep.ok:
        raise AgentError(f"agent: {rep.error}")
    return rep.result if isinstance(req, dict) else pc.result_of(msg, rep)


def _show_request(args):
    if args.what == "paths":
        if not args.to:
            raise ConfigError("show paths: --to is required")
        return pc.Paths(to=args.to, src=args.src, k=args.k, area=args.area)
    if args.what == "ted":
        return pc.Ted(area=args.area)
    return {"links": pc.Links, "status": pc.Status, "vectors": pc.Vectors, "lsps": pc.Lsps}[args.what]()


def cmd_show(args) -> int:
    res = agent_request(args.socket, _show_request(args))
    if args.json:
        print(json.dumps(pc.to_json(res), indent=2))
        return 0
    con = _out()
    if args.what == "links":
        t = Table(title="links advertised by this router (POWER in W per Gb/s)")
        for col in ("interface", "address", "area", "neighbor", "LS ID", "gen", "consumed", "available", "avail bw"):
            t.add_column(col)
        for l in res:
            t.add_row(
                l["interface"],
                str(l["address"] or "-"),
                str(l["area"] or "-"),
                str(l["neighbor"] or "-"),
                str(l["lsid"] or "-"),
                str(l["generation"]),
                _fmt(l["power_consumed"]),
                _fmt(l["power_available"]),
                f"{l['avail_bw'] / metric.GBPS:.3g}G" if l["avail_bw"] else "-",
            )
        con.print(t)
    elif args.what == "ted":
        for area, d in res.items():
            t = Table(title=f"area {area}: TE database (PWRLINK in W per Gb/s)")
            for col in ("from", "to", "local", "LS ID", "gen", "POWER near", "PWRLINK", "one-sided"):
                t.add_column(col)
            for l in d["links"]:
                near = metric.effective_metric(l["power_consumed"], l["power_available"])
                t.add_row(l["from"], l["to"], str(l["local"]), l["lsid"], str(l["generation"]), _fmt(near), _fmt(l["pwrlink"]), "yes" if l["one_sided"] else "")
            con.print(t)
            con.print(f"TE endpoints: {', '.join(d['endpoints']) or '-'}; area border routers: {', '.join(d['area_borders']) or '-'}")
    elif args.what == "lsps":
        print_lsps(res)
    elif args.what == "paths":
        t = Table(title=f"power-shortest paths in area {res.area}")
        for col in ("#", "path", "PWR (W per Gb/s)"):
            t.add_column(col)
        for i, p in enumerate(res.paths):
            t.add_row(str(i + 1), " ".join(p.nodes), f"{p.pwr_w_per_gbps:.4g}")
        con.print(t)
    else:
        con.print_json(data=res)
    return 0


def cmd_path(args) -> int:
    """The head-end request of draft sec. 2.2, answered by the local agent."""
    if args.release:
        rel = agent_request(args.socket, pc.Release(id=args.release), timeout=30)
        print(json.dumps(rel.to_json()) if args.json else f"released {rel.id}")
        return 0
    if args.to is None:
        raise ConfigError("path: give a tail-end router ID (or --release ID)")
    cons = {}
    if args.min_bw:
        cons["min_bandwidth"] = metric.bps_to_Bps(parse_rate(args.min_bw))
    if args.max_delay is not None:
        cons["max_delay"] = args.max_delay
    if args.max_jitter is not None:
        cons["max_jitter"] = args.max_jitter
    if args.max_hops is not None:
        cons["max_hops"] = args.max_hops
    if args.prefix and not args.reserve:
        raise ConfigError("path: --prefix needs --reserve (it names what the LSP carries)")
    if (args.backup or args.ecmp) and not args.reserve:
        raise ConfigError("path: --backup and --ecmp need --reserve (they shape the LSP)")
    if args.reserve:
        extra = {}
        if args.ecmp:  # draft sec. 2.1.5: the equal-PWR set as one weighted multipath route
            import dataclasses

            if "ecmp" not in {f.name for f in dataclasses.fields(pc.Reserve)}:
                raise ConfigError("path: --ecmp needs an agent whose control protocol has Reserve.ecmp (or set agent.lsp.ecmp: true)")
            extra["ecmp"] = True
        req = pc.Reserve(
            to=args.to,
            bw=metric.bps_to_Bps(parse_rate(args.reserve)),
            k=args.k,
            prefixes=tuple(args.prefix or ()),
            backup=args.backup,
            constraints=cons,
            **extra,
        )
    else:
        req = pc.Path(to=args.to, k=args.k, constraints=cons)
    res = agent_request(args.socket, req, timeout=30)
    if args.json:
        print(json.dumps(res.to_json(), indent=2))
        return 0
    if args.reserve:
        print(f"reserved {args.reserve} as {res.id} along {' '.join(res.route)}")
        if res.no_lsp:
            print(no_lsp(res.no_lsp))
        if res.lsp:
            for leg in res.lsp["legs"]:
                for p, segs in leg["segs"].items():
                    print(f"LSP {res.id}: {p} encap seg6 segs {','.join(segs)} dev {leg['dev']}")
        res = res.path
    print_choice(res)
    return 0


def print_lsps(res: dict) -> None:
    """The head-end's LSPs (issue 7) and the binding SIDs held here."""
    con = _out()
    t = Table(title="LSPs headed here (SRv6; PWR in W per Gb/s)")
    for col in ("ID", "tail", "state", "role", "route", "SID list", "bandwidth", "PWR now / set-up", "liveness", "packets", "bytes"):
        t.add_column(col)
    for l in res.get("lsps", []):
        pw = lambda v: "-" if v is None else f"{metric.w_per_gbps(v):.4g}"  # noqa: E731
        for leg in l["legs"] or [{}]:
            segs = "; ".join(f"{p}: {','.join(s)}" for p, s in (leg.get("segs") or {}).items())
            role = leg.get("role") or "-"
            if role == "backup":  # draft sec. 2.1.5 / issue 7 sec. 4: how disjoint it is
                extra = [l.get("backup_disjoint") or "none"]
                if l.get("backup_srlg") is not None:
                    extra.append("srlg" if l["backup_srlg"] else "shares srlg")
                if l.get("backup_trap"):
                    extra.append("trap")
                role = f"backup ({', '.join(extra)}-disjoint)" if extra[0] != "none" else "backup (not disjoint)"
            live = ((l.get("liveness") or {}).get(leg.get("role") or "") or {}) if leg else {}
            lv = "-" if not live else f"{live.get('state')}" + (f" {live['rtt_ms']:.3g} ms" if live.get("rtt_ms") is not None else "")
            t.add_row(
                l["id"],
                l["tail"],
                f"{l['state']} ({l['active'] or '-'})",
                role,
                " ".join(leg.get("route") or []) or "-",
                segs or "-",
                f"{l['bandwidth'] * 8 / metric.GBPS:.3g}G",
                f"{pw(l['pwr_now'])} / {pw(l['pwr_setup'])}",
                lv,
                "-" if leg.get("packets") is None else str(leg["packets"]),
                "-" if leg.get("bytes") is None else str(leg["bytes"]),
            )
    con.print(t)
    if res.get("bindings"):
        b = Table(title="binding SIDs held here (End.B6.Encaps, one per LSP segment)")
        for col in ("reservation", "SID", "segments", "packets"):
            b.add_column(col)
        for rid, d in res["bindings"].items():
            b.add_row(rid, d["sid"], ",".join(d["segs"]), "-" if d["packets"] is None else str(d["packets"]))
        con.print(b)


def print_choice(res: pc.PathChoice) -> None:
    """A head-end's choice: the best by segment, its ECMP set, runners-up."""
    b = res.best
    con = _out()
    con.print(f"to {res.to}: ABR sequence {' -> '.join(b.abr_chain) or '(same area)'}, total PWR {b.pwr_w_per_gbps:.4g} W per Gb/s")
    t = Table(title="chosen path, by segment")
    for col in ("segment", "area", "PWR (W per Gb/s)", "hops"):
        t.add_column(col)
    t.add_row("head-end: " + " ".join(b.head_path), "", f"{b.head.pwr_w_per_gbps:.4g}", str(b.head.hops))
    t.add_row(f"vector of {b.abr_chain[0] if b.abr_chain else '-'}", b.vector.area or "", f"{b.vector.pwr_w_per_gbps:.4g}", str(b.vector.hops))
    con.print(t)
    if len(res.ecmp) > 1:
        con.print(f"equal-PWR alternatives (ECMP, sec. 2.1.5): {len(res.ecmp)}")
    r = Table(title="runners-up")
    for col in ("#", "ABR sequence", "head-end path", "PWR (W per Gb/s)"):
        r.add_column(col)
    for i, c in enumerate(res.runners_up):
        r.add_row(str(i + 2), " -> ".join(c.abr_chain), " ".join(c.head_path), f"{c.pwr_w_per_gbps:.4g}")
    con.print(r)


def register(sub) -> None:
    """Add this group's subcommands to the top-level parser."""
    ag = sub.add_parser("agent", help="run the per-router agent beside ospfd")
    ag.add_argument("-c", "--config", required=True, help="power configuration YAML")
    ag.add_argument("--socket", default=DEFAULT_SOCKET, help="control socket path")
    ag.add_argument("--api", type=api_arg, default="127.0.0.1:2607", help="ospfd API server HOST:PORT")
    ag.add_argument("--name")
    ag.add_argument("--log-file")
    ag.add_argument("--debug", action="store_true")
    ag.set_defaults(func=cmd_agent)

    sh = sub.add_parser("show", help="ask the local agent (links, ted, paths, status, vectors, lsps)")
    sh.add_argument("what", choices=["links", "ted", "paths", "status", "vectors", "lsps"])
    sh.add_argument("--socket", default=_client_socket(), help="agent control socket (default $PYFRR_PWR_SOCKET or %(default)s)")
    sh.add_argument("--to")
    sh.add_argument("--from", dest="src")
    sh.add_argument("-k", type=int_in(1, K_MAX), default=3, help=f"1..{K_MAX}")
    sh.add_argument("--area", type=area_arg)
    sh.add_argument("--json", action="store_true")
    sh.set_defaults(func=cmd_show)

    pt = sub.add_parser("path", help="inter-area power-shortest path to a TE endpoint (asks the local agent)")
    pt.add_argument("to", nargs="?", help="tail-end router ID")
    pt.add_argument("--reserve", metavar="BW", type=positive_rate_arg, help="reserve this bandwidth along the chosen path (e.g. 1G)")
    pt.add_argument("--prefix", action="append", metavar="P", help="IPv4 prefix the LSP carries (repeat; default: what the tail-end serves)")
    pt.add_argument("--backup", action="store_true", help="with --reserve: a disjoint backup path, pre-installed at a worse metric")
    pt.add_argument("--ecmp", action="store_true", help="with --reserve: the equal-PWR alternatives as a weighted (UCMP) multipath route")
    pt.add_argument("--release", metavar="ID", help="give a reservation (or LSP) back: routes, SIDs and bookings along the path")
    pt.add_argument("-k", type=int_in(1, K_MAX), help=f"1..{K_MAX} (default: the agent's ksp.k)")
    pt.add_argument("--min-bw", type=rate_arg)
    pt.add_argument("--max-delay", type=delay_arg, help="end-to-end delay bound: 10ms, 500us, or microseconds")
    pt.add_argument("--max-jitter", type=delay_arg, help="delay-variation bound (RFC 7471 sec. 4.3), e.g. 1ms")
    pt.add_argument("--max-hops", type=int_in(0, HOPS_MAX))
    pt.add_argument("--socket", default=_client_socket(), help="agent control socket (default $PYFRR_PWR_SOCKET or %(default)s)")
    pt.add_argument("--json", action="store_true")
    pt.set_defaults(func=cmd_path)
