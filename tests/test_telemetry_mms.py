"""Power-system status from a real IEC 61850 MMS server, run in-process
(PyPI iec61850's IedServer, bound to a free localhost port)."""

import asyncio
import struct
import time

import iec61850 as iec  # the energy extra: missing is a failure, not a skip
import pytest

from pyfrr_pwr.telemetry.energy import Reading, SourceError
from pyfrr_pwr.telemetry.mms import MmsSource, Point
from pyfrr_pwr.telemetry.poller import Poller
from pyfrr_pwr.telemetry.store import Store


def utc(t: float) -> bytes:
    """IEC 61850-8-1 UtcTime: seconds, 24-bit fraction, quality octet."""
    s = int(t)
    return struct.pack(">I", s) + int((t - s) * (1 << 24)).to_bytes(3, "big") + b"\x0a"


def mv(name: str, value: float, t: float | None = None, invalid: bool = False) -> dict:
    """A measured value (CDC MV, IEC 61850-7-3): mag.f, q, t, FC MX."""
    q = {"name": "q", "fc": "MX", "type": "Quality"}
    if invalid:
        q["value"] = {"type": "bit_string", "padding": 3, "data": bytes([0x40, 0])}  # validity 01: invalid
    ts = {"name": "t", "fc": "MX", "type": "Timestamp"}
    if t is not None:
        ts["value"] = {"type": "utc_time", "value": utc(t)}
    return {
        "name": name,
        "das": [q, ts],
        "constructed_das": [
            {"name": "mag", "fc": "MX", "children": [{"name": "f", "fc": "MX", "type": "Float32", "value": {"type": "float32", "value": value}}]}
        ],
    }


def model(now: float) -> dict:
    return {
        "ied_name": "GRID",
        "lds": [
            {
                "inst": "LD0",
                "lns": [
                    {
                        "lln0": True,
                        "dos": [{"name": "Mod", "das": [{"name": "stVal", "fc": "ST", "type": "Enumerated", "value": {"type": "int", "value": 1}}]}],
                    },
                    {"class": "MMXU", "prefix": "", "inst": "1", "dos": [mv("TotW", 1520.5, now - 5)]},
                    {
                        "class": "GGIO",
                        "prefix": "",
                        "inst": "1",
                        "dos": [
                            mv("AnIn1", 43.5, now - 5),
                            mv("AnIn2", 72.25),
                            mv("AnIn3", 210.0, now - 5),
                            mv("AnIn4", 99.0, now, invalid=True),
                            mv("AnIn5", 180.0, now - 1000),
                        ],
                    },
                ],
            }
        ],
    }


POINTS = (
    Point("supply_load", "GRIDLD0/MMXU1.TotW", "MW"),
    Point("green_share", "GRIDLD0/GGIO1.AnIn1", "%"),
    Point("price", "GRIDLD0/GGIO1.AnIn2", "EUR/MWh"),
    Point("carbon_intensity", "GRIDLD0/GGIO1.AnIn3", "gCO2eq/kWh"),
)


async def serve(now):
    s = iec.IedServer.from_model_spec(model(now))
    s.bind("127.0.0.1:0")
    await s.start()
    return s


def test_power_system_points_normalised_with_their_timestamps():
    async def main():
        now = time.time()
        server = await serve(now)
        try:
            src = MmsSource("substation", server.bound_addr, POINTS, timeout=3, clock=lambda: now)
            got = {r.name: r for r in await src.aread()}
            assert got["supply_load"].value == pytest.approx(1520.5e6) and got["supply_load"].unit == "W"
            assert got["supply_load"].ts == pytest.approx(now - 5, abs=1e-3)  # the IED's own time stamp
            assert got["green_share"].value == pytest.approx(0.435) and got["green_share"].unit == "ratio"
            assert got["price"].value == 72.25 and got["price"].unit == "EUR/MWh"
            assert got["price"].ts == now  # t never set by the IED (1970): our clock
            assert got["carbon_intensity"].value == 210.0
            assert {r.source for r in got.values()} == {"substation"} and {r.accuracy for r in got.values()} == {"measured"}
            server.update_float32("LD0/MMXU1.TotW.mag.f", 1700.0)  # the IED's value changes; the association is reused
            got = {r.name: r for r in await src.aread()}
            assert got["supply_load"].value == pytest.approx(1700e6)
            await src._drop()
        finally:
            await server.stop()

    asyncio.run(main())


def test_bad_quality_missing_point_and_dead_server_are_counted():
    async def main():
        now = time.time()
        server = await serve(now)
        addr = server.bound_addr
        store = Store(max_age=60, clock=lambda: now)
        pts = POINTS[:1] + (
            Point("green_share", "GRIDLD0/GGIO1.AnIn4", "%"),
            Point("price", "GRIDLD0/GGIO1.AnIn9", "EUR/MWh"),
            Point("carbon_intensity", "GRIDLD0/GGIO1.AnIn5", "gCO2eq/kWh"),  # the IED's time stamp is 1000 s old
        )
        src = MmsSource("substation", addr, pts, timeout=2, clock=lambda: now)
        p = Poller([src], store=store, timeout=3)
        await p.poll_once()
        assert store.get("supply_load").value == pytest.approx(1520.5e6)  # the good point is kept
        assert store.get("green_share") is None and store.drops[("substation", "bad_quality")] == 1
        assert store.drops[("substation", "bad_format")] == 1  # AnIn9 does not exist
        assert store.get("carbon_intensity") is None and store.drops[("substation", "stale")] == 1
        await server.stop()
        await p.poll_once()  # nothing raises; the last good value stays, with its age
        assert store.drops[("substation", "unreachable")] + store.drops[("substation", "timeout")] == 1
        assert store.get("supply_load").value == pytest.approx(1520.5e6)
        await p.stop()

    asyncio.run(main())


def test_blocking_interface_on_a_worker_thread():
    """``read()`` runs the client on its own loop (the poller's thread pool),
    while the server runs on the test's loop."""

    async def main():
        server = await serve(time.time())
        try:
            src = MmsSource("substation", server.bound_addr, POINTS[2:3], timeout=3)
            (r,) = await asyncio.to_thread(src.read)
            assert isinstance(r, Reading) and r.value == 72.25
            await asyncio.to_thread(src.close)
        finally:
            await server.stop()

    asyncio.run(main())


def test_unreachable_address():
    async def main():
        server = await serve(time.time())
        addr = server.bound_addr
        await server.stop()  # the port is free again: refused
        with pytest.raises(SourceError) as ei:
            await MmsSource("x", addr, POINTS, timeout=2).aread()
        assert ei.value.reason in ("unreachable", "timeout")

    asyncio.run(main())


class _Recording:
    """Stands in for a connection's native handle and keeps every future the
    native library returned (a pyo3-async-runtimes future: the library's tokio
    thread completes it)."""

    def __init__(self, native, futures: list):
        self._native, self._futures = native, futures

    def __getattr__(self, name):
        attr = getattr(self._native, name)
        if not callable(attr):
            return attr

        def call(*a, **kw):
            r = attr(*a, **kw)
            if isinstance(r, asyncio.Future):
                self._futures.append((name, r))
            return r

        return call


def test_a_read_that_outlives_its_timeout_is_finished_not_abandoned(monkeypatch):
    """A read the IED answers after the reader's timeout. Cancelling the
    library's future does not stop its operation: the tokio thread finishes
    it later and then takes the interpreter lock to see the cancellation,
    which, once the interpreter is finalising, is a crash (the SIGSEGV after
    ``sites read`` printed its JSON). So no native future may be cancelled:
    a timed-out operation runs on to its own deadline, and ``Poller.stop``
    returns once every one has finished (the association released too)."""
    futures: list = []
    real = iec.IedConnection.connect.__func__

    async def connect(cls, *a, **kw):
        # the library's own request deadline after the IED's answer (1 s), the reader's timeout before it
        conn = await real(cls, *a, **{**kw, "request_timeout_ms": 1500})
        conn._native_conn = _Recording(conn._native_conn, futures)
        return conn

    monkeypatch.setattr(iec.IedConnection, "connect", classmethod(connect))

    async def main():
        server = iec.IedServer.from_model_spec(model(time.time()))
        server.on_read("LD0/GGIO1.AnIn2.mag.f", lambda *a: time.sleep(1.0))  # the IED answers after the reader gave up
        server.bind("127.0.0.1:0")
        await server.start()
        try:
            store = Store(max_age=60)
            src = MmsSource("substation", server.bound_addr, POINTS[:3], timeout=0.3)
            p = Poller([src], store=store, timeout=5)
            await p.poll_once()
            assert store.drops[("substation", "timeout")] == 1 and store.get("price") is None
            await p.stop()
            assert futures and [n for n, f in futures if not f.done()] == []  # finished before stop returned
            assert [n for n, f in futures if f.cancelled()] == []  # none left to the library's threads
            assert src.conn is None
        finally:
            await server.stop()

    asyncio.run(main())


def test_stop_releases_the_association_gracefully(monkeypatch):
    """``Poller.stop`` ends a healthy association with an MMS Conclude
    (ISO 9506-1 Conclude service; IEC 61850-8-1 maps Release to it), the
    native close finished when it returns."""
    futures: list = []
    real = iec.IedConnection.connect.__func__

    async def connect(cls, *a, **kw):
        conn = await real(cls, *a, **kw)
        conn._native_conn = _Recording(conn._native_conn, futures)
        return conn

    monkeypatch.setattr(iec.IedConnection, "connect", classmethod(connect))

    async def main():
        server = await serve(time.time())
        try:
            src = MmsSource("substation", server.bound_addr, POINTS, timeout=3)
            p = Poller([src], timeout=5)
            await p.poll_once()
            assert p.latest()["supply_load"].value == pytest.approx(1520.5e6)
            await p.stop()
            names = [n for n, _ in futures]
            assert names[-1] == "disconnect" and "abort" not in names
            assert all(f.done() and not f.cancelled() for _, f in futures)
        finally:
            await server.stop()

    asyncio.run(main())
