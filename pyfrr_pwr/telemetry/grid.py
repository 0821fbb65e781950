"""Power-system status from public grid feeds: carbon intensity, green
generation share, supply load, day-ahead electricity price.

The CATS seed sec. 4.3 asks for "real-time power system data - including
supply load, green power generation output, and electricity price
fluctuations" beside the compute sites' own energy; issue 9 sec. 1 reads
them from JSON feeds shaped like the public services, from a URL or a file.
Shapes understood (``format``; ``auto`` tells them apart by their keys):

* ``uk-carbon`` (api.carbonintensity.org.uk): ``/intensity`` gives
  ``{"data": [{"from", "to", "intensity": {"forecast", "actual", "index"}}]}``
  (gCO2/kWh; ``actual`` is measured, ``forecast`` estimated);
  ``/generation`` gives ``{"data": {"from", "to", "generationmix":
  [{"fuel", "perc"}]}}``: the green share is biomass + hydro + solar + wind
  (renewables; nuclear is low-carbon but not counted);
* ``electricitymaps`` (``/v3/carbon-intensity/latest``): ``{"zone",
  "carbonIntensity", "datetime", "updatedAt", "isEstimated"}``;
  ``/v3/power-breakdown/latest``: ``renewablePercentage`` (green share),
  ``powerConsumptionTotal`` (MW, supply load);
* ``awattar`` (api.awattar.de ``/v1/marketdata``): ``{"data":
  [{"start_timestamp", "end_timestamp" (ms), "marketprice", "unit":
  "Eur/MWh"}]}``;
* ``energy-charts`` (api.energy-charts.info ``/price``, ``/ren_share``...):
  ``{"unix_seconds": [...], "price": [...], "unit": "EUR / MWh"}`` or
  ``"ren_share": [...]`` (percent).

Of a time series the slot holding "now" is taken (else the newest that has
started): a day-ahead series reaches into tomorrow, those slots are not
now's price. Units are normalised (``energy.normalise``): gCO2eq/kWh,
``<CUR>/MWh``, ratio 0..1, W. ``parse`` is pure.
"""

from __future__ import annotations

import json
import time

from pyfrr_pwr.telemetry.energy import Reading, SourceError, finite, normalise, parse_time
from pyfrr_pwr.telemetry.fetch import fetch

__all__ = ["FORMATS", "GREEN_FUELS", "parse", "sniff", "GridSource"]

FORMATS = ("auto", "uk-carbon", "electricitymaps", "awattar", "energy-charts")
GREEN_FUELS = frozenset({"biomass", "hydro", "solar", "wind"})
CARBON_MAX = 3000.0  # gCO2eq/kWh: lignite is ~1200; more is a unit error
PRICE_MAX = 1e5  # |<CUR>/MWh|: market limits are a few thousand


def sniff(doc) -> str:
    if isinstance(doc, dict):
        if "carbonIntensity" in doc or "renewablePercentage" in doc or "powerConsumptionTotal" in doc:
            return "electricitymaps"
        if "unix_seconds" in doc:
            return "energy-charts"
        d = doc.get("data")
        first = d[0] if isinstance(d, list) and d else d
        if isinstance(first, dict):
            if "marketprice" in first:
                return "awattar"
            if "intensity" in first or "generationmix" in first:
                return "uk-carbon"
    raise SourceError("bad_format", "not a feed shape this reader knows (uk-carbon, electricitymaps, awattar, energy-charts)")


def _carbon(v: float, unit: str, what: str) -> float:
    x, u = normalise(v, unit)
    if u != "gCO2eq/kWh":
        raise SourceError("bad_unit", f"{what}: {unit!r} is not a carbon intensity")
    if not 0 <= x <= CARBON_MAX:
        raise SourceError("out_of_range", f"{what}: {x:g} gCO2eq/kWh")
    return x


def _share(pct, what: str) -> float:
    x = finite(pct, what) / 100.0
    if not 0.0 <= x <= 1.0:
        raise SourceError("out_of_range", f"{what}: {x * 100:g} %")
    return x


def _price(v, unit: str, what: str) -> tuple[float, str]:
    x, u = normalise(finite(v, what), unit)
    if not u.endswith("/MWh") or u in ("gCO2eq/kWh",):
        raise SourceError("bad_unit", f"{what}: {unit!r} is not a price per energy")
    if abs(x) > PRICE_MAX:
        raise SourceError("out_of_range", f"{what}: {x:g} {u}")
    return x, u


def _pick(slots: list[tuple[float, float | None, object]], now: float):
    """The slot (start, end, item) holding ``now``, else the newest started one."""
    started = [s for s in slots if s[0] <= now]
    if not started:
        raise SourceError("future", "every slot of the series starts after now")
    for s in started:
        if s[1] is not None and s[0] <= now < s[1]:
            return s
    return max(started, key=lambda s: s[0])


def _uk(doc: dict, src: str, now: float) -> list[Reading]:
    d = doc.get("data")
    out = []
    if isinstance(d, dict) and "generationmix" in d:  # /generation
        mix = d["generationmix"]
        if not isinstance(mix, list):
            raise SourceError("bad_format", "generationmix is not a list")
        total = green = 0.0
        for i, f in enumerate(mix):
            if not isinstance(f, dict) or not isinstance(f.get("fuel"), str):
                raise SourceError("bad_format", f"generationmix[{i}] has no fuel")
            p = finite(f.get("perc"), f"generationmix[{i}].perc")
            if not 0 <= p <= 100:
                raise SourceError("out_of_range", f"generationmix[{i}].perc = {p:g}")
            total += p
            if f["fuel"].lower() in GREEN_FUELS:
                green += p
        if not 0 < total <= 100.5:  # the mix sums to 100 % give or take rounding
            raise SourceError("out_of_range", f"generation mix sums to {total:g} %")
        out.append(Reading("green_share", min(green / total, 1.0), "ratio", parse_time(d.get("from")), src, "measured"))
        return out
    if not isinstance(d, list) or not d:
        raise SourceError("bad_format", "data is not a non-empty list")
    slots = []
    for i, it in enumerate(d):
        if not isinstance(it, dict) or not isinstance(it.get("intensity"), dict):
            raise SourceError("bad_format", f"data[{i}] has no intensity")
        slots.append((parse_time(it.get("from")), parse_time(it["to"]) if "to" in it else None, it))
    t, _, it = _pick(slots, now)
    ins = it["intensity"]
    if ins.get("actual") is not None:
        v, acc = ins["actual"], "measured"
    elif ins.get("forecast") is not None:
        v, acc = ins["forecast"], "estimated"
    else:
        raise SourceError("bad_format", "intensity has neither actual nor forecast")
    return [Reading("carbon_intensity", _carbon(finite(v, "intensity"), "gCO2/kWh", "intensity"), "gCO2eq/kWh", t, src, acc)]


def _emaps(doc: dict, src: str, now: float) -> list[Reading]:
    t = parse_time(doc.get("datetime"))
    acc = "estimated" if doc.get("isEstimated") else "measured"
    out = []
    if doc.get("carbonIntensity") is not None:
        unit = doc.get("unit", "gCO2eq/kWh")
        if not isinstance(unit, str):
            raise SourceError("bad_unit", "unit is not a string")
        out.append(Reading("carbon_intensity", _carbon(finite(doc["carbonIntensity"], "carbonIntensity"), unit, "carbonIntensity"), "gCO2eq/kWh", t, src, acc))
    if doc.get("renewablePercentage") is not None:
        out.append(Reading("green_share", _share(doc["renewablePercentage"], "renewablePercentage"), "ratio", t, src, acc))
    if doc.get("powerConsumptionTotal") is not None:
        mw = finite(doc["powerConsumptionTotal"], "powerConsumptionTotal")
        if mw < 0:
            raise SourceError("out_of_range", f"powerConsumptionTotal = {mw:g} MW")
        out.append(Reading("supply_load", mw * 1e6, "W", t, src, acc))  # the API gives MW
    if not out:
        raise SourceError("bad_format", "no carbonIntensity, renewablePercentage or powerConsumptionTotal")
    return out


def _awattar(doc: dict, src: str, now: float) -> list[Reading]:
    d = doc.get("data")
    if not isinstance(d, list) or not d:
        raise SourceError("bad_format", "data is not a non-empty list")
    slots = []
    for i, it in enumerate(d):
        if not isinstance(it, dict) or "start_timestamp" not in it:
            raise SourceError("bad_format", f"data[{i}] has no start_timestamp")
        end = parse_time(it["end_timestamp"]) if "end_timestamp" in it else None
        slots.append((parse_time(it["start_timestamp"]), end, it))
    t, _, it = _pick(slots, now)
    unit = it.get("unit", "EUR/MWh")
    if not isinstance(unit, str):
        raise SourceError("bad_unit", "unit is not a string")
    v, u = _price(it.get("marketprice"), unit, "marketprice")
    return [Reading("price", v, u, t, src, "measured")]


def _echarts(doc: dict, src: str, now: float) -> list[Reading]:
    ts = doc.get("unix_seconds")
    if not isinstance(ts, list) or not ts:
        raise SourceError("bad_format", "unix_seconds is not a non-empty list")
    key = next((k for k in ("price", "ren_share", "share") if isinstance(doc.get(k), list)), None)
    if key is None:
        raise SourceError("bad_format", "no price or ren_share series")
    vals = doc[key]
    if len(vals) != len(ts):
        raise SourceError("bad_format", f"{len(ts)} timestamps but {len(vals)} values")
    slots = []
    for i, t in enumerate(ts):
        start = parse_time(t)
        end = parse_time(ts[i + 1]) if i + 1 < len(ts) else None
        slots.append((start, end, i))
    t, _, i = _pick(slots, now)
    if vals[i] is None:
        raise SourceError("bad_format", f"{key}[{i}] is null (no value for now's slot)")
    if key == "price":
        unit = doc.get("unit", "EUR/MWh")
        if not isinstance(unit, str):
            raise SourceError("bad_unit", "unit is not a string")
        v, u = _price(vals[i], unit, f"price[{i}]")
        return [Reading("price", v, u, t, src, "measured")]
    return [Reading("green_share", _share(vals[i], f"{key}[{i}]"), "ratio", t, src, "measured")]


_PARSERS = {"uk-carbon": _uk, "electricitymaps": _emaps, "awattar": _awattar, "energy-charts": _echarts}


def parse(doc, source: str, now: float, fmt: str = "auto") -> list[Reading]:
    """A decoded feed -> Readings (pure)."""
    if fmt == "auto":
        fmt = sniff(doc)
    if fmt not in _PARSERS:
        raise SourceError("bad_format", f"unknown feed format {fmt!r}")
    if not isinstance(doc, dict):
        raise SourceError("bad_format", "the feed is not a JSON object")
    try:
        return _PARSERS[fmt](doc, source, now)
    except SourceError:
        raise
    except (KeyError, TypeError, IndexError, AttributeError) as exc:  # a shape we did not foresee
        raise SourceError("bad_format", f"{fmt}: {type(exc).__name__}: {str(exc)[:100]}") from None


class GridSource:
    """One feed (URL or file); ``headers`` e.g. an Electricity Maps ``auth-token``."""

    def __init__(self, name: str, url: str, fmt: str = "auto", timeout: float = 10.0, clock=time.time, headers: dict | None = None, verify: bool | str = True):
        self.name = name
        self.url = url
        self.fmt = fmt
        self.timeout = timeout
        self.clock = clock
        self.headers = headers or {}
        self.verify = verify

    def read(self) -> list[Reading]:
        body = fetch(self.url, self.timeout, max_bytes=4 << 20, verify=self.verify, headers=self.headers)
        try:
            doc = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise SourceError("bad_json", str(exc)[:120] or type(exc).__name__) from None
        return parse(doc, self.name, self.clock(), self.fmt)
