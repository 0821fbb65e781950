"""Run the strategies on one instance over a range of loads.

The load is ``scale`` times the instance's demands at scale 1 (the matrix
the network is dimensioned for: hop-count OSPF's busiest link at 50 %).
``auto_scales`` sweeps "from light to the point where the first strategy
cannot place everything": ``points`` evenly spaced scales up to a little
past the lowest OSPF saturation (both OSPF metrics are linear in the load,
so that point is known in advance); they are run in order and the sweep
stops at the first point where any strategy refuses a demand; the points
left over bisect the last interval (cut it in ``jobs`` + 1 with ``jobs``
workers), so the sweep ends close to the load at which the first strategy
gives up.

Load points are independent: ``jobs`` > 1 runs that many at a time in
worker processes.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from pyfrr_pwr.evaluate import demands as dem
from pyfrr_pwr.evaluate import draft, optimum, ospf, powerdown
from pyfrr_pwr.evaluate.instance import Instance
from pyfrr_pwr.evaluate.metrics import measure
from pyfrr_pwr.evaluate.placement import STRATEGIES

__all__ = ["STRATEGIES", "Options", "Point", "Sweep", "run_point", "saturation", "sweep"]

BASELINE = "ospf-invcap"


@dataclass(frozen=True)
class Options:
    strategies: tuple = STRATEGIES
    k: int = 2  # paths per ABR vector entry and per head-end search (draft sec. 2.1.9)
    refresh: int | None = None  # placements between vector recomputations (draft-inter)
    time_limit: float = 10.0  # seconds per optimum programme
    band_ratio: float = 1.25
    hysteresis: float = 0.05


@dataclass
class Point:
    scale: float
    rows: dict  # strategy -> Row
    placements: dict = field(default_factory=dict)  # strategy -> Placement (dropped across processes)

    @property
    def refusals(self) -> list:
        """Strategies that refused a demand. An optimum that found no
        solution within its time limit (HiGHS's limit is wall-clock, so a
        busy machine can cause it) refused nothing: it is not counted, or
        the sweep would stop at a load every strategy can carry."""
        return [s for s, r in self.rows.items() if r.refused and not _timed_out(r)]


def _timed_out(r) -> bool:
    n = r.notes or {}
    return bool(n.get("no_solution")) and not n.get("infeasible")


@dataclass
class Sweep:
    inst: Instance
    options: Options
    points: list  # Point, by scale
    seconds: float
    first_refusal: tuple | None  # (scale, [strategies])


def run_point(inst: Instance, scale: float, opts: Options, keep: bool = False) -> Point:
    ds = dem.scaled(inst.base, scale)
    pls: dict = {}
    todo = list(opts.strategies)
    if BASELINE not in todo:
        todo.insert(0, BASELINE)  # stretch is measured against it
    if "optimum-sleep" in todo and "powerdown" not in todo:
        todo.insert(todo.index("optimum-sleep"), "powerdown")  # a MIP start
    for s in todo:
        c0 = time.process_time()
        _run(s, inst, ds, opts, pls)
        pls[s].notes["cpu_seconds"] = time.process_time() - c0
    base = pls.get(BASELINE)
    rows = {s: measure(inst, ds, pls[s], base) for s in opts.strategies}
    return Point(scale, rows, {s: pls[s] for s in opts.strategies} if keep else {})


def _run(s: str, inst: Instance, ds: list, opts: Options, pls: dict) -> None:
    net, pm = inst.net, inst.power
    if s == "ospf-hop":
        pls[s] = ospf.run(net, ds, "hop")
    elif s == "ospf-invcap":
        pls[s] = ospf.run(net, ds, "invcap")
    elif s == "draft":
        pls[s] = draft.run_intra(net, pm, ds, opts.band_ratio, opts.hysteresis)
    elif s == "draft-inter":
        pls[s] = draft.run_inter(net, pm, ds, opts.k, opts.refresh, opts.band_ratio, opts.hysteresis)
    elif s == "powerdown":
        pls[s] = powerdown.run(net, ds)
    elif s in ("optimum", "optimum-sleep"):
        sleep = s == "optimum-sleep"
        pls[s] = optimum.run(net, pm, ds, sleep, opts.time_limit, start=_best_start(inst, pls, sleep))
    else:
        raise ValueError(f"unknown strategy {s!r} (one of {', '.join(STRATEGIES)})")


def _best_start(inst: Instance, pls: dict, sleep: bool):
    """The MIP start of an optimum: the placement so far that draws least
    under the same accounting, among those that carried every demand
    within capacity (a MILP can only improve on it)."""
    net, pm = inst.net, inst.power
    ok = [p for p in pls.values() if not p.notes.get("fractional") and all(r is not None for r in p.routes) and (p.loads <= net.caps * (1 + 1e-9)).all()]
    return min(ok, key=lambda p: pm.account(net, p.loads, sleep).total_w, default=None)


def saturation(inst: Instance) -> float:
    """The scale at which the first OSPF metric fills a link."""
    out = math.inf
    for m in ("hop", "invcap"):
        pl = ospf.run(inst.net, inst.base, m)
        u = float((pl.loads / inst.net.caps).max(initial=0.0))
        if u > 0:
            out = min(out, 1.0 / u)
    return out


def _point(args):
    inst, scale, opts = args
    return run_point(inst, scale, opts)


def sweep(inst: Instance, opts: Options, scales: list | None = None, points: int = 10, jobs: int = 1, progress=None) -> Sweep:
    """Explicit ``scales``, or the automatic sweep of the module docstring."""
    t0 = time.perf_counter()
    done: list = []
    pool = ProcessPoolExecutor(jobs) if jobs > 1 else None

    def run_many(ss):
        if pool is None:
            out = []
            for s in ss:
                out.append(run_point(inst, s, opts))
                if progress:
                    progress(out[-1])
            return out
        out = list(pool.map(_point, [(inst, s, opts) for s in ss]))
        if progress:
            for p in out:
                progress(p)
        return out

    try:
        if scales:
            done = run_many(sorted(scales))
        else:
            top = saturation(inst)
            if not math.isfinite(top):
                raise ValueError(f"{inst.net.source}: the demands load no link")
            n = max(int(points), 2)
            grid = [top * i / (n - 1) for i in range(1, n + 1)]
            step = max(1, jobs)
            i = 0
            while i < len(grid):
                batch = run_many(grid[i : i + step])
                done += batch
                i += step
                if any(p.refusals for p in batch):
                    break
            while len(done) < n:
                done.sort(key=lambda p: p.scale)
                ok = [p for p in done if not p.refusals]
                bad = [p for p in done if p.refusals]
                if not bad:
                    break
                hi = bad[0].scale
                lo = max((p.scale for p in ok if p.scale < hi), default=0.0)
                m = min(step, n - len(done))  # with jobs > 1 the interval is cut in m + 1
                done += run_many([lo + (hi - lo) * j / (m + 1) for j in range(1, m + 1)])
    finally:
        if pool is not None:
            pool.shutdown()
    done.sort(key=lambda p: p.scale)
    first = next(((p.scale, p.refusals) for p in done if p.refusals), None)
    return Sweep(inst, opts, done, time.perf_counter() - t0, first)
