"""Strategy 1, the baseline: OSPF shortest paths with ECMP.

Every router forwards traffic for a destination over all its next hops on
shortest paths and splits it equally among them, per hop, as a FIB with
ECMP does (RFC 2328 sec. 16.1; parallel links are separate next hops). That
is not an equal split per path: at A with next hops B and C, C gets half
even if two equal paths continue behind B. Costs are integers, so "equal"
is exact.

Two metrics: hop count (cost 1) and inverse capacity (OSPF's auto-cost,
reference bandwidth / link bandwidth, here the largest capacity of the
network, at least 1), or the configured ``ip ospf cost`` where the file
gives one. OSPF does not refuse traffic: a demand whose paths cross an
overloaded arc is counted as not placed (its packets would be dropped).

Distances come from scipy's Dijkstra (``scipy.sparse.csgraph``); the
equal-split propagation is a walk in decreasing distance order, which no
library offers.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from pyfrr_pwr.evaluate.network import Network
from pyfrr_pwr.evaluate.placement import Placement

__all__ = ["igp_costs", "ecmp_routes", "run"]

OVERLOAD_TOL = 1e-9  # relative: a load this far above capacity is not an overload


def igp_costs(net: Network, metric: str) -> np.ndarray:
    """Integer OSPF cost per arc: 'hop' or 'invcap' (configured costs win
    for 'invcap')."""
    if metric == "hop":
        return np.ones(net.n_arcs, dtype=np.int64)
    if metric != "invcap":
        raise ValueError(f"unknown IGP metric {metric!r} (hop, invcap)")
    ref = float(net.caps.max())
    out = np.empty(net.n_arcs, dtype=np.int64)
    for a in range(net.n_arcs):
        l = net.links[a // 2]
        out[a] = l.igp_cost if l.igp_cost is not None else max(1, int(ref // l.capacity))
    return out


def ecmp_routes(net: Network, costs: np.ndarray, pairs: list) -> list:
    """For each (src, dst) the fraction of its traffic on every arc, as
    {arc: fraction}; None when dst is unreachable."""
    n = len(net.nodes)
    tails, heads = net.tails, net.heads
    w = costs.astype(float)
    # reverse graph (head -> tail) so one Dijkstra per destination gives
    # every node's distance to it; of parallel arcs the cheapest counts
    best: dict = {}
    for a in range(net.n_arcs):
        k = (int(heads[a]), int(tails[a]))
        if k not in best or w[a] < best[k]:
            best[k] = w[a]
    rows, cols = zip(*best) if best else ((), ())
    R = csr_matrix((list(best.values()), (rows, cols)), shape=(n, n))
    by_dst: dict = {}
    for i, (_, t) in enumerate(pairs):
        by_dst.setdefault(net.index(t), []).append(i)
    out: list = [None] * len(pairs)
    out_arcs = [[] for _ in range(n)]
    for a in range(net.n_arcs):
        out_arcs[tails[a]].append(a)
    for t, idxs in by_dst.items():
        d = dijkstra(R, directed=True, indices=t)
        nh = [[a for a in out_arcs[u] if np.isfinite(d[heads[a]]) and d[u] == w[a] + d[heads[a]]] for u in range(n)]
        topo = sorted((u for u in range(n) if np.isfinite(d[u])), key=lambda u: -d[u])
        for i in idxs:
            s = net.index(pairs[i][0])
            if not np.isfinite(d[s]) or s == t:
                out[i] = None if s != t else {}
                continue
            flow = np.zeros(n)
            flow[s] = 1.0
            route: dict = {}
            for u in topo:
                f = flow[u]
                if f == 0.0 or u == t:
                    continue
                share = f / len(nh[u])
                for a in nh[u]:
                    route[a] = route.get(a, 0.0) + share
                    flow[heads[a]] += share
            out[i] = route
    return out


def run(net: Network, demands: list, metric: str = "hop") -> Placement:
    t0 = time.perf_counter()
    costs = igp_costs(net, metric)
    routes = ecmp_routes(net, costs, [(d.src, d.dst) for d in demands])
    loads = np.zeros(net.n_arcs)
    for d, r in zip(demands, routes):
        if r:
            for a, f in r.items():
                loads[a] += f * d.bps
    over = loads > net.caps * (1 + OVERLOAD_TOL)
    final = [None if r is None or any(over[a] for a in r) else r for r in routes]
    return Placement(
        f"ospf-{metric}",
        loads,
        final,
        sleep=False,
        seconds=time.perf_counter() - t0,
        notes={"overloaded_arcs": int(over.sum()), "routed": routes},
    )
