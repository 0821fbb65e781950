"""``pyfrr-pwr``: the operator's command line.

Offline commands (no router needed):
  metric TOPOLOGY            every link's POWER per end and PWRLINK
  paths TOPOLOGY --from X --to Y -k K [constraints]
  decode HEX                 an LSA body, as a table or --json
  encode JSON                TLV objects (JSON list, @file or -) to hex
Tables use rich; --json prints machine-readable output instead.
Errors go to stderr, name the file/field at fault, and exit 2.
"""
from __future__ import annotations

import argparse
import json
import sys

from rich.console import Console
from rich.table import Table

from . import metric, wire
from .config import ConfigError, parse_rate

__all__ = ["main"]


def _fmt(v) -> str:
    if v is None:
        return "-"
    return f"{metric.w_per_gbps(v):.4g}"


def _out() -> Console:
    # piped output (logs, scripts) is not squeezed to 80 columns
    return Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def cmd_metric(args) -> int:
    from .offline import link_rows
    from .topology import load_topology

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


def _constraints(args) -> dict:
    c = {}
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
    return c


def cmd_paths(args) -> int:
    from .ksp import k_shortest_paths
    from .offline import build_teds, whole_graph
    from .topology import load_topology

    topo = load_topology(args.topology)
    src, dst = topo.resolve(args.src), topo.resolve(args.dst)
    teds = build_teds(topo)
    G = whole_graph(teds, args.area)
    c = _constraints(args)
    if args.exclude_node:
        c["exclude_nodes"] = [topo.resolve(n).router_id for n in args.exclude_node]
    for r in (src, dst):
        if r.router_id not in G:
            raise ConfigError(f"{args.topology}: {r.name} ({r.router_id}) has no power-aware links" + (f" in area {args.area}" if args.area else ""))
    paths = k_shortest_paths(G, src.router_id, dst.router_id, args.k, **c)
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
        print(json.dumps([wire.to_dict(t) for t in tlvs], indent=2))
        return 0
    con = _out()
    for i, t in enumerate(tlvs):
        tab = Table(title=f"TLV {i}: {type(t).__name__}", show_header=False)
        for k, v in wire.to_dict(t).items():
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
    tlvs = [wire.from_dict(d, f"{where}[{i}]") for i, d in enumerate(doc)]
    print(wire.encode(tlvs, args.profile).hex())
    return 0


DEFAULT_SOCKET = "/run/pyfrr-pwr/agent.sock"


def cmd_agent(args) -> int:
    import logging

    from .agent import run_agent

    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format=f"%(asctime)s pyfrr-pwr[{args.name or 'agent'}] %(levelname)s %(name)s: %(message)s",
        filename=args.log_file,
    )
    return run_agent(args.config, args.socket, args.api, args.name)


def agent_request(sock: str, req: dict, timeout: float = 5.0):
    """One request to a running agent's control socket."""
    import socket as so

    s = so.socket(so.AF_UNIX, so.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock)
    except OSError as exc:
        raise ConfigError(f"{sock}: no agent answers there ({exc.strerror}); is pyfrr-pwr agent running?") from None
    with s:
        s.sendall((json.dumps(req) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    rep = json.loads(buf)
    if not rep.get("ok"):
        raise ConfigError(f"agent: {rep.get('error')}")
    return rep["result"]


def cmd_show(args) -> int:
    req = {"cmd": args.what}
    if args.what == "paths":
        if not args.to:
            raise ConfigError("show paths: --to is required")
        req.update({"to": args.to, "k": args.k})
        if args.src:
            req["from"] = args.src
    if args.area:
        req["area"] = args.area
    res = agent_request(args.socket, req)
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    con = _out()
    if args.what == "links":
        t = Table(title="links advertised by this router (POWER in W per Gb/s)")
        for col in ("interface", "address", "area", "neighbor", "LS ID", "gen", "consumed", "available", "avail bw"):
            t.add_column(col)
        for l in res:
            t.add_row(l["interface"], str(l["address"] or "-"), str(l["area"] or "-"), str(l["neighbor"] or "-"), str(l["lsid"] or "-"), str(l["generation"]), _fmt(l["power_consumed"]), _fmt(l["power_available"]), f"{l['avail_bw'] / metric.GBPS:.3g}G" if l["avail_bw"] else "-")
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
    elif args.what == "paths":
        t = Table(title=f"power-shortest paths in area {res['area']}")
        for col in ("#", "path", "PWR (W per Gb/s)"):
            t.add_column(col)
        for i, p in enumerate(res["paths"]):
            t.add_row(str(i + 1), " ".join(p["nodes"]), f"{p['pwr_w_per_gbps']:.4g}")
        con.print(t)
    else:
        con.print_json(data=res)
    return 0


async def dump_lsdb(host: str, port: int, types: tuple, settle: float = 0.3) -> list:
    """Every LSA of the given types in ospfd's LSDB, through our API client."""
    import asyncio
    import time

    from . import ospfapi as api
    from .apiclient import OspfApiClient

    got: dict = {}
    last = [time.monotonic()]

    def on_msg(m):
        if isinstance(m, api.LsaUpdate):
            got[(m.area, m.header.type, m.header.lsid, m.header.adv_router)] = m
            last[0] = time.monotonic()

    cl = OspfApiClient(host, port, on_message=on_msg, name="lsdb")
    await cl.connect()
    try:
        await cl.request(api.SyncLsdb(api.LsaFilter(types, api.ORIGIN_ANY)))
        while time.monotonic() - last[0] < settle:
            await asyncio.sleep(0.05)
    finally:
        await cl.close()
    return [got[k] for k in sorted(got)]


def cmd_lsdb(args) -> int:
    import asyncio

    host, _, port = args.api.rpartition(":")
    types = tuple(int(t) for t in args.types.split(","))
    lsas = asyncio.run(dump_lsdb(host or "127.0.0.1", int(port), types))
    rows = []
    for m in lsas:
        h = m.header
        row = {"area": m.area, "type": h.type, "lsid": h.lsid, "adv_router": h.adv_router, "seq": h.seq, "length": h.length, "age": h.age, "body": m.body.hex()}
        if h.type in (9, 10, 11) and h.opaque_type == args.opaque_type:
            try:
                row["pwr"] = [wire.to_dict(t) for t in wire.decode(m.body, args.profile)]
            except wire.DecodeError as exc:
                row["pwr_error"] = str(exc)
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    t = Table(title=f"ospfd LSDB via the OSPF API ({len(rows)} LSAs of type {args.types})")
    for col in ("area", "type", "LS ID", "adv router", "seq", "len", "PWR TLVs"):
        t.add_column(col)
    for r in rows:
        pw = ", ".join(d["tlv"] for d in r.get("pwr", [])) or r.get("pwr_error", "")
        t.add_row(r["area"], str(r["type"]), r["lsid"], r["adv_router"], f"{r['seq']:#x}", str(r["length"]), pw)
    _out().print(t)
    return 0


def cmd_path(args) -> int:
    """The head-end request of draft sec. 2.2, answered by the local agent."""
    if args.release:
        res = agent_request(args.socket, {"cmd": "release", "id": args.release}, timeout=30)
        print(json.dumps(res) if args.json else f"released {res['released']}")
        return 0
    if args.to is None:
        raise ConfigError("path: give a tail-end router ID (or --release ID)")
    req = {"cmd": "path", "to": args.to, "k": args.k}
    if args.reserve:
        req = {"cmd": "reserve", "to": args.to, "k": args.k, "bw": metric.bps_to_Bps(parse_rate(args.reserve))}
    if args.min_bw:
        req["min_bandwidth"] = metric.bps_to_Bps(parse_rate(args.min_bw))
    if args.max_delay is not None:
        req["max_delay"] = args.max_delay
    if args.max_hops is not None:
        req["max_hops"] = args.max_hops
    res = agent_request(args.socket, req, timeout=30)
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    if args.reserve:
        print(f"reserved {args.reserve} as {res['id']} along {' '.join(res['route'])}")
        res = res["path"]
    b = res["best"]
    con = _out()
    con.print(f"to {res['to']}: ABR sequence {' -> '.join(b['abr_chain']) or '(same area)'}, total PWR {b['pwr_w_per_gbps']:.4g} W per Gb/s")
    t = Table(title="chosen path, by segment")
    for col in ("segment", "area", "PWR (W per Gb/s)", "hops"):
        t.add_column(col)
    t.add_row("head-end: " + " ".join(b["head_path"]), "", f"{b['segments'][0]['pwr_w_per_gbps']:.4g}", str(b["segments"][0]["hops"]))
    t.add_row(f"vector of {b['abr_chain'][0] if b['abr_chain'] else '-'}", str(b["segments"][1].get("area", "")), f"{b['segments'][1]['pwr_w_per_gbps']:.4g}", str(b["segments"][1]["hops"]))
    con.print(t)
    if len(res["ecmp"]) > 1:
        con.print(f"equal-PWR alternatives (ECMP, sec. 2.1.5): {len(res['ecmp'])}")
    r = Table(title="runners-up")
    for col in ("#", "ABR sequence", "head-end path", "PWR (W per Gb/s)"):
        r.add_column(col)
    for i, c in enumerate(res["runners_up"]):
        r.add_row(str(i + 2), " -> ".join(c["abr_chain"]), " ".join(c["head_path"]), f"{c['pwr_w_per_gbps']:.4g}")
    con.print(r)
    return 0


def lab_paths(lab, args) -> int:
    """Every TE endpoint's inter-area choice to every TE endpoint of another
    area, asked of the endpoints' agents (draft sec. 2.2)."""
    import time

    topo = lab.topo
    eps = [r for r in topo.routers.values() if r.power is not None and r.power.te_endpoint and r.router_id]
    pairs = [(h, t) for h in eps for t in eps if h is not t and not (h.areas & t.areas)]
    results: dict = {}
    end = time.monotonic() + args.timeout
    while len(results) < len(pairs) and time.monotonic() < end:
        for h, t in pairs:
            if (h.name, t.name) in results:
                continue
            try:
                results[(h.name, t.name)] = agent_request(str(lab.nodes[h.name].rundir / "agent.sock"), {"cmd": "path", "to": t.router_id})
            except (ConfigError, OSError, ValueError):
                pass
        if len(results) < len(pairs):
            time.sleep(0.5)
    if args.json:
        print(json.dumps({f"{h}->{t}": r for (h, t), r in results.items()}, indent=2))
        return 0 if len(results) == len(pairs) else 1
    name = topo.name_of
    t = Table(title=f"lab {lab.name}: inter-area power-shortest paths (W per Gb/s), chosen by each head-end from the ABRs' vectors")
    for col in ("head-end", "tail-end", "ABR sequence", "head-end path", "head PWR", "vector PWR", "total", "runners-up"):
        t.add_column(col, justify="right" if "PWR" in col or col in ("total", "runners-up") else "left")
    for h, tl in pairs:
        r = results.get((h.name, tl.name))
        if r is None:
            t.add_row(h.name, tl.name, "(no answer)", "", "", "", "", "")
            continue
        b = r["best"]
        ecmp = f" (+{len(r['ecmp']) - 1} ECMP)" if len(r["ecmp"]) > 1 else ""
        t.add_row(
            h.name,
            tl.name,
            " -> ".join(name(x) for x in b["abr_chain"]) + ecmp,
            "-".join(name(x) for x in b["head_path"]),
            f"{b['segments'][0]['pwr_w_per_gbps']:.4g}",
            f"{b['segments'][1]['pwr_w_per_gbps']:.4g}",
            f"{b['pwr_w_per_gbps']:.4g}",
            str(len(r["runners_up"])),
        )
    _out().print(t)
    missing = len(pairs) - len(results)
    if missing:
        print(f"{missing} pair(s) got no answer within {args.timeout:.0f}s", file=sys.stderr)
    return 0 if not missing else 1


def cmd_lab(args) -> int:
    import logging

    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from .lab import Lab, LabError

    logging.basicConfig(level=logging.WARNING)
    try:
        lab = Lab(args.topology, name=args.name, validate_schema=not args.no_schema)
        if args.action == "up":
            con = Console(stderr=True)
            with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=con, transient=False) as prog:
                task = prog.add_task(f"lab {lab.name}: starting", total=None)
                lab.up(agents=not args.no_agents, wait=args.wait, timeout=args.timeout, progress=lambda m: prog.update(task, description=f"lab {lab.name}: {m}"))
                prog.update(task, description=f"lab {lab.name}: up" + (" and converged" if args.wait else ""))
            return 0
        if args.action == "down":
            n = lab.down()
            print(f"lab {lab.name}: down, {n} process(es) stopped")
            return 0
        if args.action == "status":
            st = lab.status()
            if args.json:
                print(json.dumps(st, indent=2))
                return 0
            t = Table(title=f"lab {lab.name}")
            for col in ("node", "namespace", "up", "processes", "OSPF Full"):
                t.add_column(col)
            for node, s in st.items():
                procs = " ".join(f"{k}{'' if v else '(dead)'}" for k, v in s["processes"].items())
                full = f"{s['ospf_full']}/{s['ospf_expected']}" if "ospf_full" in s else "-"
                t.add_row(node, s["namespace"], "yes" if s["up"] else "no", procs or "-", full)
            _out().print(t)
            return 0
        if args.action == "paths":
            return lab_paths(lab, args)
        if args.action == "exec":
            argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
            if not argv:
                raise ConfigError("usage: pyfrr-pwr lab exec TOPOLOGY NODE -- COMMAND...")
            return lab.exec(args.node, argv).returncode
    except LabError as exc:
        print(f"pyfrr-pwr lab: {exc}", file=sys.stderr)
        return 1
    return 2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pyfrr-pwr", description="Power-aware TE for FRRouting (draft-mjsraman-rtgwg-intra-as-psp-te-leak-03)")
    sub = p.add_subparsers(dest="cmd", required=True)

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

    ag = sub.add_parser("agent", help="run the per-router agent beside ospfd")
    ag.add_argument("-c", "--config", required=True, help="power configuration YAML")
    ag.add_argument("--socket", default=DEFAULT_SOCKET, help="control socket path")
    ag.add_argument("--api", default="127.0.0.1:2607", help="ospfd API server HOST:PORT")
    ag.add_argument("--name")
    ag.add_argument("--log-file")
    ag.add_argument("--debug", action="store_true")
    ag.set_defaults(func=cmd_agent)

    sh = sub.add_parser("show", help="ask the local agent (links, ted, paths, status)")
    sh.add_argument("what", choices=["links", "ted", "paths", "status", "vectors"])
    sh.add_argument("--socket", default=DEFAULT_SOCKET)
    sh.add_argument("--to")
    sh.add_argument("--from", dest="src")
    sh.add_argument("-k", type=int, default=3)
    sh.add_argument("--area")
    sh.add_argument("--json", action="store_true")
    sh.set_defaults(func=cmd_show)

    pt = sub.add_parser("path", help="inter-area power-shortest path to a TE endpoint (asks the local agent)")
    pt.add_argument("to", nargs="?", help="tail-end router ID")
    pt.add_argument("--reserve", metavar="BW", help="reserve this bandwidth along the chosen path (e.g. 1G)")
    pt.add_argument("--release", metavar="ID", help="give a reservation back")
    pt.add_argument("-k", type=int)
    pt.add_argument("--min-bw")
    pt.add_argument("--max-delay", type=float)
    pt.add_argument("--max-hops", type=int)
    pt.add_argument("--socket", default=DEFAULT_SOCKET)
    pt.add_argument("--json", action="store_true")
    pt.set_defaults(func=cmd_path)

    ls = sub.add_parser("lsdb", help="dump ospfd's LSDB through the OSPF API (decoding PWR LSAs)")
    ls.add_argument("--api", default="127.0.0.1:2607")
    ls.add_argument("--types", default="10", help="comma-separated LSA types")
    ls.add_argument("--opaque-type", type=int, default=wire.DEFAULT_OPAQUE_TYPE)
    ls.add_argument("--profile", default="draft", choices=sorted(wire.PROFILES))
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_lsdb)

    lb = sub.add_parser("lab", help="run a containerlab topology on network namespaces (no Docker)")
    lsub = lb.add_subparsers(dest="action", required=True)
    for action, hlp in (
        ("up", "bring a lab up"),
        ("down", "stop its processes, delete its namespaces"),
        ("status", "nodes, processes, OSPF adjacencies"),
        ("exec", "run a command in a node"),
        ("paths", "every TE endpoint's inter-area path to the endpoints of other areas"),
    ):
        a = lsub.add_parser(action, help=hlp)
        a.add_argument("topology")
        a.add_argument("--name", help="lab name (default: the topology's)")
        a.add_argument("--no-schema", action="store_true", help="skip containerlab schema validation (files newer than the schema)")
        if action == "up":
            a.add_argument("--wait", action="store_true", help="return once OSPF has converged")
            a.add_argument("--timeout", type=float, default=60.0)
            a.add_argument("--no-agents", action="store_true")
        if action in ("status", "paths"):
            a.add_argument("--json", action="store_true")
        if action == "paths":
            a.add_argument("--timeout", type=float, default=60.0)
        if action == "exec":
            a.add_argument("node")
            a.add_argument("argv", nargs=argparse.REMAINDER, help="-- COMMAND ARGS...")
        a.set_defaults(func=cmd_lab)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConnectionError as exc:
        print(f"pyfrr-pwr {args.cmd}: {exc}", file=sys.stderr)
        return 1
    except (ConfigError, wire.DecodeError) as exc:
        print(f"pyfrr-pwr: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"pyfrr-pwr {args.cmd}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
