"""Choosing a service instance for a head-end: the CATS path selector
(C-PS, draft-ietf-cats-framework) over the network's and the sites'
figures, pure.

Inputs: the instances of a service that compute sites advertise (Service
Instance TLVs, ``wire.ServiceInstance``), each site's energy status (its
Node Energy TLV, ``cats.energy.decoded``), both from the site's own area
or as copies ABRs leaked across areas (``agent.leak``, draft sec. 2.1.9;
the site's own copy wins, ``model.ted.TED.energy``), and per site the candidate
paths the head-end can use to reach it (``PathFigures``: intra-area or
through the ABRs' reachability vectors, draft sec. 2.1.9; the agent takes
them from its head-end choice, ``agent.headend``). ``rank`` returns every
reachable instance, feasible ones ordered by the joint cost below, each
term shown so an operator can audit the choice.

The joint cost of serving ``demand`` (bytes/s) at instance i over path p:

    cost = w_power  * (PWR_sum(p) * demand + W_per_unit(i) * demand)   [W]
         + w_carbon * W_site/1000 * CI * (1 - green_share)             [gCO2eq/h]
         + w_price  * W_site/1e6 * price                               [currency/h]
         + w_delay  * delay(p) in ms
         + w_score  * (10 - L2 score(i))                               [points]
         + w_load   * supply_load * 10                                 [points]

* path power: PWR is W per byte/s (draft sec. 2.1.8.2); times the demand it
  is the network power the demand is charged with.
* site power: W per unit of work is the instance's level-0 metric
  ``site_power_per_unit`` (W per byte/s of demand) when advertised, else
  the site's power drawn / the instance's capacity.
* carbon: the site's grid carbon intensity applied to the site power, the
  green share counted as carbon-free (seed sec. 4.3). Network power's
  carbon is not known per router and is left to w_power.
* price: currency per MWh times MW is currency per hour; priced only when
  every candidate states the same currency (else the term is left out of
  everyone's cost and the answer says so).
* A figure a site does not advertise is charged the worst value any other
  candidate advertises (``assumed``), so withholding data never wins.
* Figures come from the network and are hostile: a term that is not
  finite counts as infinite (the instance ranks last, the cost is never
  NaN), and a price below ``MIN_PRICE`` counts as ``MIN_PRICE``.

Bounds (hard, seed sec. 3.3 / 4.2): end-to-end delay at most
``max_delay_us`` (10 ms, 5 ms for critical traffic), delay variation at
most ``max_jitter_us`` (1 ms), demand within the instance's capacity and
the path's minimum available bandwidth, and the site's power drawn plus
the demand's site power within its capacity (W). A request no instance
meets says, per bound, its limit and the best figure any candidate had.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field

from pyfrr_pwr.proto import wire

__all__ = [
    "WEIGHTS",
    "TERMS",
    "DEFAULT_DEMAND",
    "MAX_DELAY_US",
    "CRITICAL_DELAY_US",
    "MAX_JITTER_US",
    "PathFigures",
    "Request",
    "Ranking",
    "parse_weights",
    "parse_delay",
    "rank",
    "instances_in",
    "energy_in",
    "figures_of",
    "service_tlvs",
    "l2_score",
    "request",
    "answer",
]

# default weights, per unit of each term (see the module docstring)
WEIGHTS = {"power": 1.0, "carbon": 1.0, "price": 1.0, "delay": 0.0, "score": 0.0, "load": 0.0}
TERMS = tuple(WEIGHTS)
DEFAULT_DEMAND = 1.25e8  # bytes/s (1 Gb/s) when a request names none
MAX_DELAY_US = 10_000.0  # seed sec. 3.3: end-to-end latency below 10 ms
CRITICAL_DELAY_US = 5_000.0  # seed sec. 3.3: 5 ms in critical scenarios
MAX_JITTER_US = 1_000.0  # seed sec. 3.3 / 4.2: jitter within 1 ms
MAX_WEIGHT = 1e9
MIN_PRICE = -10_000.0  # currency/MWh: a lower price counts as this (day-ahead markets clear at -500 EUR/MWh at the lowest)
L0_SITE_W_PER_UNIT = 8  # wire.L0_METRICS: site_power_per_unit


@dataclass(frozen=True)
class PathFigures:
    """One candidate path from the head-end to a site router, as aggregates."""

    to: str
    pwr_sum: float  # W per byte/s, summed along the path
    delay_us: float = 0.0
    jitter_us: float = 0.0  # sum of the links' delay variation (RFC 7471 sec. 4.3)
    avail_bw: float | None = None  # bytes/s, minimum along the path; None: not known
    hops: int = 0
    via: tuple = ()  # the ABR chain; () inside one area


@dataclass(frozen=True)
class Request:
    service: str
    demand: float = DEFAULT_DEMAND  # bytes/s
    max_delay_us: float | None = MAX_DELAY_US
    max_jitter_us: float | None = MAX_JITTER_US
    weights: dict = field(default_factory=lambda: dict(WEIGHTS))


@dataclass
class Ranking:
    service: str
    demand: float
    bounds: dict
    weights: dict
    ranked: list  # feasible instances, cheapest first
    rejected: list  # reachable instances that break a bound
    unreachable: list  # instances with no path from the head-end
    failed: dict  # bound -> {limit, best, instance} when nothing is feasible
    notes: list

    @property
    def best(self) -> dict | None:
        return self.ranked[0] if self.ranked else None

    def reason(self) -> str:
        """Why no instance qualifies, in one line."""
        if self.ranked:
            return ""
        if not (self.rejected or self.unreachable):
            return f"no instance of service {self.service!r} is advertised"
        if not self.rejected:
            return f"no instance of service {self.service!r} is reachable from here ({len(self.unreachable)} advertised)"
        parts = []
        for b, f in self.failed.items():
            parts.append(f"{b}: best {_fmt_bound(b, f['best'])} at {f['instance']} exceeds {_fmt_bound(b, f['limit'])}")
        return f"no instance of service {self.service!r} meets the bounds: " + "; ".join(parts)

    def to_json(self) -> dict:
        return {
            "service": self.service,
            "demand": self.demand,
            "bounds": self.bounds,
            "weights": self.weights,
            "ranked": self.ranked,
            "rejected": self.rejected,
            "unreachable": self.unreachable,
            "failed": self.failed,
            "notes": self.notes,
            "reason": self.reason(),
        }


def _fmt_bound(b: str, v) -> str:
    if v is None:
        return "-"
    if b in ("max_delay", "max_jitter"):
        return f"{v / 1000:.3g} ms"
    if b in ("capacity", "path_bandwidth"):
        return f"{v * 8 / 1e9:.4g} Gb/s"
    return f"{v:.4g} W"


# ------------------------------------------------------------ parsing

_DELAY = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(us|µs|ms|s)?\s*$")
_DELAY_MULT = {None: 1.0, "us": 1.0, "µs": 1.0, "ms": 1e3, "s": 1e6}


def parse_delay(v) -> float:
    """'10ms', '500us', '0.001s', or a number of microseconds -> us."""
    if isinstance(v, bool):
        raise ValueError(f"{v!r} is not a delay")
    if isinstance(v, (int, float)):
        x = float(v)
    elif isinstance(v, str) and len(v) <= 40 and (m := _DELAY.match(v)):
        x = float(m.group(1)) * _DELAY_MULT[m.group(2)]
    else:
        raise ValueError(f"{str(v)[:40]!r} is not a delay like 10ms, 500us or a number of microseconds")
    if not (math.isfinite(x) and x >= 0):
        raise ValueError(f"{v!r} is not a finite delay >= 0")
    return x


def parse_weights(v, base: dict | None = None) -> dict:
    """'power=1,carbon=0.5' (or a dict) over ``base`` (default ``WEIGHTS``);
    ValueError naming the term at fault."""
    out = dict(WEIGHTS if base is None else base)
    if v is None:
        return out
    items = v.items() if isinstance(v, dict) else None
    if items is None:
        if not isinstance(v, str):
            raise ValueError(f"weights: {v!r} is not TERM=NUMBER,...")
        items = []
        for part in filter(None, (p.strip() for p in v.split(","))):
            k, sep, x = part.partition("=")
            if not sep:
                raise ValueError(f"weights: {part!r} is not TERM=NUMBER (terms: {', '.join(TERMS)})")
            items.append((k.strip(), x.strip()))
    for k, x in items:
        if k not in WEIGHTS:
            raise ValueError(f"weights: unknown term {k!r} (terms: {', '.join(TERMS)})")
        try:
            w = float(x) if not isinstance(x, bool) else math.nan
        except (TypeError, ValueError):
            raise ValueError(f"weights: {k}={x!r} is not a number") from None
        if not (math.isfinite(w) and 0 <= w <= MAX_WEIGHT):
            raise ValueError(f"weights: {k}={x!r} must be a number from 0 to {MAX_WEIGHT:g}")
        out[k] = w
    return out


# ------------------------------------------------------------ inputs from the TEDs


def _site_copies(teds: dict, which: str) -> dict:
    """key -> ``model.ted.SiteCopy`` over all our areas: a site's own copy
    (learnt in its own area) before one an ABR leaked (``agent.leak``;
    draft sec. 2.1.9), then the newest readings, the fewest ABRs."""
    best: dict = {}
    for area, ted in sorted(teds.items()):
        for key, c in getattr(ted, which)().items():
            cur = best.get(key)
            if cur is None or c.rank() < cur[1].rank():
                best[key] = (area, c)
    return {k: c for k, (_a, c) in best.items()}


def instances_in(teds: dict, service: str | None = None) -> list[wire.ServiceInstance]:
    """Every Service Instance TLV the TEDs hold (of ``service``), one per
    (site, service, address), whichever area it was learnt in, the site's
    own copy or one an ABR leaked (its ``origin_area`` / ``abr_chain``
    say so)."""
    return [c.tlv for (_rid, sid, _addr), c in sorted(_site_copies(teds, "services").items()) if service is None or sid == service]


def energy_in(teds: dict, now: float | None = None, max_age: float | None = None, stats=None) -> dict:
    """site router ID -> its energy status (``cats.energy.decoded``), from
    its own area or leaked by an ABR (then ``via``: the ABR chain, and
    ``origin_area``, beside the readings). With ``max_age``, a reading
    older than that (advertised age, or the time since its timestamp when
    ``now`` is given) is left out, counted in ``stats``
    (``energy_stale_readings``), so it is charged as not advertised."""
    from pyfrr_pwr.cats.energy import decoded

    out = {}
    for site, c in sorted(_site_copies(teds, "energy").items()):
        d = decoded(c.tlv)
        if max_age is not None:
            for name in list(d):
                r = d[name]
                since = (now - r["ts"]) if (now is not None and r["ts"]) else 0.0
                if max(r["age_s"], since) > max_age:
                    del d[name]
                    if stats is not None:
                        stats["energy_stale_readings"] += 1
        if c.leaked:
            d["via"] = list(c.tlv.abr_chain)
            d["origin_area"] = c.tlv.origin_area
        out[site] = d
    return out


def figures_of(choice) -> list[PathFigures]:
    """A head-end's ``PathChoice`` (``proto.control``, or its JSON) as
    candidate PathFigures: the best, then the runners-up."""
    d = choice.to_json() if hasattr(choice, "to_json") else choice
    out = []
    for c in [d["best"], *d.get("runners_up", ())]:
        out.append(
            PathFigures(
                to=d["to"],
                pwr_sum=float(c["pwr"]),
                delay_us=float(c.get("delay_us") or 0.0),
                jitter_us=float(c.get("jitter_us") or 0.0),
                avail_bw=c.get("min_avail_bw"),
                hops=int(c.get("hops") or 0),
                via=tuple(c.get("abr_chain") or ()),
            )
        )
    return out


# ------------------------------------------------------------ the ranking


def _val(energy: dict, name: str):
    r = energy.get(name) if energy else None
    return r.get("value") if isinstance(r, dict) else None


def _site_w_per_unit(inst: wire.ServiceInstance, energy: dict) -> tuple[float | None, str]:
    for m in inst.l0:
        if m.metric == L0_SITE_W_PER_UNIT:
            return m.value, f"L0 site_power_per_unit ({m.source}, {m.statistic}, {m.window_ms / 1000:g} s)"
    pw = _val(energy, "power_w")
    if pw is not None and inst.capacity:
        return pw / inst.capacity, f"site power {pw:.4g} W / capacity {inst.capacity * 8 / 1e9:.4g} Gb/s"
    return None, "not advertised"


def _raw(inst, energy, path: PathFigures, demand: float) -> dict:
    """The figures behind the terms; None where a site advertises nothing."""
    wpu, how = _site_w_per_unit(inst, energy)
    site_w = None if wpu is None else wpu * demand
    ci, green, price = _val(energy, "carbon_g_per_kwh"), _val(energy, "green_share"), _val(energy, "price_per_mwh")
    cur = (energy.get("price_per_mwh") or {}).get("currency") if energy else None
    return {
        "path_w": path.pwr_sum * demand,
        "site_w": site_w,
        "site_w_how": how,
        "carbon_g_per_kwh": ci,
        "green_share": green,
        "price_per_mwh": price,
        "currency": cur,
        "l2_score": inst.l2_score,
        "supply_load": _val(energy, "supply_load"),
        "power_w": _val(energy, "power_w"),
        "capacity_w": _val(energy, "capacity_w"),
    }


def _violations(inst, path: PathFigures, raw: dict, req: Request) -> list[dict]:
    v = []
    if req.max_delay_us is not None and path.delay_us > req.max_delay_us:
        v.append({"bound": "max_delay", "limit": req.max_delay_us, "value": path.delay_us})
    if req.max_jitter_us is not None and path.jitter_us > req.max_jitter_us:
        v.append({"bound": "max_jitter", "limit": req.max_jitter_us, "value": path.jitter_us})
    if inst.capacity is not None and req.demand > inst.capacity:
        v.append({"bound": "capacity", "limit": req.demand, "value": inst.capacity})
    if path.avail_bw is not None and req.demand > path.avail_bw:
        v.append({"bound": "path_bandwidth", "limit": req.demand, "value": path.avail_bw})
    if raw["capacity_w"] is not None and raw["power_w"] is not None and raw["site_w"] is not None and raw["power_w"] + raw["site_w"] > raw["capacity_w"]:
        v.append({"bound": "site_power", "limit": raw["capacity_w"], "value": raw["power_w"] + raw["site_w"]})
    return v


# for "failed": is a smaller value better (delay) or a larger one (capacity)?
_SMALLER_IS_BETTER = {"max_delay": True, "max_jitter": True, "capacity": False, "path_bandwidth": False, "site_power": True}


def rank(instances, paths: dict, energy: dict, req: Request) -> Ranking:
    """Rank ``instances`` of ``req.service``; ``paths``: site router ID ->
    [PathFigures]; ``energy``: site router ID -> energy status dict."""
    if not (isinstance(req.demand, (int, float)) and math.isfinite(req.demand) and req.demand >= 0):
        raise ValueError(f"demand: {req.demand!r} is not a finite number of bytes/s >= 0")
    weights = parse_weights(req.weights)
    insts = [i for i in instances if i.service_id == req.service]
    notes, unreachable, rows = [], [], []
    for inst in insts:
        cands = [p for p in paths.get(inst.router_id, ()) if p.to == inst.router_id]
        if not cands:
            unreachable.append({"site": inst.router_id, "address": inst.address})
            continue
        e = energy.get(inst.router_id) or {}
        for p in cands:
            raw = _raw(inst, e, p, req.demand)
            rows.append((inst, p, raw, _violations(inst, p, raw, req)))
    # the worst advertised figure stands in for a missing one (withholding never wins)
    worst = {}
    for k, hi in (("site_w", True), ("carbon_g_per_kwh", True), ("price_per_mwh", True), ("l2_score", False), ("supply_load", True)):
        known = [r[2][k] for r in rows if r[2][k] is not None]
        worst[k] = (max(known) if hi else min(known)) if known else None
    currencies = {r[2]["currency"] for r in rows if r[2]["currency"]}
    price_ok = len(currencies) <= 1
    if not price_ok and weights["price"] > 0:
        notes.append(f"price left out: candidates quote different currencies ({', '.join(sorted(currencies))})")
    feasible, rejected = [], []
    for inst, p, raw, viol in rows:
        entry = _entry(inst, p, raw, worst, weights, price_ok, req.demand)
        if viol:
            entry["violations"] = viol
            rejected.append(entry)
        else:
            feasible.append(entry)
    # per instance, its cheapest feasible path; rejected only if it has none
    best_of = {}
    for e in sorted(feasible, key=_order):
        best_of.setdefault((e["site"], e["address"]), e)
    ranked = sorted(best_of.values(), key=_order)
    rej = {}
    for e in sorted(rejected, key=_order):
        if (e["site"], e["address"]) not in best_of:
            rej.setdefault((e["site"], e["address"]), e)
    failed = {}
    if not ranked:
        for e in rejected:
            for v in e["violations"]:
                b, small = v["bound"], _SMALLER_IS_BETTER[v["bound"]]
                cur = failed.get(b)
                if cur is None or (v["value"] < cur["best"] if small else v["value"] > cur["best"]):
                    failed[b] = {"limit": v["limit"], "best": v["value"], "instance": f"{e['address']} at {e['site']}"}
    bounds = {"max_delay_us": req.max_delay_us, "max_jitter_us": req.max_jitter_us}
    return Ranking(req.service, req.demand, bounds, weights, ranked, list(rej.values()), unreachable, failed, notes)


def _order(e: dict):
    return (e["cost"], e["figures"]["delay_us"], e["site"], e["address"])


def _entry(inst, p: PathFigures, raw: dict, worst: dict, weights: dict, price_ok: bool, demand: float) -> dict:
    def fig(k):
        v = raw[k]
        return (worst[k], True) if v is None else (v, False)

    site_w, a_site = fig("site_w")
    site_w = site_w or 0.0
    ci, a_ci = fig("carbon_g_per_kwh")
    green = raw["green_share"] or 0.0
    price, a_price = fig("price_per_mwh")
    if price is not None:  # a negative price may pay for power, within reason: never an unbounded gain
        price = max(price, MIN_PRICE)
    score, a_score = fig("l2_score")
    load, a_load = fig("supply_load")
    terms = {
        "power": (raw["path_w"] + site_w, "W", f"path {raw['path_w']:.4g} W (PWR sum x demand) + site {site_w:.4g} W ({raw['site_w_how']})", a_site),
        "carbon": (
            (site_w / 1e3) * (ci or 0.0) * (1 - green),
            "gCO2eq/h",
            f"site {site_w:.4g} W x {ci or 0:.4g} gCO2eq/kWh x (1 - green share {green:.2g})",
            a_ci or ci is None,
        ),
        "price": (
            (site_w / 1e6) * (price or 0.0) if price_ok else 0.0,
            f"{raw['currency'] or '-'}/h",
            f"site {site_w:.4g} W x {price or 0:.4g} {raw['currency'] or ''}/MWh" if price_ok else "left out (currencies differ)",
            a_price or price is None,
        ),
        "delay": (p.delay_us / 1e3, "ms", f"path delay {p.delay_us / 1e3:.4g} ms", False),
        "score": (10 - (score if score is not None else 0), "points", f"10 - L2 score {score if score is not None else '-'}", a_score or score is None),
        "load": ((load or 0.0) * 10, "points", f"supply load {load if load is not None else '-'} x 10", a_load or load is None),
    }
    out_terms = {}
    cost = 0.0
    for k, (value, unit, how, assumed) in terms.items():
        if not math.isfinite(value):  # absurd figures from the network rank last, never first (nor NaN)
            value, how = math.inf, how + "; not finite: counted as infinite"
        c = weights[k] * value if weights[k] else 0.0
        cost += c
        out_terms[k] = {"value": value, "unit": unit, "weight": weights[k], "cost": c, "how": how, "assumed": bool(assumed)}
    return {
        "service": inst.service_id,
        "address": inst.address,
        "site": inst.router_id,
        "via": list(p.via),
        "cost": cost,
        "terms": out_terms,
        "figures": {
            "pwr_sum": p.pwr_sum,
            "delay_us": p.delay_us,
            "jitter_us": p.jitter_us,
            "avail_bw": p.avail_bw,
            "hops": p.hops,
            "capacity": inst.capacity,
            **{k: raw[k] for k in ("path_w", "site_w", "carbon_g_per_kwh", "green_share", "price_per_mwh", "currency", "l2_score", "supply_load")},
        },
        "instance": {k: v for k, v in asdict(inst).items() if k not in ("unknown",)},
    }


# ------------------------------------------------------------ what a site advertises, what a head-end answers


def service_tlvs(router_id: str, services) -> list[wire.ServiceInstance]:
    """A site's Service Instance TLVs from its settings (``files.catscfg``:
    plain dicts of the ``wire.ServiceInstance`` fields, ``l0`` as dicts)."""
    out = []
    for s in services:
        s = dict(s)
        s["l0"] = tuple(wire.L0Metric(**m) for m in s.get("l0", ()))
        out.append(wire.ServiceInstance(router_id=router_id, **s))
    return out


def l2_score(value: float, lo: float, hi: float, higher_is_better: bool = False) -> int:
    """Level-2 score 0..10 by min-max normalisation (draft-ietf-cats-metric-
    definition's default): ``value`` within [lo, hi] -> 0..10, 10 best."""
    if not (math.isfinite(value) and math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise ValueError("l2_score: need finite value and lo < hi")
    x = (min(max(value, lo), hi) - lo) / (hi - lo)
    return int(round(10 * (x if higher_is_better else 1 - x)))


def request(service: str, demand=None, max_delay_us=None, max_jitter_us=None, weights=None, critical: bool = False, settings=None) -> Request:
    """A control request's fields as a ``Request``, the site settings'
    defaults (``files.catscfg.CatsSettings``: cats.request) filling what
    the request leaves out; ValueError names the field at fault."""
    if not isinstance(service, str) or not 1 <= len(service.encode("utf-8", "replace")) <= wire.MAX_NAME:
        raise ValueError(f"service: {str(service)[:80]!r} is not a service ID of 1 to {wire.MAX_NAME} octets")
    dflt_delay = getattr(settings, "max_delay_us", MAX_DELAY_US)
    if critical:
        dflt_delay = min(dflt_delay, CRITICAL_DELAY_US)
    d = demand if demand is not None else (getattr(settings, "demand", None) or DEFAULT_DEMAND)
    if isinstance(d, bool) or not isinstance(d, (int, float)) or not (math.isfinite(d) and d >= 0):
        raise ValueError(f"demand: {d!r} is not a finite number of bytes/s >= 0")
    md = parse_delay(max_delay_us) if max_delay_us is not None else dflt_delay
    mj = parse_delay(max_jitter_us) if max_jitter_us is not None else getattr(settings, "max_jitter_us", MAX_JITTER_US)
    base = parse_weights(getattr(settings, "weights", None) or None)
    return Request(service, float(d), md, mj, parse_weights(weights, base))


def answer(req: Request, teds: dict, paths_for, router_id: str | None = None, now: float | None = None, max_age: float | None = None, stats=None) -> dict:
    """The head-end's answer (``Ranking.to_json()``): the instances of
    ``req.service`` in our TEDs, their sites' energy, and the candidate
    paths ``paths_for(site)`` gives (the agent's head-end choice: intra-
    and inter-area; an exception or [] means unreachable). A site that is
    this router is reached by the empty path. ``now`` / ``max_age`` /
    ``stats``: as ``energy_in`` (stale readings charged as not advertised)."""
    insts = instances_in(teds, req.service)
    paths = {}
    for site in sorted({i.router_id for i in insts}):
        if site == router_id:
            paths[site] = [PathFigures(site, 0.0)]
            continue
        try:
            paths[site] = list(paths_for(site) or ())
        except Exception:  # a refusal: no path there  # noqa: BLE001
            paths[site] = []
    return rank(insts, paths, energy_in(teds, now, max_age, stats), req).to_json()
