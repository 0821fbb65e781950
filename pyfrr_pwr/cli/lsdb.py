"""``lsdb``: ospfd's LSDB through our OSPF API client, PWR LSAs decoded."""

from __future__ import annotations

import json

from rich.table import Table

from pyfrr_pwr.cli.offline import _bad, api_arg, int_in
from pyfrr_pwr.cli.render import console as _out
from pyfrr_pwr.files.power import parse_api
from pyfrr_pwr.proto import wire, wirejson


def types_arg(s: str) -> tuple:
    """An argparse type: comma-separated LSA types 1..255."""
    parts = s.split(",")
    if len(s) > 200 or not all(p.strip().isascii() and p.strip().isdigit() and 1 <= int(p) <= 255 for p in parts):
        raise _bad(f"must be comma-separated LSA types 1..255, got {s[:40]!r}")
    return tuple(int(p) for p in parts)


async def dump_lsdb(host: str, port: int, types: tuple, settle: float = 0.3) -> list:
    """Every LSA of the given types in ospfd's LSDB, through our API client."""
    import asyncio
    import time

    from pyfrr_pwr.agent.apiclient import OspfApiClient
    from pyfrr_pwr.proto import ospfapi as api

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

    host, port = parse_api(args.api)  # api_arg checked it
    types = args.types if isinstance(args.types, tuple) else types_arg(args.types)
    lsas = asyncio.run(dump_lsdb(host, port, types))
    rows = []
    for m in lsas:
        h = m.header
        row = {"area": m.area, "type": h.type, "lsid": h.lsid, "adv_router": h.adv_router, "seq": h.seq, "length": h.length, "age": h.age, "body": m.body.hex()}
        if h.type in (9, 10, 11) and h.opaque_type == args.opaque_type:
            try:
                row["pwr"] = [wirejson.to_dict(t) for t in wire.decode(m.body, args.profile)]
            except wire.DecodeError as exc:
                row["pwr_error"] = str(exc)
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    t = Table(title=f"ospfd LSDB via the OSPF API ({len(rows)} LSAs of type {','.join(map(str, types))})")
    for col in ("area", "type", "LS ID", "adv router", "seq", "len", "PWR TLVs"):
        t.add_column(col)
    for r in rows:
        pw = ", ".join(d["tlv"] for d in r.get("pwr", [])) or r.get("pwr_error", "")
        t.add_row(r["area"], str(r["type"]), r["lsid"], r["adv_router"], f"{r['seq']:#x}", str(r["length"]), pw)
    _out().print(t)
    return 0


def register(sub) -> None:
    """Add this group's subcommands to the top-level parser."""
    ls = sub.add_parser("lsdb", help="dump ospfd's LSDB through the OSPF API (decoding PWR LSAs)")
    ls.add_argument("--api", type=api_arg, default="127.0.0.1:2607", help="ospfd API server HOST:PORT")
    ls.add_argument("--types", type=types_arg, default="10", help="comma-separated LSA types")
    ls.add_argument("--opaque-type", type=int_in(0, 255), default=wire.DEFAULT_OPAQUE_TYPE)
    ls.add_argument("--profile", default="draft", choices=sorted(wire.PROFILES))
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_lsdb)
