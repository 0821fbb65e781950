"""Strategy 5, the power-down baseline: concentrate traffic so that links
and line cards can sleep (the power-conserving placement idea of
draft-many-teas-power-steering; the greedy "least-flow first" switch-off of
Chiaraviglio, Mellia and Neri, "Reducing power consumption in backbone
networks", ICC 2009).

1. Place every demand (largest first) on its fewest-hop path that has the
   bandwidth (CSPF with the project's ``paths.ksp``).
2. Visit the links once, least loaded first. Switch a link off if every
   demand it carries can be re-placed, fewest hops again, on the links still
   on with the bandwidth left; otherwise keep it.
3. Links carrying nothing sleep with their ports; a line card whose ports
   all sleep sleeps (``powermodel.PowerModel.account`` with ``sleep``).

A greedy heuristic, not an optimum (``optimum`` with on/off variables is
the reference). The residual-bandwidth test of each search is an arc
exclusion list handed to the KSP core, so one compiled graph serves a whole
trial.
"""

from __future__ import annotations

import time

import networkx as nx
import numpy as np

from pyfrr_pwr.evaluate import demands as dem
from pyfrr_pwr.evaluate.network import Network
from pyfrr_pwr.evaluate.placement import Placement
from pyfrr_pwr.model.constraints import Constraints
from pyfrr_pwr.paths.ksp import CompiledGraph

__all__ = ["run"]

TOL = 1e-6  # bits/s


def _compile(net: Network, on: np.ndarray) -> CompiledGraph:
    G = nx.MultiDiGraph()
    G.add_nodes_from(net.nodes)
    for a in range(net.n_arcs):
        if on[a // 2]:
            u, v = net.arc_ends(a)
            G.add_edge(u, v, key=a, weight=1.0)
    return CompiledGraph.from_networkx(G)


def _path(net: Network, cg: CompiledGraph, on: np.ndarray, resid: np.ndarray, d) -> list | None:
    short = np.flatnonzero(resid < d.bps - TOL)
    excl = tuple(net.arc_ends(int(a)) + (int(a),) for a in short if on[a // 2])
    ps = cg.k_shortest_paths(d.src, d.dst, 1, Constraints(exclude_edges=excl))
    return [e[2] for e in ps[0].edges] if ps else None


def run(net: Network, demands: list) -> Placement:
    t0 = time.perf_counter()
    on = np.ones(len(net.links), dtype=bool)
    resid = net.caps.astype(float).copy()
    paths: list = [None] * len(demands)
    order = dem.order(net, demands)
    cg = _compile(net, on)
    for i in order:
        p = _path(net, cg, on, resid, demands[i])
        if p is not None:
            paths[i] = p
            resid[p] -= demands[i].bps
    load = net.caps - resid  # the visiting order: least loaded first, as placed
    tried = switched = 0
    for l in sorted(range(len(net.links)), key=lambda l: (load[2 * l] + load[2 * l + 1], l)):
        if not on[l]:
            continue
        tried += 1
        users = [i for i in order if paths[i] is not None and (2 * l in paths[i] or 2 * l + 1 in paths[i])]
        trial_on = on.copy()
        trial_on[l] = False
        trial_resid = resid.copy()
        for i in users:
            trial_resid[paths[i]] += demands[i].bps
        cg_t = _compile(net, trial_on)
        new = {}
        ok = True
        for i in users:
            p = _path(net, cg_t, trial_on, trial_resid, demands[i])
            if p is None:
                ok = False
                break
            new[i] = p
            trial_resid[p] -= demands[i].bps
        if not ok:
            continue
        on, resid = trial_on, trial_resid
        for i, p in new.items():
            paths[i] = p
        switched += 1
    loads = np.zeros(net.n_arcs)
    for i, p in enumerate(paths):
        if p is not None:
            loads[p] += demands[i].bps
    routes = [None if p is None else {a: 1.0 for a in p} for p in paths]
    return Placement("powerdown", loads, routes, sleep=True, seconds=time.perf_counter() - t0, notes={"links_tried": tried, "links_switched_off": switched})
