"""Power-system status from an IEC 61850 MMS server (a substation or plant IED).

CATS seed sec. 4.3: supply load, green generation output and price come
from the power system's own telemetry. In IEC 61850 such values are
measured-value data objects (CDC ``MV``, IEC 61850-7-3): ``mag.f`` (the
value, FLOAT32), ``q`` (quality: validity good / invalid / questionable)
and ``t`` (UTC time of the value), functional constraint ``MX``. Typical
logical nodes (IEC 61850-7-4): ``MMXU.TotW`` (total active power: supply
load), and, for figures 7-4 has no class for (green share, price, carbon
intensity), a generic ``GGIO.AnIn``/``AnOut``. Which object holds which
figure is site configuration: each point names a Reading, the object
reference (``<IED><LD>/<LN>.<DO>``), its unit and a scale.

MMS client: PyPI ``iec61850`` (async). ``MmsSource.aread`` keeps one
association open and reopens it after a failure; ``read`` runs it on a
private event loop for the blocking interface. A value whose quality is
not good is refused (``bad_quality``); a time stamp of 0 (never set by the
IED) is replaced by our clock; one point failing does not lose the others.

Native operations are never cancelled. The library completes each of its
futures on its own (tokio) threads and, when one is cancelled, its thread
still runs the operation on and afterwards takes the interpreter lock to
notice; if that happens while the interpreter finalises, the process dies
(SIGSEGV/SIGABRT after its work is done). So every operation is started as
a tracked future and awaited through ``asyncio.shield``: a timeout or a
cancellation gives up waiting, not the operation, which ends by its own
deadline (``timeout_ms``, ``request_timeout_ms``). ``aclose`` releases the
association (MMS Conclude, else abort) and returns once every operation
started here has finished, so nothing of ours runs on the library's
threads after it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from pyfrr_pwr.telemetry.energy import Reading, SourceError, finite, normalise

__all__ = ["Point", "MmsSource", "DEFAULT_POINTS"]

log = logging.getLogger("pyfrr_pwr.telemetry")


@dataclass(frozen=True)
class Point:
    name: str  # the Reading name: supply_load, green_share, price, carbon_intensity, ...
    ref: str  # the MV data object, e.g. "GRIDLD0/MMXU1.TotW"
    unit: str = "W"  # as the IED gives it; normalised on reading
    scale: float = 1.0  # multiplier (IEC 61850 units carry a multiplier; here configured)
    accuracy: str = "measured"


DEFAULT_POINTS = (Point("supply_load", "LD0/MMXU1.TotW", "W"),)


class MmsSource:
    def __init__(self, name: str, addr: str, points=DEFAULT_POINTS, timeout: float = 5.0, clock=time.time):
        self.name = name
        self.addr = addr  # "host:port"
        self.points = tuple(points)
        self.timeout = timeout
        self.clock = clock
        self.conn = None
        self._ops: set[asyncio.Future] = set()  # native operations started here and not finished
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- native operations: tracked, awaited through a shield, never cancelled --

    def _op(self, aw) -> asyncio.Future:
        fut = asyncio.ensure_future(aw)
        self._ops.add(fut)
        fut.add_done_callback(self._op_done)
        return fut

    def _op_done(self, fut: asyncio.Future) -> None:
        self._ops.discard(fut)
        if not fut.cancelled():
            fut.exception()  # retrieved: the failure of an operation nobody waits for any more is not news

    async def _call(self, aw):
        return await asyncio.shield(self._op(aw))

    async def _open(self) -> None:
        """A new association, installed as ``self.conn`` when it is up (also
        when the caller gave up waiting: the next poll uses it, ``aclose``
        releases it)."""
        from iec61850 import IedConnection

        conn = await IedConnection.connect(self.addr, timeout_ms=int(self.timeout * 1000), request_timeout_ms=int(self.timeout * 1000))
        old, self.conn = self.conn, conn
        if old is not None:
            self._op(self._release(old, graceful=False))

    async def _release(self, c, graceful: bool) -> None:
        """End an association: MMS Conclude (ISO 9506-1; IEC 61850-8-1 maps
        Release to it) when ``graceful``, else, or if that fails, abort."""
        if graceful:
            try:
                await asyncio.wait_for(self._call(c.disconnect()), self.timeout)
                return
            except Exception:
                pass
        try:
            await asyncio.wait_for(self._call(c.abort()), self.timeout)
        except Exception:
            pass

    async def _point(self, c, p: Point) -> Reading:
        from iec61850 import FC, Validity

        v = finite(await self._call(c.read_float(p.ref + ".mag.f", FC.MX)), p.ref)
        try:
            q = await self._call(c.read_quality(p.ref + ".q", FC.MX))
            if q.validity != Validity.GOOD:
                raise SourceError("bad_quality", f"{p.ref}: quality {q.validity.value}")
        except SourceError:
            raise
        except Exception as exc:
            if not _is_missing(exc):
                raise
        ts = None
        try:
            t = await self._call(c.read_timestamp(p.ref + ".t", FC.MX))
            ts = t.timestamp() if t.timestamp() > 0 else None
        except Exception as exc:
            if not _is_missing(exc):
                raise
        x, unit = normalise(v * p.scale, p.unit)
        return Reading(p.name, x, unit, ts if ts is not None else self.clock(), self.name, p.accuracy)

    async def aread(self) -> list:
        """Every point: Readings, and SourceErrors for the points that failed
        (``store.Store`` counts those); SourceError if none could be read."""
        from iec61850 import IedConnectionError, IedDataAccessError, IedError, IedTimeoutError

        out: list = []
        try:
            if self.conn is None or not self.conn.is_connected:
                await asyncio.wait_for(self._call(self._open()), self.timeout)
            c = self.conn
            for p in self.points:
                try:
                    out.append(await asyncio.wait_for(self._point(c, p), self.timeout))
                except SourceError as exc:
                    out.append(exc)
                except IedDataAccessError as exc:  # the server refused this object: this point only
                    out.append(SourceError("bad_format", f"{p.ref}: {str(exc)[:120]}"))
        except (TimeoutError, IedTimeoutError) as exc:
            await self._drop()
            raise SourceError("timeout", f"{self.addr}: {str(exc)[:120]}") from None
        except (IedConnectionError, OSError) as exc:
            await self._drop()
            raise SourceError("unreachable", f"{self.addr}: {str(exc)[:120]}") from None
        except IedError as exc:  # a service or protocol failure (the peer aborted): the association is gone
            await self._drop()
            raise SourceError("unreachable", f"{self.addr}: {type(exc).__name__}: {str(exc)[:120]}") from None
        if not any(isinstance(r, Reading) for r in out):
            errs = [r for r in out if isinstance(r, SourceError)]
            raise errs[0] if errs else SourceError("bad_format", "no points configured")
        return out

    async def _drop(self) -> None:
        """After a failure: abort the association (its state is unknown). The
        abort is tracked like any operation; ``aclose`` waits for it."""
        c, self.conn = self.conn, None
        if c is not None:
            await self._release(c, graceful=False)

    async def _settle(self, bound: float) -> None:
        end = time.monotonic() + bound
        while self._ops:
            left = end - time.monotonic()
            if left <= 0:
                log.warning("%s: %d MMS operation(s) still running after %g s", self.name, len(self._ops), bound)
                return
            await asyncio.wait(set(self._ops), timeout=left)

    async def aclose(self) -> None:
        """Release the association and return once every native operation
        started here has finished (each ends by its own deadline, the
        source's ``timeout``); the source can be read again afterwards."""
        bound = 3 * self.timeout + 1.0  # a connect, a read and the release, each bounded by timeout
        c, self.conn = self.conn, None
        if c is not None:
            await self._release(c, graceful=not self._ops)  # a Conclude would wait behind reads in flight
        await self._settle(bound)
        if self.conn is not None:  # a connect that completed after its poll gave up
            c, self.conn = self.conn, None
            await self._release(c, graceful=True)
            await self._settle(bound)

    def read(self) -> list:
        """The blocking interface: ``aread`` on this source's own loop (the
        association is bound to the loop that opened it)."""
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(self.aread())

    def close(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.run_until_complete(self.aclose())
            self._loop.close()


def _is_missing(exc: Exception) -> bool:
    """An optional attribute (q, t) the IED does not model."""
    from iec61850 import IedDataAccessError

    return isinstance(exc, IedDataAccessError) and "NonExistent" in str(exc)
