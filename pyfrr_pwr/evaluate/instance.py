"""One evaluation instance: network with capacities and areas, power model,
demands at scale 1. Pure: ``sources`` has done the reading.

Capacities (topohub networks carry none): links are dimensioned the way an
operator sizes them for the matrix it carries. The matrix is routed on
hop-count OSPF with ECMP; it is multiplied so the busiest link carries
half of the largest port speed of the power model (the usual planning rule
of upgrading a link at 50 % busy-hour load); every link gets the smallest
port speed that keeps it at or below 50 %. So scale 1 is the matrix the
network was built for, and hop-count OSPF saturates at scale 2. Networks
with their own capacities (containerlab) keep them and only the matrix is
multiplied (``demands.normalise``), with the same meaning of scale 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pyfrr_pwr.evaluate import demands as dem
from pyfrr_pwr.evaluate import ospf
from pyfrr_pwr.evaluate.network import BACKBONE, Network, area_id, partition
from pyfrr_pwr.evaluate.powermodel import DEFAULTS, Defaults, PowerModel, build
from pyfrr_pwr.files.power import ConfigError

__all__ = ["Instance", "dimension", "with_partition", "prepare"]

TARGET_UTIL = 0.5


@dataclass
class Instance:
    net: Network
    power: PowerModel
    base: list  # Demand at scale 1, bits/s
    demand_source: str
    notes: list = field(default_factory=list)

    @property
    def total_bps(self) -> float:
        return float(sum(d.bps for d in self.base))


def dimension(net: Network, raw: list, speeds, util: float = TARGET_UTIL) -> tuple[Network, float]:
    """(network with capacities, factor turning ``raw`` into bits/s)."""
    speeds = sorted(float(s) for s in speeds)
    flat = net.with_capacities([1.0] * len(net.links))
    pl = ospf.run(flat, raw, "hop")
    per_link = np.maximum(pl.loads[0::2], pl.loads[1::2])
    top = per_link.max(initial=0.0)
    if not top > 0:
        raise ConfigError(f"{net.source}: the demands carry no traffic (all zero, or no pair is connected)")
    factor = util * speeds[-1] / top
    caps = []
    for x in per_link * factor:
        caps.append(next((s for s in speeds if x <= util * s * (1 + 1e-9)), speeds[-1]))
    return net.with_capacities(caps), factor


def with_partition(net: Network, n_areas: int) -> Network:
    """Areas for a flat network (``network.partition``)."""
    if n_areas <= 0:
        return net.with_areas([BACKBONE] * len(net.links), "flat")
    bb, parts = partition(net.graph(), n_areas)
    where = {}
    for i, p in enumerate(parts, 1):
        for n in p:
            where[n] = area_id(i)
    areas = [BACKBONE if (l.a in bb and l.b in bb) else where.get(l.a if l.a not in bb else l.b) for l in net.links]
    return net.with_areas(areas, f"partition({n_areas}): backbone of {len(bb)} routers, {len(parts)} areas")


def prepare(
    net: Network,
    matrix=None,
    files: dict | None = None,
    demand_file: str | None = None,
    n_areas: int = 2,
    defaults: Defaults = DEFAULTS,
    shape: str | None = None,
    idle_fraction: float | None = None,
) -> Instance:
    """``net`` from ``sources``; ``matrix`` its own demands ({src: {dst:
    value}}) if any; ``files`` its routers' power.yml models if any;
    ``demand_file`` a --demands file (loaded here, errors name it)."""
    notes = list(net.notes)
    if demand_file is not None:
        raw = dem.load_file(demand_file, net)
        source = f"file {demand_file}"
    elif matrix:
        raw = dem.from_matrix(matrix, net, f"{net.source} demand matrix")
        source = "SNDlib demand matrix"
    else:
        raw = dem.gravity(net)
        source = "gravity model (capacity-weighted)" if files else "gravity model (degree-weighted)"
    if not raw:
        raise ConfigError(f"{demand_file or net.source}: no demands (every entry is zero or a self-demand)")
    if net.areas_from == "flat":
        net = with_partition(net, n_areas)
    if not files:
        net, factor = dimension(net, raw, [c.speed for c in defaults.card_types])
        notes.append(f"capacities dimensioned from the demands: {_caps(net)}")
    else:
        factor = dem.normalise(net, raw)
    base = dem.scaled(raw, factor)
    pm = build(net, defaults, files, shape, idle_fraction)
    return Instance(net, pm, base, source, notes)


def _caps(net: Network) -> str:
    c: dict = {}
    for l in net.links:
        c[l.capacity] = c.get(l.capacity, 0) + 1
    return ", ".join(f"{n} x {s / 1e9:g}G" for s, n in sorted(c.items()))
