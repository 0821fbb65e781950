"""Offline commands (no router needed): metric, paths, decode, encode."""
from __future__ import annotations

import json
import sys

from rich.table import Table

from pyfrr_pwr.cli.render import console as _out
from pyfrr_pwr.cli.render import fmt as _fmt
from pyfrr_pwr.files.power import ConfigError, parse_rate
from pyfrr_pwr.model import metric
from pyfrr_pwr.model.constraints import Constraints
from pyfrr_pwr.proto import wire, wirejson


def cmd_metric(args) -> int:
    from pyfrr_pwr.files.topology import load_topology
    from pyfrr_pwr.offline.pipeline import link_rows

    topo = load_topology(args.topology)
    rows = link_rows(topo)
    if args.json:
        out = []
        for r in rows:
            ends = []
            for e in (r.a, r.b):
                ends.append(
                    None
                    if e is None
                    else {
                        "router": e.router,
                        "interface": e.ifname,
                        "line_card": e.line_card,
                        "port": e.port,
                        "power_consumed": e.consumed,
                        "power_available": e.available,
                        "power": e.effective,
                        "avail_bw": e.avail_Bps,
                        "max_bw": e.max_Bps,
                    }
                )
            out.append({"link": r.label, "area": r.area, "ends": ends, "pwrlink": r.pwrlink, "units": "W per byte/s"})
        print(json.dumps(out, indent=2))
        return 0
    t = Table(title=f"{topo.name}: POWER per port end and PWRLINK, W per Gb/s of available bandwidth")
    for c in ("link", "area", "end", "card/port", "consumed", "available", "POWER", "avail bw", "PWRLINK"):
        t.add_column(c, justify="left" if c in ("link", "area", "end", "card/port") else "right")
    for r in rows:
        for i, e in enumerate((r.a, r.b)):
            first = i == 0
            if e is None:
                t.add_row(r.label if first else "", (r.area or "-") if first else "", "-", "", "", "", "", "", _fmt(r.pwrlink) if first else "")
                continue
            t.add_row(
                r.label if first else "",
                (r.area or "-") if first else "",
                f"{e.router}:{e.ifname}",
                f"{e.line_card}/{e.port}" if e.line_card else "-",
                _fmt(e.consumed),
                _fmt(e.available),
                _fmt(e.effective),
                f"{e.avail_Bps / metric.GBPS:.3g}G",
                _fmt(r.pwrlink) if first else "",
                end_section=not first,
            )
    _out().print(t)
    return 0


def _constraints(args, exclude_nodes=()) -> Constraints:
    c: dict = {"exclude_nodes": tuple(exclude_nodes)}
    if args.min_bw is not None:
        c["min_bandwidth"] = metric.bps_to_Bps(parse_rate(args.min_bw))
    if args.max_hops is not None:
        c["max_hops"] = args.max_hops
    if args.max_delay is not None:
        c["max_delay"] = args.max_delay
    for k in ("include_any", "include_all", "exclude"):
        v = getattr(args, k)
        if v is not None:
            c[f"admin_{k}"] = int(v, 0)
    return Constraints(**c)


def cmd_paths(args) -> int:
    from pyfrr_pwr.files.topology import load_topology
    from pyfrr_pwr.offline.pipeline import build_teds, whole_graph
    from pyfrr_pwr.paths.ksp import k_shortest_paths

    topo = load_topology(args.topology)
    src, dst = topo.resolve(args.src), topo.resolve(args.dst)
    teds = build_teds(topo)
    G = whole_graph(teds, args.area)
    c = _constraints(args, [topo.resolve(n).router_id for n in args.exclude_node or ()])
    for r in (src, dst):
        if r.router_id not in G:
            raise ConfigError(f"{args.topology}: {r.name} ({r.router_id}) has no power-aware links" + (f" in area {args.area}" if args.area else ""))
    paths = k_shortest_paths(G, src.router_id, dst.router_id, args.k, c)
    name = topo.name_of
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "rank": i + 1,
                        "pwr": p.cost,
                        "pwr_w_per_gbps": metric.w_per_gbps(p.cost),
                        "nodes": [name(n) for n in p.nodes],
                        "router_ids": list(p.nodes),
                        "links": [{"from": name(u), "to": name(v), "local_addr": k} for u, v, k in p.edges],
                        "min_avail_bw": min((G.edges[e]["avail_bw"] for e in p.edges), default=None),
                        "delay_us": sum(G.edges[e]["delay"] for e in p.edges),
                    }
                    for i, p in enumerate(paths)
                ],
                indent=2,
            )
        )
        return 0 if paths else 1
    if not paths:
        print(f"no path from {src.name} to {dst.name} satisfies the constraints", file=sys.stderr)
        return 1
    t = Table(title=f"{topo.name}: {len(paths)} power-shortest path(s) {src.name} -> {dst.name}" + (f", area {args.area}" if args.area else ""))
    t.add_column("#", justify="right")
    t.add_column("path")
    t.add_column("hops", justify="right")
    t.add_column("PWR (W per Gb/s)", justify="right")
    t.add_column("min avail", justify="right")
    for i, p in enumerate(paths):
        mbw = min((G.edges[e]["avail_bw"] for e in p.edges), default=float("inf"))
        t.add_row(str(i + 1), "-".join(name(n) for n in p.nodes), str(len(p.edges)), f"{metric.w_per_gbps(p.cost):.4g}", f"{mbw / metric.GBPS:.3g}G")
    _out().print(t)
    return 0


def cmd_decode(args) -> int:
    h = "".join(args.hex).replace(" ", "").replace(":", "")
    if h.startswith(("0x", "0X")):
        h = h[2:]
    try:
        body = bytes.fromhex(h)
    except ValueError as exc:
        raise ConfigError(f"HEX: {exc}") from None
    tlvs = wire.decode(body, args.profile)
    if args.json:
        print(json.dumps([wirejson.to_dict(t) for t in tlvs], indent=2))
        return 0
    con = _out()
    for i, t in enumerate(tlvs):
        tab = Table(title=f"TLV {i}: {type(t).__name__}", show_header=False)
        for k, v in wirejson.to_dict(t).items():
            if k == "tlv":
                continue
            if k.startswith("pwr_") and isinstance(v, float):
                v = f"{v:.6g} W/(B/s) = {metric.w_per_gbps(v):.4g} W per Gb/s"
            tab.add_row(k, str(v))
        con.print(tab)
    return 0


def cmd_encode(args) -> int:
    src = args.json_in
    where = "JSON"
    if src == "-":
        text = sys.stdin.read()
        where = "<stdin>"
    elif src.startswith("@"):
        where = src[1:]
        try:
            text = open(where).read()
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read: {exc.strerror}") from None
    else:
        text = src
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}:{exc.lineno}:{exc.colno}: {exc.msg}") from None
    if isinstance(doc, dict):
        doc = [doc]
    if not isinstance(doc, list):
        raise ConfigError(f"{where}: expected a TLV object or a list of them")
    tlvs = [wirejson.from_dict(d, f"{where}[{i}]") for i, d in enumerate(doc)]
    print(wire.encode(tlvs, args.profile).hex())
    return 0


def register(sub) -> None:
    """Add this group's subcommands to the top-level parser."""

    m = sub.add_parser("metric", help="POWER per port and PWRLINK of every link")
    m.add_argument("topology")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_metric)

    pa = sub.add_parser("paths", help="k power-shortest paths between two routers")
    pa.add_argument("topology")
    pa.add_argument("--from", dest="src", required=True, help="node name or router ID")
    pa.add_argument("--to", dest="dst", required=True)
    pa.add_argument("-k", type=int, default=3)
    pa.add_argument("--area", help="one area's TED (default: all areas, offline central view)")
    pa.add_argument("--min-bw", help="minimum available bandwidth per link, e.g. 2G")
    pa.add_argument("--max-hops", type=int)
    pa.add_argument("--max-delay", type=float, help="microseconds")
    pa.add_argument("--include-any", help="admin-group mask, e.g. 0x3")
    pa.add_argument("--include-all")
    pa.add_argument("--exclude")
    pa.add_argument("--exclude-node", action="append")
    pa.add_argument("--json", action="store_true")
    pa.set_defaults(func=cmd_paths)

    d = sub.add_parser("decode", help="decode a PWR LSA body given in hex")
    d.add_argument("hex", nargs="+")
    d.add_argument("--profile", default="draft", choices=sorted(wire.PROFILES))
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=cmd_decode)

    e = sub.add_parser("encode", help="encode TLVs given as JSON (text, @file or -) to hex")
    e.add_argument("json_in", metavar="JSON")
    e.add_argument("--profile", default="draft", choices=sorted(wire.PROFILES))
    e.set_defaults(func=cmd_encode)
