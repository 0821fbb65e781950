"""What is reported per strategy and load point. Pure.

* ``watts``: total power as the strategy is operated (``Placement.sleep``:
  power-down and optimum-sleep switch idle elements off, OSPF and the
  draft keep every element up); ``watts_on`` / ``watts_sleep``: the same
  loads with every element up / with idle links and cards asleep, so each
  strategy can be read both ways.
* ``w_per_gbps``: watts per Gb/s of demand carried.
* ``placed`` / ``refused``: demands (OSPF "refuses" what crosses an
  overloaded link: those packets are dropped).
* ``max_util`` / ``mean_util``: over all arcs (each direction of a link).
* ``stretch``: the traffic-weighted mean hop count over the baseline's
  (OSPF with inverse-capacity costs), on the demands both placed; for a
  fractional flow (the optimum) the ratio of the total arc traffic when
  both placed everything.
* ``links_idle`` / ``cards_idle``: elements that carry nothing (could
  sleep); ``links_asleep`` / ``cards_asleep``: those switched off.
* ``seconds`` / ``cpu_seconds``: wall-clock and processor time of the
  strategy (the optimum's include building its programme).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from pyfrr_pwr.evaluate.instance import Instance
from pyfrr_pwr.evaluate.placement import Placement

__all__ = ["Row", "measure"]


@dataclass
class Row:
    strategy: str
    watts: float | None
    watts_on: float | None
    watts_sleep: float | None
    w_per_gbps: float | None
    offered_gbps: float
    carried_gbps: float
    placed: int
    refused: int
    max_util: float
    mean_util: float
    stretch: float | None
    links_idle: int
    cards_idle: int
    links_asleep: int
    cards_asleep: int
    seconds: float
    cpu_seconds: float | None = None  # processor time of the strategy (less noisy on a shared machine)
    bound_w: float | None = None  # the optimum's lower bound
    gap: float | None = None  # (watts - bound) / watts
    notes: dict | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def _hops(pl: Placement, i: int) -> float | None:
    r = pl.routes[i]
    return None if r is None else float(sum(r.values()))


def stretch(pl: Placement, base: Placement | None, demands: list) -> float | None:
    if base is None:
        return None
    if pl.notes.get("fractional"):
        if all(r is not None for r in pl.routes) and all(r is not None for r in base.routes):
            tb = float(base.loads.sum())
            return float(pl.loads.sum()) / tb if tb > 0 else None
        return None
    num = den = 0.0
    for i, d in enumerate(demands):
        a, b = _hops(pl, i), _hops(base, i)
        if a is None or b is None:
            continue
        num += d.bps * a
        den += d.bps * b
    return num / den if den > 0 else None


def measure(inst: Instance, demands: list, pl: Placement, base: Placement | None) -> Row:
    net, pm = inst.net, inst.power
    offered = sum(d.bps for d in demands) / 1e9
    placed = pl.placed
    carried = sum(d.bps for d, p in zip(demands, placed) if p) / 1e9
    util = pl.loads / net.caps
    notes = {k: v for k, v in pl.notes.items() if k not in ("routed",) and not isinstance(v, (list, dict, np.ndarray))}
    if pl.notes.get("no_solution"):
        return Row(
            pl.strategy,
            None,
            None,
            None,
            None,
            offered,
            0.0,
            0,
            len(demands),
            0.0,
            0.0,
            None,
            0,
            0,
            0,
            0,
            pl.seconds,
            pl.notes.get("cpu_seconds"),
            pl.notes.get("bound_w"),
            None,
            notes,
        )
    on = pm.account(net, pl.loads, False)
    asleep = pm.account(net, pl.loads, True)
    op = asleep if pl.sleep else on
    bound = pl.notes.get("bound_w")
    gap = (op.total_w - bound) / op.total_w if bound is not None and op.total_w > 0 else None
    return Row(
        pl.strategy,
        op.total_w,
        on.total_w,
        asleep.total_w,
        op.total_w / carried if carried > 0 else None,
        offered,
        carried,
        int(placed.sum()),
        int((~placed).sum()),
        float(util.max(initial=0.0)),
        float(util.mean()) if len(util) else 0.0,
        stretch(pl, base, demands),
        op.links_idle,
        op.cards_idle,
        op.links_asleep,
        op.cards_asleep,
        pl.seconds,
        pl.notes.get("cpu_seconds"),
        bound,
        max(gap, 0.0) if gap is not None else None,
        notes,
    )
