"""Power readers: where a line card's or port's watts come from.

Linux exposes power two ways: hwmon sensors (``power*_input``, microwatts,
an instantaneous reading) and powercap/RAPL zones (``energy_uj``, a
cumulative counter in microjoules that wraps at ``max_energy_range_uj``, so
power is the delta over time). Neither exists on these lab machines; tests
use fake sysfs trees. A reader that fails returns None and the caller falls
back to the configured static figure.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

__all__ = ["HwmonReader", "RaplReader", "make_reader"]

log = logging.getLogger("pyfrr_pwr.power")


class HwmonReader:
    """hwmon ``power*_input``: microwatts (Documentation/hwmon/sysfs-interface)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def read(self) -> float | None:
        try:
            return int(self.path.read_text().strip()) / 1e6
        except (OSError, ValueError) as exc:
            log.warning("hwmon %s unreadable: %s", self.path, exc)
            return None


class RaplReader:
    """powercap ``energy_uj`` counter: watts = delta energy / delta time.

    The first read only primes the counter; a wrap (counter going down) is
    unwrapped with ``max_energy_range_uj`` from the same directory.
    """

    def __init__(self, path: str | Path, clock=time.monotonic):
        self.path = Path(path)
        self.clock = clock
        self.last: tuple[float, int] | None = None
        self.watts: float | None = None
        try:
            self.range = int((self.path.parent / "max_energy_range_uj").read_text().strip())
        except (OSError, ValueError):
            self.range = None

    def read(self) -> float | None:
        try:
            e = int(self.path.read_text().strip())
        except (OSError, ValueError) as exc:
            log.warning("RAPL %s unreadable: %s", self.path, exc)
            return None
        t = self.clock()
        if self.last is not None and t > self.last[0]:
            de = e - self.last[1]
            if de < 0:
                if not self.range:
                    de = None
                else:
                    de += self.range + 1
            if de is not None:
                self.watts = de / 1e6 / (t - self.last[0])
        self.last = (t, e)
        return self.watts


def make_reader(spec: dict):
    kind = spec.get("type")
    if kind == "hwmon":
        return HwmonReader(spec["path"])
    if kind == "rapl":
        return RaplReader(spec["path"])
    raise ValueError(f"unknown power reader type {kind!r} (hwmon or rapl)")
