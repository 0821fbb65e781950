"""Last good value of every reading, with its age; counts of what was refused.

Issue 9 "Bad input": unreachable or malformed telemetry is logged and
counted, the last good value is kept with its age shown, and a value older
than a configured limit stops being advertised. ``Store.poll`` is the one
place a source's ``read()`` is called from, so nothing a source raises goes
further: a ``SourceError`` is counted under its reason, anything else under
``error`` (logged with its traceback). Each Reading a source returns is
checked again here (finite, normalised unit, not from the future, not older
than the limit, within range for its unit) so a source's bug cannot leak a
NaN into the Node Energy TLV.

Pure apart from the clock (injected; Unix seconds) and logging.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from dataclasses import dataclass

from pyfrr_pwr.telemetry.energy import Reading, SourceError, unit_ok

__all__ = ["Store", "Entry", "FUTURE_SKEW"]

log = logging.getLogger("pyfrr_pwr.telemetry")

FUTURE_SKEW = 300.0  # s a source's clock may run ahead of ours (day-ahead prices are "now" slots)


@dataclass(slots=True)
class Entry:
    reading: Reading
    got: float  # our clock when it was accepted


def check(r: Reading, now: float, max_age: float) -> str | None:
    """None if ``r`` is acceptable, else the reason it is not."""
    if not isinstance(r, Reading):
        return "bad_format"
    if isinstance(r.value, bool) or not isinstance(r.value, (int, float)) or not math.isfinite(r.value):
        return "not_finite"
    if not unit_ok(r.unit):
        return "bad_unit"
    if not isinstance(r.ts, (int, float)) or not math.isfinite(r.ts):
        return "bad_format"
    if r.ts > now + FUTURE_SKEW:
        return "future"
    if now - r.ts > max_age:
        return "stale"
    if r.unit == "ratio" and not 0.0 <= r.value <= 1.0:
        return "out_of_range"
    if r.unit in ("W", "J", "gCO2eq/kWh") and r.value < 0:
        return "out_of_range"  # prices may be negative (day-ahead markets), power and carbon not
    return None


class Store:
    """Readings by (source, name). ``max_age``: seconds after which a value
    (by its own timestamp) is no longer reported."""

    def __init__(self, max_age: float = 300.0, clock=time.time):
        if not (max_age > 0 and math.isfinite(max_age)):
            raise ValueError("max_age must be a positive number of seconds")
        self.max_age = float(max_age)
        self.clock = clock
        self.entries: dict[tuple[str, str], Entry] = {}
        self.drops: Counter = Counter()  # (source, reason) -> count
        self.polls: Counter = Counter()  # source -> polls
        self.last_error: dict[str, str] = {}  # source -> last message

    def _drop(self, source: str, reason: str, detail: str, exc_info=False) -> None:
        self.drops[(source, reason)] += 1
        self.last_error[source] = f"{reason}: {detail}"[:300]
        # the first of each reason at warning, repeats at debug: a dead BMC must not flood the log
        level = logging.WARNING if self.drops[(source, reason)] == 1 else logging.DEBUG
        log.log(level, "telemetry %s: %s (%s), keeping the last good value", source, reason, detail[:200], exc_info=exc_info)

    def accept(self, source: str, readings) -> int:
        """Check and keep ``readings`` (from ``source``); returns how many were kept."""
        now = self.clock()
        kept = 0
        try:
            items = list(readings)
        except TypeError:
            self._drop(source, "bad_format", "read() did not return a list of readings")
            return 0
        for r in items:
            if isinstance(r, SourceError):  # one point of a multi-point source failed (mms)
                self._drop(source, r.reason, r.detail)
                continue
            why = check(r, now, self.max_age)
            if why:
                self._drop(source, why, f"{getattr(r, 'name', '?')}={getattr(r, 'value', '?')!r} {getattr(r, 'unit', '')}")
                continue
            self.entries[(source, r.name)] = Entry(r, now)
            kept += 1
        return kept

    def poll(self, src) -> int:
        """``src.read()``, never raising: the readings kept, or 0 and a count."""
        name = getattr(src, "name", type(src).__name__)
        self.polls[name] += 1
        try:
            got = src.read()
        except SourceError as exc:
            self._drop(name, exc.reason, exc.detail)
            return 0
        except Exception as exc:  # a source's bug: counted, logged with its traceback
            self._drop(name, "error", f"{type(exc).__name__}: {exc}", exc_info=True)
            return 0
        return self.accept(name, got)

    def fail(self, source: str, reason: str, detail: str = "") -> None:
        """Count a failure seen outside ``poll`` (the poller's timeout)."""
        self._drop(source, reason, detail)

    def current(self, now: float | None = None) -> list[Reading]:
        """Every reading no older than ``max_age`` by its own timestamp."""
        now = self.clock() if now is None else now
        return [e.reading for e in self.entries.values() if now - e.reading.ts <= self.max_age]

    def get(self, name: str, source: str | None = None, now: float | None = None) -> Reading | None:
        """The freshest current reading called ``name`` (from ``source`` if given)."""
        best = None
        for r in self.current(now):
            if r.name == name and (source is None or r.source == source) and (best is None or r.ts > best.ts):
                best = r
        return best

    def latest(self, now: float | None = None) -> dict[str, Reading]:
        """name -> the reading to use: the best accuracy (measured, then
        estimated, then nominal; GREEN: aggregations weight by accuracy),
        the freshest among equals. What H8's Node Energy TLV encodes."""
        rank = {"measured": 0, "estimated": 1, "nominal": 2}
        out: dict[str, Reading] = {}
        for r in self.current(now):
            b = out.get(r.name)
            if b is None or (rank[r.accuracy], -r.ts) < (rank[b.accuracy], -b.ts):
                out[r.name] = r
        return out

    def status(self, now: float | None = None) -> dict:
        """For an operator: each value with its age and whether it is still
        reported, and the drop counts by source and reason."""
        now = self.clock() if now is None else now
        vals = []
        for (src, _name), e in sorted(self.entries.items()):
            age = now - e.reading.ts
            vals.append({**e.reading.as_dict(), "poller": src, "age": age, "stale": age > self.max_age})
        drops: dict = {}
        for (src, why), n in sorted(self.drops.items()):
            drops.setdefault(src, {})[why] = n
        return {"max_age": self.max_age, "values": vals, "drops": drops, "polls": dict(self.polls), "last_error": dict(self.last_error)}
