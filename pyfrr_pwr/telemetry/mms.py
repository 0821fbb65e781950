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
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from pyfrr_pwr.telemetry.energy import Reading, SourceError, finite, normalise

__all__ = ["Point", "MmsSource", "DEFAULT_POINTS"]


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
        self._loop: asyncio.AbstractEventLoop | None = None

    async def _connect(self):
        from iec61850 import IedConnection

        return await IedConnection.connect(self.addr, timeout_ms=int(self.timeout * 1000), request_timeout_ms=int(self.timeout * 1000))

    async def _point(self, p: Point) -> Reading:
        from iec61850 import FC, Validity

        v = finite(await self.conn.read_float(p.ref + ".mag.f", FC.MX), p.ref)
        try:
            q = await self.conn.read_quality(p.ref + ".q", FC.MX)
            if q.validity != Validity.GOOD:
                raise SourceError("bad_quality", f"{p.ref}: quality {q.validity.value}")
        except SourceError:
            raise
        except Exception as exc:
            if not _is_missing(exc):
                raise
        ts = None
        try:
            t = await self.conn.read_timestamp(p.ref + ".t", FC.MX)
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
                self.conn = await asyncio.wait_for(self._connect(), self.timeout)
            for p in self.points:
                try:
                    out.append(await asyncio.wait_for(self._point(p), self.timeout))
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
        c, self.conn = self.conn, None
        if c is not None:
            try:
                await asyncio.wait_for(c.abort(), 1.0)
            except Exception:
                pass

    def read(self) -> list:
        """The blocking interface: ``aread`` on this source's own loop (the
        association is bound to the loop that opened it)."""
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(self.aread())

    def close(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.run_until_complete(self._drop())
            self._loop.close()


def _is_missing(exc: Exception) -> bool:
    """An optional attribute (q, t) the IED does not model."""
    from iec61850 import IedDataAccessError

    return isinstance(exc, IedDataAccessError) and "NonExistent" in str(exc)
