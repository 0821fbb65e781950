"""The asyncio shell around the energy sources: poll each one every
``interval`` seconds with a timeout, keep what they return in a
``store.Store``.

Blocking readers (Redfish, Prometheus, grid feeds, sysfs) run on a private
thread pool so a BMC that never answers cannot hold up the agent's loop or
the default executor; a source whose previous read is still running is not
started again (counted as ``timeout``) so a hung server costs one thread,
not one per poll. Sources with an ``aread`` coroutine (MMS) are awaited on
the loop. Nothing raises out of ``poll_once`` or ``run``.

``build(settings)`` makes the sources from the power.yml ``energy`` section
(``files.energycfg.parse``); the agent (or H8's Node Energy origination)
calls ``Poller.latest()`` for name -> Reading (see docs/energy.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from pyfrr_pwr.telemetry.store import Store

__all__ = ["Poller", "build", "make_source"]

log = logging.getLogger("pyfrr_pwr.telemetry")


def make_source(spec: dict, clock=time.time):
    """One source from a checked reader/power_system entry."""
    t = spec["type"]
    name = spec["name"]
    timeout = float(spec.get("timeout", 5.0))
    if t == "redfish":
        from pyfrr_pwr.telemetry.redfish import RedfishSource

        return RedfishSource(
            name,
            spec["url"],
            chassis=spec.get("chassis"),
            username=spec.get("username"),
            password=spec.get("password"),
            verify=spec.get("verify", True),
            timeout=timeout,
            clock=clock,
        )
    if t == "prometheus":
        from pyfrr_pwr.telemetry.prom import DEFAULT_METRICS, Metric, PromSource

        ms = tuple(Metric(**m) for m in spec["metrics"]) if spec.get("metrics") else DEFAULT_METRICS
        return PromSource(name, spec["url"], ms, timeout=timeout, clock=clock, verify=spec.get("verify", True))
    if t in ("hwmon", "rapl"):
        from pyfrr_pwr.telemetry.sensors import HwmonReader, RaplReader, SensorSource

        return SensorSource(name, (HwmonReader if t == "hwmon" else RaplReader)(spec["path"]), wall=clock)
    if t == "grid":
        from pyfrr_pwr.telemetry.grid import GridSource

        return GridSource(
            name, spec["url"], spec.get("format", "auto"), timeout=timeout, clock=clock, headers=spec.get("headers"), verify=spec.get("verify", True)
        )
    if t == "mms":
        from pyfrr_pwr.telemetry.mms import DEFAULT_POINTS, MmsSource, Point

        pts = tuple(Point(**p) for p in spec["points"]) if spec.get("points") else DEFAULT_POINTS
        return MmsSource(name, spec["address"], pts, timeout=timeout, clock=clock)
    raise ValueError(f"unknown energy source type {t!r}")


class Poller:
    """Poll ``sources`` into ``store``; ``timeout`` bounds each read."""

    def __init__(self, sources, store: Store | None = None, interval: float = 30.0, timeout: float = 5.0, max_age: float = 300.0, clock=time.time):
        self.sources = list(sources)
        self.store = store if store is not None else Store(max_age, clock)
        self.interval = interval
        self.timeout = timeout
        self._pool = ThreadPoolExecutor(max_workers=max(1, min(8, len(self.sources))), thread_name_prefix="pyfrr-energy")
        self._busy: dict[str, asyncio.Future] = {}
        self._task: asyncio.Task | None = None

    def _timeout(self, src) -> float:
        # a source's own timeout (its HTTP timeouts are per connect/read) plus slack, at most the poller's
        return max(self.timeout, float(getattr(src, "timeout", 0) or 0) + 1.0)

    async def _one(self, src) -> None:
        name = getattr(src, "name", type(src).__name__)
        self.store.polls[name] += 1
        try:
            if hasattr(src, "aread"):
                got = await asyncio.wait_for(src.aread(), self._timeout(src))
            else:
                prev = self._busy.get(name)
                if prev is not None and not prev.done():
                    self.store.fail(name, "timeout", "the previous read is still running")
                    return
                fut = asyncio.get_running_loop().run_in_executor(self._pool, self._guarded, src)
                self._busy[name] = fut
                got = await asyncio.wait_for(asyncio.shield(fut), self._timeout(src))
        except TimeoutError:
            self.store.fail(name, "timeout", f"no answer within {self._timeout(src):g} s")
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            from pyfrr_pwr.telemetry.energy import SourceError

            if isinstance(exc, SourceError):
                self.store.fail(name, exc.reason, exc.detail)
            else:
                log.debug("telemetry %s", name, exc_info=True)
                self.store.fail(name, "error", f"{type(exc).__name__}: {exc}")
            return
        if isinstance(got, _Failed):
            self.store.fail(name, got.reason, got.detail)
            return
        self.store.accept(name, got)

    @staticmethod
    def _guarded(src):
        """``src.read()`` on a worker thread; a failure becomes a value so the
        future never holds an exception nobody retrieves."""
        from pyfrr_pwr.telemetry.energy import SourceError

        try:
            return src.read()
        except SourceError as exc:
            return _Failed(exc.reason, exc.detail)
        except Exception as exc:
            log.debug("telemetry %s", getattr(src, "name", "?"), exc_info=True)
            return _Failed("error", f"{type(exc).__name__}: {exc}")

    async def poll_once(self) -> None:
        await asyncio.gather(*(self._one(s) for s in self.sources), return_exceptions=True)

    async def run(self) -> None:
        while True:
            t0 = time.monotonic()
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # never: _one catches; a net under the net
                log.exception("energy poll failed")
            await asyncio.sleep(max(0.0, self.interval - (time.monotonic() - t0)))

    def start(self) -> asyncio.Task:
        self._task = asyncio.get_running_loop().create_task(self.run(), name="energy-poller")
        return self._task

    async def stop(self) -> None:
        """Stop polling and return once nothing started here still runs: each
        ``aread`` source closed (``aclose``: its association released, its
        native operations finished) and every blocking read, also one that
        outlived its poll's timeout, finished and its worker joined. A
        process exiting right after must not finalise the interpreter under
        a reader still running (see telemetry.mms)."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        for s in self.sources:
            if hasattr(s, "aclose"):
                try:
                    await s.aclose()
                except Exception:
                    log.debug("closing %s", getattr(s, "name", "?"), exc_info=True)
        self._pool.shutdown(wait=False, cancel_futures=True)  # nothing new; what runs ends by its own timeouts
        running = [f for f in self._busy.values() if not f.done()]
        if running:
            await asyncio.wait(running)
        self._busy.clear()
        await asyncio.to_thread(self._pool.shutdown, wait=True)  # the idle workers exit and are joined

    def latest(self) -> dict:
        return self.store.latest()

    def status(self) -> dict:
        return self.store.status()


class _Failed:
    __slots__ = ("reason", "detail")

    def __init__(self, reason: str, detail: str):
        self.reason, self.detail = reason, detail


def build(settings: dict | None, clock=time.time) -> Poller | None:
    """A Poller for the power.yml ``energy`` settings (None: no section, or
    nothing to read)."""
    if not settings:
        return None
    specs = list(settings.get("readers") or []) + list(settings.get("power_system") or [])
    if not specs:
        return None
    return Poller([make_source(s, clock) for s in specs], interval=settings["interval"], timeout=settings["timeout"], max_age=settings["max_age"], clock=clock)
