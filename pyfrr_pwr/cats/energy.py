"""A compute site's energy status as flooded: banded and rate-limited like
PWR (draft sec. 2.2), pure.

The agent hands ``EnergyAdvert.update`` the site's latest readings (the
*energy status*, a plain dict, below) with the time; it answers whether
the Node Energy TLV (``wire.NodeEnergy``, docs/wire-format.md) must be
originated again now, and ``tlv`` builds it. The rules:

* **Banding** (draft sec. 2.2, as PWR): each figure has threshold
  intervals (``model.metric.Banding``: geometric for magnitudes, steps of
  5 % for ratios, geometric both ways of 0 for a price, which may be
  negative); a figure is re-advertised only when it leaves its interval
  by more than the hysteresis. What is advertised is the value (and its
  timestamp, source, accuracy) that crossed the edge, not every wobble.
* **Staleness** (issue 9, "Bad input"): a reading older than ``max_age``
  seconds stops being advertised (its sub-TLV is left out); a new reading
  brings it back. Each advertised reading says its age.
* **Source or accuracy change** (GREEN: readings say their accuracy):
  advertised at once (subject to the rate limit), whatever the band.
* **Rate limit**: at most one origination per ``min_interval`` seconds; a
  change inside it waits and goes out with the newest values when the
  interval ends (``due`` says when). ospfd itself allows one new instance
  of an opaque ID per 5 s (OSPF_MIN_LS_INTERVAL, see the FRR facts note),
  hence the default 5 s.
* **Refresh**: every ``refresh`` seconds even without a change, so the
  ages stay small for readers.

The energy status dict (what H7's telemetry readers produce, normalised):
``{name: {"value": float, "ts": unix_s, "source": str, "accuracy":
"measured"|"estimated"|"nominal", ["currency": "EUR"]}}`` with names the
``NodeEnergy`` fields: ``power_w`` (W), ``capacity_w`` (W), ``energy_j``
(J), ``supply_load`` and ``green_share`` (ratios 0..1), ``price_per_mwh``
(currency per MWh, with ``currency``), ``carbon_g_per_kwh`` (gCO2eq/kWh).
``status_of(readings)`` builds it from ``telemetry.energy.Reading``-like
objects (name, value, unit, ts, source, accuracy), refusing wrong units.
Anything not understood is dropped and counted in ``stats`` under a named
reason, never raised.
"""

from __future__ import annotations

import math
from collections import Counter

from pyfrr_pwr.model.metric import Banding
from pyfrr_pwr.proto import wire

__all__ = ["FIELDS", "UNITS", "EnergyAdvert", "status_of", "check_reading", "decoded"]

FIELDS = tuple(name for name, *_ in wire.NE_READINGS)
_KIND = {name: kind for name, _, _, kind in wire.NE_READINGS}
# the unit a reading must come in (telemetry readers normalise to these)
UNITS = {"power_w": "W", "capacity_w": "W", "energy_j": "J", "supply_load": "ratio", "green_share": "ratio", "carbon_g_per_kwh": "gCO2eq/kWh"}
ACCURACIES = ("measured", "estimated", "nominal", "unknown")
_FLT_MAX = 3.4028234663852886e38


def _bands(name: str, ratio: float, hysteresis: float) -> Banding:
    kind = _KIND[name]
    if kind == "ratio":  # 5 % steps of a 0..1 share
        return Banding([i / 20 for i in range(1, 20)], hysteresis)
    if kind == "signed":  # a price: geometric on both sides of 0
        pos = Banding.geometric(0.01, 1e6, ratio).edges
        return Banding([-e for e in reversed(pos)] + pos, hysteresis)
    return Banding.geometric(1e-3, 1e12, ratio, hysteresis)


def check_reading(name: str, r, now: float | None = None) -> tuple[dict | None, str | None]:
    """(the reading as a clean dict, None) or (None, the reason it is dropped)."""
    if name not in _KIND:
        return None, "unknown_name"
    if not isinstance(r, dict):
        return None, "not_an_object"
    v = r.get("value")
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None, "not_a_number"
    v = float(v)
    if not math.isfinite(v) or abs(v) > _FLT_MAX:
        return None, "not_finite"
    kind = _KIND[name]
    if kind != "signed" and v < 0:
        return None, "negative"
    if kind == "ratio" and v > 1:
        return None, "ratio_out_of_range"
    ts = r.get("ts", 0)
    if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not math.isfinite(ts) or not 0 <= ts < 2**32:
        return None, "bad_timestamp"
    if now is not None and ts > now + 60:  # a clock far ahead: the age would read negative
        return None, "timestamp_in_future"
    acc = r.get("accuracy", "unknown")
    if acc not in ACCURACIES:
        return None, "bad_accuracy"
    src = r.get("source") or ""
    if not isinstance(src, str) or len(src.encode("utf-8", "replace")) > wire.MAX_NAME or any(ord(c) < 0x20 or ord(c) == 0x7F for c in src):
        return None, "bad_source"
    out = {"value": v + 0.0, "ts": float(ts), "source": src, "accuracy": acc}
    if name == "price_per_mwh":
        cur = r.get("currency")
        if not (isinstance(cur, str) and len(cur) == 3 and cur.isascii() and cur.isalpha() and cur.isupper()):
            return None, "bad_currency"
        out["currency"] = cur
    return out, None


def status_of(readings, stats: Counter | None = None) -> dict:
    """An energy status dict from ``telemetry.energy.Reading``-like objects
    (attributes name, value, unit, ts, source, accuracy). A unit other
    than ``UNITS`` (a price's: ``<CUR>/MWh``) is dropped as ``wrong_unit``."""
    stats = stats if stats is not None else Counter()
    out = {}
    for r in readings:
        name, unit = getattr(r, "name", None), getattr(r, "unit", None)
        if name not in _KIND:
            stats["energy_dropped_unknown_name"] += 1
            continue
        d = {"value": getattr(r, "value", None), "ts": getattr(r, "ts", 0), "source": getattr(r, "source", ""), "accuracy": getattr(r, "accuracy", "unknown")}
        if name == "price_per_mwh":
            cur, sep, per = str(unit).partition("/")
            if sep != "/" or per != "MWh":
                stats["energy_dropped_wrong_unit"] += 1
                continue
            d["currency"] = cur
        elif unit != UNITS[name]:
            stats["energy_dropped_wrong_unit"] += 1
            continue
        out[name] = d
    return out


class EnergyAdvert:
    """When to originate the Node Energy TLV again, and what it says."""

    def __init__(self, ratio: float = 1.1, hysteresis: float = 0.05, min_interval: float = 5.0, max_age: float = 300.0, refresh: float = 1800.0):
        if not (ratio > 1 and 0 <= hysteresis < 1 and min_interval >= 0 and max_age > 0 and refresh > 0):
            raise ValueError("EnergyAdvert: need ratio > 1, 0 <= hysteresis < 1, min_interval >= 0, max_age > 0, refresh > 0")
        self.ratio, self.hysteresis = ratio, hysteresis
        self.min_interval, self.max_age, self.refresh = min_interval, max_age, refresh
        self.bands = {n: _bands(n, ratio, hysteresis) for n in FIELDS}
        self.adv: dict = {}  # name -> the reading as advertised (value that crossed the band)
        self.latest: dict = {}  # name -> the newest good reading (last good value kept, with its age)
        self.pending = False
        self.last_sent: float | None = None
        self.stats: Counter = Counter()

    def update(self, status: dict, now: float) -> bool:
        """Take the newest readings; True when the TLV must go out now."""
        if not isinstance(status, dict):
            self.stats["energy_dropped_not_an_object"] += 1
            status = {}
        for name, r in status.items():
            clean, why = check_reading(name, r, now)
            if clean is None:
                self.stats[f"energy_dropped_{why}"] += 1
                continue
            self.latest[name] = clean
        for name in FIELDS:
            r = self.latest.get(name)
            fresh = r is not None and now - r["ts"] <= self.max_age
            old = self.adv.get(name)
            if not fresh:
                if old is not None:  # too old to advertise any more
                    del self.adv[name]
                    self.bands[name] = _bands(name, self.ratio, self.hysteresis)
                    self.stats["energy_went_stale"] += 1
                    self.pending = True
                continue
            crossed = self.bands[name].update(r["value"]) is not None
            meta = old is not None and (old["source"], old["accuracy"], old.get("currency")) != (r["source"], r["accuracy"], r.get("currency"))
            if crossed or meta or old is None:
                self.adv[name] = dict(r)
                self.pending = True
        return self.due(now)

    def due(self, now: float) -> bool:
        if self.last_sent is None:
            return self.pending or bool(self.adv)
        if now - self.last_sent < self.min_interval:
            return False
        return self.pending or now - self.last_sent >= self.refresh

    def next_due(self, now: float) -> float | None:
        """When a waiting change may go out (None: nothing waits)."""
        if self.last_sent is None:
            return now if self.pending or self.adv else None
        if self.pending:
            return max(now, self.last_sent + self.min_interval)
        return self.last_sent + self.refresh

    def tlv(self, router_id: str, now: float) -> wire.NodeEnergy:
        """The Node Energy TLV to originate now; marks it sent."""
        names = sorted({r["source"] for r in self.adv.values() if r["source"]})
        ids = {n: i + 1 for i, n in enumerate(names)}
        kw = {}
        for name, r in self.adv.items():
            age = max(0, int(now - r["ts"])) if r["ts"] else 0
            kw[name] = wire.Reading(r["value"], int(r["ts"]), min(age, 0xFFFF), r["accuracy"], ids.get(r["source"], 0))
            if name == "price_per_mwh":
                kw["currency"] = r["currency"]
        self.pending = False
        self.last_sent = now
        self.stats["energy_originations"] += 1
        return wire.NodeEnergy(router_id, sources=tuple((i, n) for n, i in ids.items()), **kw)

    def show(self, now: float) -> dict:
        """What is advertised and the newest good values, each with its age
        (the operator's view and the exporter's)."""
        return {
            name: {**r, "age_s": now - r["ts"] if r["ts"] else None, "advertised": name in self.adv, "stale": now - r["ts"] > self.max_age}
            for name, r in sorted(self.latest.items())
        }


def decoded(t: wire.NodeEnergy, now: float | None = None) -> dict:
    """A received Node Energy TLV as an energy status dict (source names
    resolved); ``age_s`` as advertised, plus the time since ``ts`` when
    ``now`` is given (needs synchronised clocks)."""
    names = dict(t.sources)
    out = {}
    for name in FIELDS:
        r = getattr(t, name)
        if r is None:
            continue
        out[name] = {"value": r.value, "ts": r.ts, "age_s": r.age_s, "accuracy": r.accuracy, "source": names.get(r.source, "")}
        if name == "price_per_mwh":
            out[name]["currency"] = t.currency
    return out
