"""Energy readings: the record every telemetry source returns, and the small
interface every source has.

Issue 9 sec. 1 and the CATS seed sec. 4.3 ask compute sites to expose the
power they draw, their capacity and the energy they used, and the power
system to expose supply load, green generation share, electricity price and
carbon intensity. Each value is a :class:`Reading`: a name, a value in a
normalised unit, a timestamp (Unix seconds, UTC), the source it came from and,
per the IETF GREEN terms (draft-ietf-green-power-and-energy-yang,
``data-source-accuracy``), how it was obtained: ``measured``, ``estimated``
or ``nominal``.

A source is anything with ``name`` and a blocking ``read() -> list[Reading]``
(the same small interface as the hwmon/RAPL readers of ``sensors``, which
return one figure). A source that cannot produce a reading raises
:class:`SourceError` with a named reason; ``store.Store`` counts the reasons,
keeps the last good value with its age and stops reporting it after the
staleness limit. Nothing here does I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

__all__ = [
    "ACCURACY",
    "UNITS",
    "REASONS",
    "Reading",
    "Source",
    "SourceError",
    "normalise",
    "parse_time",
    "finite",
]

# GREEN data-source-accuracy, reduced to the three the issue names
# (accuracy-gold/silver/bronze are measured ones of known class)
ACCURACY = frozenset({"measured", "estimated", "nominal"})

# the normalised units (API.md "Node Energy"): power, energy, carbon
# intensity, a ratio 0..1, and a price "<CUR>/MWh" (ISO 4217 code)
UNITS = frozenset({"W", "J", "gCO2eq/kWh", "ratio"})

# why a poll gave no (or a rejected) reading; Store counts these by name
REASONS = (
    "http_error",  # the server answered with a 4xx/5xx status
    "timeout",  # no answer within the configured time
    "unreachable",  # connection refused/reset, DNS, TLS
    "bad_json",  # body is not JSON (or too large)
    "bad_format",  # JSON/text of the wrong shape, a field missing
    "bad_unit",  # a unit we do not know how to normalise
    "not_finite",  # NaN or +-inf
    "out_of_range",  # negative power, a share above 1, ...
    "stale",  # the reading's own timestamp is older than the limit
    "future",  # the reading's timestamp is ahead of our clock
    "bad_quality",  # the source flags the value itself as invalid (IEC 61850 q)
    "unreadable",  # a file (hwmon, RAPL, feed file) that cannot be read
    "error",  # anything else: logged with its traceback
)


class SourceError(Exception):
    """A poll that produced nothing usable; ``reason`` is one of REASONS."""

    def __init__(self, reason: str, detail: str = ""):
        if reason not in REASONS:
            reason = "error"
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Reading:
    """One value. ``ts`` is when the value was true (Unix s, UTC): the source's
    own timestamp where it has one, else when we read it."""

    name: str
    value: float
    unit: str
    ts: float
    source: str
    accuracy: str = "measured"

    def __post_init__(self):
        if self.accuracy not in ACCURACY:
            raise ValueError(f"accuracy {self.accuracy!r} is not one of {sorted(ACCURACY)}")
        if not unit_ok(self.unit):
            raise ValueError(f"unit {self.unit!r} is not normalised (W, J, gCO2eq/kWh, ratio, <CUR>/MWh)")

    def as_dict(self) -> dict:
        return {"name": self.name, "value": self.value, "unit": self.unit, "ts": self.ts, "source": self.source, "accuracy": self.accuracy}


@runtime_checkable
class Source(Protocol):
    """The small interface: a name and a blocking read."""

    name: str

    def read(self) -> list[Reading]: ...


def unit_ok(unit: str) -> bool:
    if unit in UNITS:
        return True
    cur, sep, per = unit.partition("/")
    return bool(sep) and per == "MWh" and len(cur) == 3 and cur.isascii() and cur.isalpha() and cur.isupper()


def finite(v, what: str = "value") -> float:
    """A JSON/text number as a finite float, else SourceError."""
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise SourceError("bad_format", f"{what}: {type(v).__name__} is not a number")
    try:
        x = float(v)
    except (ValueError, OverflowError):
        raise SourceError("bad_format", f"{what}: {str(v)[:40]!r} is not a number") from None
    if not math.isfinite(x):
        raise SourceError("not_finite", f"{what}: {x}")
    return x


# unit spellings seen in feeds -> (normalised unit, factor)
_POWER = {"w": 1.0, "watt": 1.0, "watts": 1.0, "mw": 1e6, "kw": 1e3, "gw": 1e9, "uw": 1e-6, "µw": 1e-6, "microwatts": 1e-6, "milliwatts": 1e-3}
_ENERGY = {"j": 1.0, "joules": 1.0, "kj": 1e3, "mj": 1e6, "wh": 3600.0, "kwh": 3.6e6, "mwh": 3.6e9, "uj": 1e-6, "µj": 1e-6, "microjoules": 1e-6}
_CARBON = {"gco2eq/kwh": 1.0, "gco2/kwh": 1.0, "g/kwh": 1.0, "kgco2eq/mwh": 1.0, "kgco2/mwh": 1.0, "tco2eq/mwh": 1e3, "kgco2eq/kwh": 1e3, "lb/mwh": 0.45359237}
_RATIO = {"ratio": 1.0, "%": 0.01, "percent": 0.01, "fraction": 1.0}
_PRICE_PER = {"mwh": 1.0, "kwh": 1e3, "wh": 1e6}


def normalise(value: float, unit: str) -> tuple[float, str]:
    """(value, unit as written) -> (value, normalised unit); SourceError
    ``bad_unit`` for a unit we cannot place. Milliwatt versus megawatt: "mW"
    is milli, "MW" mega (case matters only there)."""
    u = unit.strip()
    if u == "mW":
        return value * 1e-3, "W"
    if u == "mJ":
        return value * 1e-3, "J"
    if u == "MJ":
        return value * 1e6, "J"
    lu = u.lower().replace(" ", "").replace("₂", "2")
    for table, norm in ((_POWER, "W"), (_ENERGY, "J"), (_CARBON, "gCO2eq/kWh"), (_RATIO, "ratio")):
        if lu in table:
            return value * table[lu], norm
    cur, sep, per = u.replace(" ", "").partition("/")
    if sep and len(cur) == 3 and cur.isascii() and cur.isalpha() and per.lower() in _PRICE_PER:
        return value * _PRICE_PER[per.lower()], f"{cur.upper()}/MWh"
    raise SourceError("bad_unit", f"unit {unit[:40]!r}")


def parse_time(v) -> float:
    """An ISO 8601 date-time (``2026-03-01T12:30Z``, with or without seconds
    or offset; no offset means UTC) or Unix seconds/milliseconds -> Unix s."""
    if isinstance(v, bool):
        raise SourceError("bad_format", "timestamp is a boolean")
    if isinstance(v, (int, float)):
        x = finite(v, "timestamp")
        return x / 1000.0 if x > 1e11 else x  # epoch ms (aWATTar, energy-charts use both)
    if not isinstance(v, str) or len(v) > 64:
        raise SourceError("bad_format", "timestamp is not a string or number")
    s = v.strip()
    if s.endswith("Z") or s.endswith("z"):
        s = s[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        raise SourceError("bad_format", f"timestamp {v[:40]!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()
