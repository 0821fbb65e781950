"""Power readers: where a line card's or port's watts come from.

Linux exposes power two ways: hwmon sensors (``power*_input``, microwatts,
an instantaneous reading) and powercap/RAPL zones (``energy_uj``, a
cumulative counter in microjoules that wraps at ``max_energy_range_uj``, so
power is the delta over time). Neither exists on these lab machines; tests
use fake sysfs trees.

Reads are robust (issue 10 "A half-written hwmon file makes the reader fall
back to the static figure"): a file read while it is being rewritten is
empty or cut short, a driver may answer ENODATA, a fake tree may hold
garbage. Such a read is retried at once (``RETRIES`` times); if it still
fails the reason is counted in ``errors`` and the last good figure is
returned while it is younger than ``hold`` seconds. Only after that does
``read()`` return None, and it says so in the log (the caller then uses
the configured static figure); ``fallbacks`` counts those reads.
A sysfs attribute always ends in a newline: text without one is taken as
cut short unless a re-read gives the same text.

A hwmon chip says how often its hardware updates a reading
(``power<N>_average_interval`` for a power channel, the chip's
``update_interval``; Documentation/hwmon/sysfs-interface, milliseconds):
``HwmonReader.period`` holds it, and the agent reads that sensor no more
often (agent.measure), since a faster read returns the same figure at the
cost of a wake-up.

``SensorSource`` wraps either reader in the ``energy.Source`` interface
(``read() -> list[Reading]``) for compute-site energy (issue 9 sec. 1).
"""

from __future__ import annotations

import errno
import logging
import os
import re
import time
from collections import Counter
from pathlib import Path

from pyfrr_pwr.telemetry.energy import Reading, SourceError

__all__ = ["HwmonReader", "RaplReader", "SensorSource", "make_reader", "read_attr", "update_period", "RETRIES", "HOLD"]

log = logging.getLogger("pyfrr_pwr.power")

RETRIES = 2  # immediate re-reads of a bad file
HOLD = 60.0  # s the last good figure stands in for failed reads
MAX_TEXT = 64  # a sysfs integer attribute is a few bytes


def read_attr(path: str) -> bytes:
    """The text of a sysfs attribute, at most ``MAX_TEXT + 1`` bytes: one
    open, one read(2), one close. A sysfs attribute hands its whole text to
    the first read at offset 0 (kernfs' seq_file buffer), and a regular
    file (a fake tree) returns less than asked only at its end, so a second
    read would only confirm the end; a text cut short shows as a missing
    newline (``_SysfsInt.value``). Not ``open()``: its buffered file object
    cost more than the read itself, every ``interval`` for every sensor
    (issue 10: CPU at rest). The file is opened anew each time: a sensor
    file replaced whole (a fake's rename, a driver rebound) is read as it
    is now."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, MAX_TEXT + 1)
    finally:
        os.close(fd)


class _SysfsInt:
    """One integer sysfs attribute, read robustly; ``errors`` counts by reason."""

    def __init__(self, path: str | Path, clock=time.monotonic, hold: float = HOLD, retries: int = RETRIES):
        self.path = Path(path)
        self._fspath = str(self.path)
        self.clock = clock
        self.hold = hold
        self.retries = retries
        self.errors: Counter = Counter()
        self.fallbacks = 0
        self._warned: set = set()

    def _once(self) -> tuple[int | None, str, str]:
        """(value, reason, text): value None with a reason when unusable."""
        try:
            raw = read_attr(self._fspath)
        except OSError as exc:
            return None, "enodata" if exc.errno == errno.ENODATA else "unreadable", ""
        if len(raw) > MAX_TEXT:
            return None, "not_number", ""
        text = raw.decode("ascii", "replace")
        s = text.strip()
        if not s:
            return None, "empty", text
        try:
            v = int(s)
        except ValueError:
            return None, "not_number", text
        if v < 0:
            return None, "negative", text
        if not text.endswith("\n"):
            return v, "partial", text
        return v, "", text

    def value(self) -> tuple[int | None, str]:
        """A good integer, or None and the reason of the last attempt."""
        prev_text = None
        why = ""
        for _ in range(1 + self.retries):
            v, why, text = self._once()
            if not why:
                return v, ""
            if why == "partial" and text == prev_text:
                return v, ""  # stable without a newline: a file written so, not cut short
            prev_text = text
        self.errors[why] += 1
        return None, why

    def _warn(self, key: str, msg: str, *args) -> None:
        level = logging.WARNING if key not in self._warned else logging.DEBUG
        self._warned.add(key)
        log.log(level, msg, *args)


MAX_PERIOD_MS = 3_600_000  # an update interval above an hour is taken as garbage


def update_period(path: str | Path) -> float | None:
    """Seconds between the hardware's own updates of the hwmon reading at
    ``path``: its channel's ``power<N>_average_interval``, else the chip's
    ``update_interval`` (milliseconds, Documentation/hwmon/sysfs-interface);
    None when the chip has neither, or one that is not a positive integer
    up to an hour."""
    path = Path(path)
    m = re.fullmatch(r"(power\d+)_[a-z_]+", path.name)
    for name in ([f"{m.group(1)}_average_interval"] if m else []) + ["update_interval"]:
        v = _SysfsInt(path.parent / name, retries=0).value()[0]
        if v is not None and 0 < v <= MAX_PERIOD_MS:
            return v / 1000
    return None


class HwmonReader(_SysfsInt):
    """hwmon ``power*_input``: microwatts (Documentation/hwmon/sysfs-interface).
    ``period``: the hardware's update interval in s, or None (``update_period``)."""

    def __init__(self, path: str | Path, clock=time.monotonic, hold: float = HOLD, retries: int = RETRIES):
        super().__init__(path, clock, hold, retries)
        self.good: tuple[float, float] | None = None  # (clock, watts)
        self.ok = False  # the last read gave a good figure
        self.period = update_period(self.path)

    def confirm(self, at: float | None) -> None:
        """The good figure was still the file's text at ``at`` (clock
        time): someone else read the file unchanged then (agent.measure's
        watcher), so a failure holds the figure ``hold`` s from there."""
        if at is not None and self.good is not None and at > self.good[0]:
            self.good = (at, self.good[1])

    def read(self) -> float | None:
        v, why = self.value()
        now = self.clock()
        self.ok = v is not None
        if v is not None:
            self.good = (now, v / 1e6)
            return self.good[1]
        if self.good is not None and now - self.good[0] <= self.hold:
            self._warn(why, "hwmon %s: %s read, keeping %.6g W from %.1f s ago", self.path, why, self.good[1], now - self.good[0])
            return self.good[1]
        self.fallbacks += 1
        self._warn("fallback", "hwmon %s: %s and no good reading within %g s: using the static figure", self.path, why, self.hold)
        return None


class RaplReader(_SysfsInt):
    """powercap ``energy_uj`` counter: watts = delta energy / delta time.

    The first read only primes the counter; a wrap (counter going down) is
    unwrapped with ``max_energy_range_uj`` from the same directory. A failed
    read leaves the counter as it was, so the next good read spans the gap.
    """

    period = None  # a counter has no update interval to wait for: power is its delta over whatever time passed

    def __init__(self, path: str | Path, clock=time.monotonic, hold: float = HOLD, retries: int = RETRIES):
        super().__init__(path, clock, hold, retries)
        self.last: tuple[float, int] | None = None
        self.watts: float | None = None
        self.watts_at: float | None = None
        self.joules = 0.0  # energy counted since the first read (unwrapped)
        rng = _SysfsInt(self.path.parent / "max_energy_range_uj", clock, hold, 0).value()[0]
        self.range = rng or None

    def read(self) -> float | None:
        e, why = self.value()
        t = self.clock()
        if e is None:
            if self.watts is not None and self.watts_at is not None and t - self.watts_at <= self.hold:
                self._warn(why, "RAPL %s: %s read, keeping %.6g W from %.1f s ago", self.path, why, self.watts, t - self.watts_at)
                return self.watts
            if self.watts is not None:
                self.fallbacks += 1
                self._warn("fallback", "RAPL %s: %s and no good reading within %g s: using the static figure", self.path, why, self.hold)
            return None
        if self.last is not None and t > self.last[0]:
            de = e - self.last[1]
            if de < 0:
                if not self.range:
                    self.errors["wrap_unknown"] += 1
                    de = None
                else:
                    de += self.range + 1
            if de is not None:
                self.joules += de / 1e6
                self.watts = de / 1e6 / (t - self.last[0])
                self.watts_at = t
        self.last = (t, e)
        if self.watts is not None and self.watts_at is not None and t - self.watts_at > self.hold:
            return None
        return self.watts


class SensorSource:
    """A hwmon or RAPL reader as an ``energy.Source``: power drawn (W,
    measured), and for RAPL the energy counted since start (J)."""

    def __init__(self, name: str, reader, wall=time.time, prefix: str = ""):
        self.name = name
        self.reader = reader
        self.wall = wall
        self.prefix = prefix

    def read(self) -> list[Reading]:
        w = self.reader.read()
        if w is None and isinstance(self.reader, RaplReader) and self.reader.last is not None and self.reader.watts is None:
            return []  # the first read primes the counter
        if w is None:
            why = max(self.reader.errors, key=self.reader.errors.get) if self.reader.errors else "unreadable"
            raise SourceError("unreadable", f"{self.reader.path}: {why}")
        now = self.wall()
        out = [Reading(self.prefix + "power", w, "W", now, self.name, "measured")]
        if isinstance(self.reader, RaplReader):
            out.append(Reading(self.prefix + "energy", self.reader.joules, "J", now, self.name, "measured"))
        return out


def make_reader(spec: dict):
    kind = spec.get("type")
    if kind == "hwmon":
        return HwmonReader(spec["path"])
    if kind == "rapl":
        return RaplReader(spec["path"])
    raise ValueError(f"unknown power reader type {kind!r} (hwmon or rapl)")
