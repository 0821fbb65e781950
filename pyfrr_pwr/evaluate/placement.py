"""What a strategy hands back: where every demand went, and the arc loads.

A route is a mapping arc -> fraction of the demand on it (one path: every
fraction 1.0; OSPF ECMP: the split, sec. 2.1.5 of the draft names ECMP; the
optimum: a fractional flow). ``sleep`` says how the strategy is operated:
elements without traffic switched off (power-down, the optimum with on/off
variables) or every element powered (OSPF and the draft, which keep every
adjacency up).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Demand", "Placement", "EPS_BPS", "STRATEGIES"]

EPS_BPS = 1.0  # bits/s: a load below this is no traffic (solver round-off)
# every strategy, in the order a load point runs them (the optima last:
# they start from the heuristics' placements)
STRATEGIES = ("ospf-hop", "ospf-invcap", "draft", "draft-inter", "powerdown", "optimum", "optimum-sleep")


@dataclass(frozen=True)
class Demand:
    src: str
    dst: str
    bps: float  # bits/s at the scale being evaluated


@dataclass
class Placement:
    strategy: str
    loads: np.ndarray  # bits/s per arc
    routes: list  # per demand: {arc: fraction} or None when refused
    sleep: bool = False  # idle elements are switched off in this strategy
    seconds: float = 0.0
    notes: dict = field(default_factory=dict)

    @property
    def placed(self) -> np.ndarray:
        return np.array([r is not None for r in self.routes], dtype=bool)

    def hops(self, i: int) -> float | None:
        """Expected hop count of demand i (fractions summed over arcs)."""
        r = self.routes[i]
        return None if r is None else float(sum(r.values()))
