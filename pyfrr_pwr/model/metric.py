"""The draft's power arithmetic as named, pure functions.

Units: watts and bytes/s, as OSPF-TE carries bandwidth (RFC 3630 sec.
2.5.6), so a PWR ratio is W per byte/s. People read W per Gb/s:
``w_per_gbps()`` converts for display.

Readings of the draft written down here (it gives formulas, not numbers):

* Normalisation (sec. 2.1.1): a line card's power is shared among its ports
  in units of the lowest common port speed, so a 100G port counts as ten
  10G units. The POWER numerator is the power of one such unit ("power
  consumed per XG (normalized bandwidth) port"); the denominator is the
  available bandwidth of the port itself. This is what makes a lightly used
  100G port cheap, as sec. 2.1.2 (ERRATA) intends.
* Available power (sec. 2.1.8.2): the power a port would still draw if its
  remaining bandwidth were used, P(full load) - P(current load) on its
  calibrated profile. Available-POWER is that over the available bandwidth:
  the marginal cost of the headroom. The advertised figure is the lower of
  the two ratios, which is the switchover of sec. 2.1.8.1 (c): for one
  profile the two are equal where P(load) = P(1) / 2.
* Weighted PWRLINK (sec. 2.1.1): when one end is a multi-capacity port
  running below its highest speed, each end's POWER is weighted by the
  speed it runs at relative to its highest (``capacity_weight``); equal
  weights give the mean, so links of single-capacity ports keep it. The
  weights come from each router's power.yml (a port's ``speed`` and
  ``highest_speed``, ``model.power.Port.weight``). They are not sent as
  such: an end's Link TLV carries the speed it runs at as Maximum
  Bandwidth (RFC 3630 sec. 2.5.6) and, only when that is below its highest,
  the highest capacity in our Link sub-TLV 32772 (bytes/s, float32, both
  code-point profiles). A receiver weighs that end max_bw / highest_bw,
  clamped into (0, 1]; without the sub-TLV the end weighs 1.0.
  ``link_pwrlink`` is the one formula the TED and the offline tables use.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "GBPS",
    "bps_to_Bps",
    "w_per_gbps",
    "lowest_common_speed",
    "normalized_units",
    "power_per_unit",
    "clamp_avail_bw",
    "power_metric",
    "available_power_metric",
    "effective_metric",
    "pwrlink",
    "pwrlink_weighted",
    "capacity_weight",
    "link_pwrlink",
    "PowerProfile",
    "switchover",
    "crossovers",
    "Banding",
]

GBPS = 1e9 / 8.0  # bytes/s in one Gb/s
FLT_MAX = 3.4028234663852886e38


def bps_to_Bps(bits_per_s: float) -> float:
    return bits_per_s / 8.0


def w_per_gbps(ratio_w_per_Bps: float) -> float:
    """W per byte/s (wire) -> W per Gb/s (display)."""
    return ratio_w_per_Bps * GBPS


def lowest_common_speed(speeds: Iterable[float]) -> float:
    """The normalisation unit of sec. 2.1.1: the lowest port speed present."""
    speeds = [s for s in speeds]
    if not speeds or min(speeds) <= 0:
        raise ValueError("port speeds must be positive and at least one must be given")
    return min(speeds)


def normalized_units(speed: float, unit: float) -> float:
    """How many normalised ports a port of ``speed`` counts as (sec. 2.1.1)."""
    if unit <= 0 or speed <= 0:
        raise ValueError("speeds must be positive")
    return speed / unit


def power_per_unit(card_power_w: float, port_speeds: Sequence[float], unit: float) -> float:
    """A line card's power per normalised port (sec. 2.1.1)."""
    if card_power_w < 0 or math.isnan(card_power_w):
        raise ValueError(f"line-card power must be >= 0 W, got {card_power_w}")
    units = sum(normalized_units(s, unit) for s in port_speeds)
    if units <= 0:
        raise ValueError("a line card needs at least one port")
    return card_power_w / units


def clamp_avail_bw(avail_Bps: float, capacity_Bps: float, floor_fraction: float = 1e-3) -> float:
    """Keep the POWER denominator away from zero.

    A saturated port would otherwise have an infinite (unencodable) metric.
    The floor is ``floor_fraction`` of capacity (at least 1 byte/s): such a
    port gets a metric a thousand times its idle one, which CSPF avoids
    without treating the link as gone (bandwidth constraints exclude it
    outright when a reservation needs the bandwidth).
    """
    if math.isnan(avail_Bps) or math.isnan(capacity_Bps):
        raise ValueError("bandwidth is NaN")
    floor = max(1.0, capacity_Bps * floor_fraction)
    return min(max(avail_Bps, floor), max(capacity_Bps, floor))


def power_metric(unit_power_w: float, avail_Bps: float) -> float:
    """POWER = power per normalised port / available bandwidth (sec. 2.1.1).

    The caller clamps ``avail_Bps`` (``clamp_avail_bw``); the result is
    capped at FLT_MAX so it always fits the wire's float32.
    """
    if unit_power_w < 0 or math.isnan(unit_power_w):
        raise ValueError(f"power must be >= 0 W, got {unit_power_w}")
    if not avail_Bps > 0:
        raise ValueError(f"available bandwidth must be > 0 (clamp it first), got {avail_Bps}")
    return min(unit_power_w / avail_Bps, FLT_MAX)


def available_power_metric(avail_unit_power_w: float, avail_Bps: float) -> float:
    """Available-POWER = available power per normalised port / available bw
    (sec. 2.1.8.2)."""
    return power_metric(avail_unit_power_w, avail_Bps)


def effective_metric(consumed: float | None, available: float | None) -> float | None:
    """The lower of the two ratios (sec. 2.1.8.2); either may be absent."""
    vals = [v for v in (consumed, available) if v is not None]
    return min(vals) if vals else None


def pwrlink(end_a: float, end_b: float) -> float:
    """PWRLINK = mean of both ends' POWER (sec. 2.1.1, bias: sec. 2.1.3)."""
    return (end_a + end_b) / 2.0


def pwrlink_weighted(end_a: float, end_b: float, weight_a: float, weight_b: float) -> float:
    """Weighted PWRLINK for multi-capacity ports (sec. 2.1.1).

    Weights are each end's running speed over its highest speed (1.0 for a
    single-capacity port); equal weights reduce to ``pwrlink``.
    """
    if weight_a < 0 or weight_b < 0 or weight_a + weight_b <= 0:
        raise ValueError("weights must be >= 0 and not both 0")
    return (weight_a * end_a + weight_b * end_b) / (weight_a + weight_b)


MIN_WEIGHT = 1e-12  # keeps a weight > 0 however small the ratio


def capacity_weight(speed: float | None, highest: float | None) -> float:
    """An end's weight in a weighted PWRLINK (sec. 2.1.1): the capacity its
    port runs at over its highest capacity, in (0, 1].

    Any unit, as long as both figures share it (bits/s from a power.yml,
    bytes/s from a Link TLV's Maximum Bandwidth and highest-capacity
    sub-TLV). 1.0 when either figure is unknown (None), not > 0 or NaN: a
    port that does not say otherwise runs at its highest capacity. A
    running speed above the highest counts as the highest.
    """
    if speed is None or highest is None or not (speed > 0) or not (highest > 0):
        return 1.0
    return min(max(speed / highest, MIN_WEIGHT), 1.0)


def link_pwrlink(end_a: float | None, end_b: float | None, weight_a: float = 1.0, weight_b: float = 1.0) -> float | None:
    """A link's PWRLINK from its ends' POWER (either may be unknown).

    Both ends: ``pwrlink`` when the weights are equal (single-capacity ports,
    the draft's worked examples), else ``pwrlink_weighted``. One end: its
    POWER (a one-sided link, or an end without a PWR sub-TLV). None when
    neither end has a figure.
    """
    if end_a is None or end_b is None:
        return end_a if end_b is None else end_b
    if weight_a == weight_b:
        return pwrlink(end_a, end_b)
    return pwrlink_weighted(end_a, end_b, weight_a, weight_b)


# ------------------------------------------------------------- profiles


@dataclass(frozen=True)
class PowerProfile:
    """Power drawn as a function of load (sec. 2.1.8).

    ``points`` are calibration points (load fraction 0..1, watts), sorted by
    load, interpolated linearly; the analytic constructors sample their curve
    densely so every profile is evaluated the same way.
    """

    points: tuple

    def __post_init__(self):
        pts = tuple((float(u), float(p)) for u, p in self.points)
        if len(pts) < 2:
            raise ValueError("a power profile needs at least two calibration points")
        us = [u for u, _ in pts]
        if us != sorted(us) or len(set(us)) != len(us):
            raise ValueError("calibration points must have distinct, increasing loads")
        if us[0] != 0.0 or us[-1] != 1.0:
            raise ValueError("calibration points must span load 0.0 to 1.0")
        if any(p < 0 or math.isnan(p) for _, p in pts):
            raise ValueError("calibration power must be >= 0 W")
        object.__setattr__(self, "points", pts)

    @classmethod
    def linear(cls, idle_w: float, peak_w: float) -> PowerProfile:
        """Third profile of sec. 2.1.8: constant delta-C / delta-B."""
        return cls(((0.0, idle_w), (1.0, peak_w)))

    @classmethod
    def _sampled(cls, f: Callable[[float], float], n: int = 64) -> PowerProfile:
        return cls(tuple((i / n, f(i / n)) for i in range(n + 1)))

    @classmethod
    def flattening(cls, idle_w: float, peak_w: float, steepness: float = 4.0) -> PowerProfile:
        """First profile (concave): steep, then tapering to a plateau."""
        k = float(steepness)
        if k <= 0:
            raise ValueError("steepness must be > 0")
        return cls._sampled(lambda u: idle_w + (peak_w - idle_w) * (1 - math.exp(-k * u)) / (1 - math.exp(-k)))

    @classmethod
    def exponential(cls, idle_w: float, peak_w: float, steepness: float = 4.0) -> PowerProfile:
        """Second profile (convex): ever steeper."""
        k = float(steepness)
        if k <= 0:
            raise ValueError("steepness must be > 0")
        return cls._sampled(lambda u: idle_w + (peak_w - idle_w) * (math.exp(k * u) - 1) / (math.exp(k) - 1))

    def __call__(self, load: float) -> float:
        u = min(max(float(load), 0.0), 1.0)
        us = [p[0] for p in self.points]
        i = bisect.bisect_right(us, u)
        if i >= len(us):
            return self.points[-1][1]
        (u0, p0), (u1, p1) = self.points[i - 1], self.points[i]
        return p0 + (p1 - p0) * (u - u0) / (u1 - u0)

    def available_power(self, load: float) -> float:
        """P(1) - P(load): power the remaining bandwidth would still draw."""
        return max(self(1.0) - self(load), 0.0)

    @property
    def shape(self) -> str:
        """'linear', 'flattening' (concave), 'exponential' (convex) or 'mixed'."""
        pts = self.points
        slopes = [(p1 - p0) / (u1 - u0) for (u0, p0), (u1, p1) in zip(pts, pts[1:])]
        tol = 1e-9 * max(1.0, max(abs(s) for s in slopes))
        d = [b - a for a, b in zip(slopes, slopes[1:])]
        if all(abs(x) <= tol for x in d):
            return "linear"
        if all(x <= tol for x in d):
            return "flattening"
        if all(x >= -tol for x in d):
            return "exponential"
        return "mixed"


def switchover(profile: PowerProfile) -> float | None:
    """Load where the advertised metric switches from Consumed- to
    Available-POWER (the (*) of sec. 2.1.8.1): where P(u) = P(1) / 2.
    Below it the consumed ratio is lower, above it the available one. None
    if the curve never crosses half of its peak (e.g. idle >= peak / 2)."""
    half = profile(1.0) / 2.0
    lo, hi = 0.0, 1.0
    if profile(lo) >= half:
        return None
    for _ in range(60):  # bisection: P is continuous, non-decreasing assumed
        mid = (lo + hi) / 2
        if profile(mid) < half:
            lo = mid
        else:
            hi = mid
    return hi


def crossovers(a: PowerProfile, b: PowerProfile, samples: int = 256) -> list[float]:
    """Loads where two routers' curves cross (sec. 2.1.8.1 (c)): below a
    crossing one curve is cheaper, above it the other."""
    out = []
    diff = lambda u: a(u) - b(u)  # noqa: E731
    prev_u, prev_d = 0.0, diff(0.0)
    for i in range(1, samples + 1):
        u = i / samples
        d = diff(u)
        if prev_d == 0.0 and (not out or out[-1] != prev_u):
            out.append(prev_u)
        elif prev_d * d < 0:
            lo, hi = prev_u, u
            for _ in range(50):
                mid = (lo + hi) / 2
                if diff(lo) * diff(mid) <= 0:
                    hi = mid
                else:
                    lo = mid
            out.append((lo + hi) / 2)
        prev_u, prev_d = u, d
    return out


# ------------------------------------------------------------- banding


class Banding:
    """Threshold intervals with hysteresis (sec. 2.2, 2.1.6).

    A value is re-advertised only when it leaves the interval of the last
    advertised value by more than ``hysteresis`` (a fraction of the edge it
    crossed). Pure state machine: ``update(value)`` returns the value to
    advertise, or None to stay silent.
    """

    def __init__(self, edges: Sequence[float], hysteresis: float = 0.05):
        edges = [float(e) for e in edges]
        if not edges or edges != sorted(edges) or len(set(edges)) != len(edges):
            raise ValueError("band edges must be distinct and increasing")
        if not 0 <= hysteresis < 1:
            raise ValueError("hysteresis must be in [0, 1)")
        self.edges = edges
        self.hysteresis = hysteresis
        self.band: int | None = None
        self.value: float | None = None

    @classmethod
    def geometric(cls, low: float, high: float, ratio: float = 1.25, hysteresis: float = 0.05) -> Banding:
        """Edges low, low*ratio, ... up to high: equal relative width, so a
        change of the same proportion counts the same at any magnitude."""
        if not (0 < low < high) or ratio <= 1:
            raise ValueError("need 0 < low < high and ratio > 1")
        edges = [low]
        while edges[-1] < high:
            edges.append(edges[-1] * ratio)
        return cls(edges, hysteresis)

    def band_of(self, value: float) -> int:
        """Interval index: 0 below the first edge, len(edges) above the last."""
        return bisect.bisect_right(self.edges, value)

    def update(self, value: float) -> float | None:
        if math.isnan(value):
            raise ValueError("cannot band NaN")
        if self.band is None:
            self.band, self.value = self.band_of(value), value
            return value
        b = self.band
        lo = self.edges[b - 1] if b > 0 else -math.inf
        hi = self.edges[b] if b < len(self.edges) else math.inf
        h = self.hysteresis
        if value < lo - abs(lo) * h or value >= hi + abs(hi) * h:
            self.band, self.value = self.band_of(value), value
            return value
        return None
