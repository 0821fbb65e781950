"""Dump type-10 LSAs as FRR's own ospfclient.py sees them (test helper).

Run inside a router's namespace. Loads /usr/lib/frr/ospfclient.py (GPL, from
frr-pythontools) at run time to test our client against it; nothing of it
is copied into pyfrr-pwr. Its CLI registers an empty LSA type list (mask 0,
so ospfd sends nothing) and its lsa_type_mask() is off by one, so the
filter is sent here as raw bytes with type 10's bit, 1 << 9. Its connect()
also drops the async StreamWriter, which closes the notification socket at
once; the wrapper below keeps every writer alive.
"""

import asyncio
import importlib.util
import json
import struct
import sys
import time

spec = importlib.util.spec_from_file_location("frr_ospfclient", "/usr/lib/frr/ospfclient.py")
oc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(oc)

_writers = []
_open_connection = asyncio.open_connection


async def _keep_writer(*args, **kw):
    r, w = await _open_connection(*args, **kw)
    _writers.append(w)
    return r, w


asyncio.open_connection = _keep_writer


async def main():
    c = oc.OspfOpaqueClient("localhost")
    got = {}
    last = [time.monotonic()]

    def cb(mt, ifaddr, aid, ls_header, extra, lsa):
        try:
            _cb(mt, ifaddr, aid, ls_header, extra, lsa)
        except Exception as exc:  # report, do not kill its message loop
            print("helper callback:", repr(exc), file=sys.stderr)

    def _cb(mt, ifaddr, aid, ls_header, extra, lsa):
        if mt == oc.MSG_LSA_UPDATE_NOTIFY:
            age, opts, t, lsid, adv, seq, ck, ln = ls_header
            got[(str(oc.ip(aid)), t, str(oc.ip(lsid)), str(oc.ip(adv)))] = [seq, ln, bytes(extra).hex()]
            last[0] = time.monotonic()

    c.lsa_change_cb = cb
    await c.connect()
    task = asyncio.create_task(c._handle_msg_loop())
    flt = struct.pack(">HBB", 1 << 9, 2, 0)
    await c.msg_send_raises(oc.MSG_REGISTER_EVENT, flt)
    await c.msg_send_raises(oc.MSG_SYNC_LSDB, flt)
    while time.monotonic() - last[0] < 0.5:
        await asyncio.sleep(0.05)
    task.cancel()
    print(json.dumps([[*k, *v] for k, v in sorted(got.items())]))
    await c.close()


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
