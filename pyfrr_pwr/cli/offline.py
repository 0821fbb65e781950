"""Offline commands (no router needed): metric, paths, decode, encode.

Also the argument types every command group uses (``int_in``, ``rate_arg``,
``api_arg``...): a bad value is argparse's usage error (exit 2) naming the
option, before any work is done.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import struct
import sys

from rich.table import Table

from pyfrr_pwr.cli.render import console as _out
from pyfrr_pwr.cli.render import fmt as _fmt
from pyfrr_pwr.files import yamlsafe
from pyfrr_pwr.files.power import ConfigError, parse_api, parse_rate
from pyfrr_pwr.model import metric
from pyfrr_pwr.model.constraints import Constraints
from pyfrr_pwr.proto import wire, wirejson

K_MAX = 1024  # as the config's ksp.k
HOPS_MAX = 65535  # a path's hop count is 16 bits on the wire
MAX_JSON_BYTES = 1 << 20
MAX_JSON_DEPTH = 32

# -- argument types -------------------------------------------------------------


def _bad(msg: str):
    return argparse.ArgumentTypeError(msg)


def int_in(lo: int, hi: int):
    """An argparse type: a decimal integer lo..hi."""

    def conv(s: str) -> int:
        t = s.strip()
        if len(t) > 20 or not re.fullmatch(r"[-+]?[0-9]+", t) or not lo <= int(t) <= hi:
            raise _bad(f"must be an integer from {lo} to {hi}, got {yamlsafe._quote(s)}")
        return int(t)

    conv.__name__ = "integer"
    return conv


def finite_float(s: str) -> float:
    """An argparse type: a finite number >= 0."""
    try:
        v = float(s)
    except ValueError:
        v = math.nan
    if not (math.isfinite(v) and v >= 0):
        raise _bad(f"must be a finite number >= 0, got {yamlsafe._quote(s)}")
    return v


def rate_arg(s: str) -> str:
    """An argparse type: a rate (10G, 2.5G, 1e9), finite and >= 0; kept as given."""
    try:
        parse_rate(s)
    except ValueError as exc:
        raise _bad(str(exc)) from None
    return s


def positive_rate_arg(s: str) -> str:
    rate_arg(s)
    if not parse_rate(s) > 0:
        raise _bad(f"must be a rate > 0, got {yamlsafe._quote(s)}")
    return s


def delay_arg(s: str) -> float:
    """An argparse type: a delay like 10ms, 500us, 0.001s, or a bare number
    of microseconds (RFC 7471's unit) -> microseconds."""
    from pyfrr_pwr.cats.service import parse_delay

    try:
        x = float(s)
    except ValueError:
        x = 0.0
    if not math.isfinite(x):
        raise _bad(f"must be a finite delay >= 0, got {yamlsafe._quote(s)}")
    try:
        return parse_delay(s)
    except ValueError as exc:
        raise _bad(str(exc)) from None


def mask_arg(s: str) -> int:
    """An argparse type: a 32-bit admin-group mask (0x3, 5, 0b101)."""
    try:
        v = int(s, 0) if len(s) <= 40 else -1
    except ValueError:
        v = -1
    if not 0 <= v <= 0xFFFFFFFF:
        raise _bad(f"must be a 32-bit mask like 0x3, got {yamlsafe._quote(s)}")
    return v


def area_arg(s: str) -> str:
    """An argparse type: an OSPF area ID (0.0.0.1 or 1), as a dotted quad."""
    from pyfrr_pwr.files.topology import _area

    try:
        return _area(s)
    except ValueError as exc:
        raise _bad(str(exc)) from None


def api_arg(s: str) -> str:
    """An argparse type: HOST:PORT, port 1..65535; kept as given."""
    try:
        parse_api(s)
    except ValueError as exc:
        raise _bad(str(exc)) from None
    return s


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
    if getattr(args, "max_jitter", None) is not None:
        c["max_jitter"] = args.max_jitter
    for k in ("include_any", "include_all", "exclude"):
        v = getattr(args, k)
        if v is not None:
            c[f"admin_{k}"] = v  # mask_arg: already an int
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


def _json_too_deep(text: str) -> int | None:
    """Offset of the first bracket nested deeper than MAX_JSON_DEPTH, if
    any (json.loads recurses: a deep document is a RecursionError)."""
    depth, in_str, skip = 0, False, -1
    for m in re.finditer(r'[\[\]{}"\\]', text):
        pos, c = m.start(), m.group()
        if pos == skip:
            continue
        if in_str:
            if c == "\\":
                skip = pos + 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return pos
        elif c in "]}":
            depth -= 1
    return None


_JTYPE = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "an object", type(None): "null"}


def _jtype(v) -> str:
    return _JTYPE.get(type(v), type(v).__name__)


_WANT = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false", "tuple": "a list", "bytes": "a hex string", "None": "null"}
# element kinds of list fields: Node Energy's "sources" are [id, name] pairs,
# a Service Instance's "l0" its level-0 metrics (issue 9; docs/wire-format.md)
_ELEMENTS = {
    "local_addrs": "str",
    "remote_addrs": "str",
    "abr_chain": "str",
    "areas": "str",
    "paths": "PathInfo",
    "unknown": "pair",
    "l0": "L0Metric",
    "sources": "source",
}


def _check_value(v, ann: str, name: str, where: str) -> None:
    alts = [a.strip() for a in ann.split("|")]
    ok = (
        (v is None and "None" in alts)
        or (isinstance(v, bool) and "bool" in alts)
        or (type(v) is int and ("int" in alts or "float" in alts))
        or (type(v) is float and "float" in alts)
        or (isinstance(v, str) and ("str" in alts or "bytes" in alts))
        or (isinstance(v, list) and "tuple" in alts)
        or (isinstance(v, dict) and ("Fragment" in alts or "Reading" in alts))
    )
    if not ok:
        want = " or ".join(_WANT.get(a, "an object") for a in alts)
        raise ConfigError(f"{where}: must be {want}, not {_jtype(v)}")
    if isinstance(v, dict):  # a Node Energy figure (Reading) or an SRv6 fragment
        _check_fields(v, wire.Reading if "Reading" in alts else wire.Fragment, where)
    elif isinstance(v, list):
        el = _ELEMENTS.get(name)
        for i, x in enumerate(v):
            w = f"{where}[{i}]"
            if el == "str" and not isinstance(x, str):
                raise ConfigError(f"{w}: must be a string (an IPv4 address), not {_jtype(x)}")
            if el in ("PathInfo", "L0Metric"):
                if not isinstance(x, dict):
                    raise ConfigError(f"{w}: must be an object ({'a path' if el == 'PathInfo' else 'a level-0 metric'}), not {_jtype(x)}")
                _check_fields(x, wire.PathInfo if el == "PathInfo" else wire.L0Metric, w)
            if el == "source" and not (isinstance(x, list) and len(x) == 2 and type(x[0]) is int and isinstance(x[1], str)):
                raise ConfigError(f"{w}: must be an [id, name] pair, not {yamlsafe._quote(x)}")
            if el == "pair" and not (isinstance(x, list) and len(x) == 2 and type(x[0]) is int and isinstance(x[1], str)):
                raise ConfigError(f"{w}: must be a [type, hex] pair, not {yamlsafe._quote(x)}")


def _check_fields(d: dict, cls, where: str) -> None:
    """JSON types of an object's fields, against the TLV dataclass (wire's
    own checks come after: ranges, addresses)."""
    fields = cls.__dataclass_fields__
    for k, v in d.items():
        if k in fields:
            f = fields[k]
            ann = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
            _check_value(v, ann, k, f"{where}.{k}")


def _named(where: str, exc: Exception) -> str:
    """``where`` joined to a message that may start with the field's name."""
    msg = str(exc)
    if msg.startswith(where):
        return msg
    if re.match(r"[a-z_][a-z_0-9]*(?:\[\d+\])?(?:\.[a-z_][a-z_0-9]*)*: ", msg):
        return f"{where}.{msg}"
    return f"{where}: {msg}"


def _read_json_text(src: str) -> tuple[str, str]:
    if src == "-":
        text = sys.stdin.read(MAX_JSON_BYTES + 1)
        where = "<stdin>"
    elif src.startswith("@"):
        where = src[1:]
        from pathlib import Path

        text = yamlsafe.decode_utf8(yamlsafe.read_bytes(Path(where), MAX_JSON_BYTES, "TLV list"), where)
    else:
        text, where = src, "JSON"
    if len(text) > MAX_JSON_BYTES:
        raise ConfigError(f"{where}: more than {MAX_JSON_BYTES >> 20} MiB of JSON")
    return text, where


def cmd_encode(args) -> int:
    text, where = _read_json_text(args.json_in)
    deep = _json_too_deep(text)
    if deep is not None:
        line = text.count("\n", 0, deep) + 1
        col = deep - (text.rfind("\n", 0, deep) + 1) + 1
        raise ConfigError(f"{where}:{line}:{col}: nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}:{exc.lineno}:{exc.colno}: {exc.msg}") from None
    except ValueError as exc:  # an integer of more than sys.get_int_max_str_digits() digits
        raise ConfigError(f"{where}: a number with too many digits ({str(exc)[:60]})") from None
    except RecursionError:
        raise ConfigError(f"{where}: nested too deeply") from None
    if isinstance(doc, dict):
        doc = [doc]
    if not isinstance(doc, list):
        raise ConfigError(f"{where}: expected a TLV object or a list of them")
    kinds = getattr(wirejson, "_KINDS", {})
    tlvs = []
    for i, d in enumerate(doc):
        w = f"{where}[{i}]"
        if not isinstance(d, dict) or "tlv" not in d:
            raise ConfigError(f"{w}: expected an object with a 'tlv' field, not {_jtype(d)}")
        if not isinstance(d["tlv"], str):
            raise ConfigError(f"{w}.tlv: must be a string (one of {', '.join(sorted(kinds))}), not {_jtype(d['tlv'])}")
        if d["tlv"] in kinds:
            _check_fields(d, kinds[d["tlv"]], w)
        try:  # wirejson and wire name the field; what they let through is caught here
            t = wirejson.from_dict(d, w)
            wire.encode([t], args.profile)
        except (TypeError, ValueError, struct.error, OverflowError, KeyError, AttributeError) as exc:
            raise ConfigError(_named(w, exc)) from None
        tlvs.append(t)
    try:
        body = wire.encode(tlvs, args.profile)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    print(body.hex())
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
    pa.add_argument("-k", type=int_in(1, K_MAX), default=3, help=f"1..{K_MAX}")
    pa.add_argument("--area", type=area_arg, help="one area's TED (default: all areas, offline central view)")
    pa.add_argument("--min-bw", type=rate_arg, help="minimum available bandwidth per link, e.g. 2G")
    pa.add_argument("--max-hops", type=int_in(0, HOPS_MAX))
    pa.add_argument("--max-delay", type=delay_arg, help="delay bound: 10ms, 500us, or microseconds")
    pa.add_argument("--max-jitter", type=delay_arg, help="delay-variation bound (RFC 7471 sec. 4.3), e.g. 1ms")
    pa.add_argument("--include-any", type=mask_arg, help="admin-group mask, e.g. 0x3")
    pa.add_argument("--include-all", type=mask_arg)
    pa.add_argument("--exclude", type=mask_arg)
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
