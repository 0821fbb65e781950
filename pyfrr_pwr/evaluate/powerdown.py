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
the reference). One compiled graph (``paths.ksp.CompiledGraph``, hop
weights) serves the whole run: its arcs' available bandwidth is kept equal
to the residual in place (``update_edges``; a link switched off, or on
trial, reads -inf) and each search asks for ``min_bandwidth`` = the demand
less ``TOL``, so an arc is usable exactly when ``resid >= bps - TOL``.
``inplace=False`` is the reference the tests compare with: a graph
compiled per trial without the links that are off and an arc exclusion
list for the residual test; the KSP core skips the same arcs either way,
and ``tests/test_evaluate_inplace.py`` checks the paths come out the same.
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


def _compile(net: Network, on: np.ndarray, bw: np.ndarray | None = None) -> CompiledGraph:
    G = nx.MultiDiGraph()
    G.add_nodes_from(net.nodes)
    for a in range(net.n_arcs):
        if on[a // 2]:
            u, v = net.arc_ends(a)
            if bw is None:
                G.add_edge(u, v, key=a, weight=1.0)
            else:
                G.add_edge(u, v, key=a, weight=1.0, avail_bw=float(bw[a]))
    return CompiledGraph.from_networkx(G)


def _path(net: Network, cg: CompiledGraph, on: np.ndarray, resid: np.ndarray, d) -> list | None:
    """The reference search: arcs short of bandwidth excluded by list."""
    short = np.flatnonzero(resid < d.bps - TOL)
    excl = tuple(net.arc_ends(int(a)) + (int(a),) for a in short if on[a // 2])
    ps = cg.k_shortest_paths(d.src, d.dst, 1, Constraints(exclude_edges=excl))
    return [e[2] for e in ps[0].edges] if ps else None


class _Live:
    """The one compiled graph whose available bandwidth mirrors a
    residual (bits/s here, not the wire's bytes/s: only this module reads
    it); links that are off read -inf."""

    def __init__(self, net: Network, on: np.ndarray, resid: np.ndarray):
        self.net = net
        self.shown = self._view(on, resid)
        self.cg = _compile(net, np.ones(len(net.links), dtype=bool), self.shown)
        self.keys = [net.arc_ends(a) + (a,) for a in range(net.n_arcs)]

    @staticmethod
    def _view(on: np.ndarray, resid: np.ndarray) -> np.ndarray:
        return np.where(np.repeat(on, 2), resid, -np.inf)

    def path(self, on: np.ndarray, resid: np.ndarray, d) -> list | None:
        want = self._view(on, resid)
        diff = np.flatnonzero(want != self.shown)
        if diff.size:
            self.cg.update_edges({self.keys[a]: {"avail_bw": float(want[a])} for a in diff.tolist()})
            self.shown = want
        need = d.bps - TOL
        if not need > 0:  # no bandwidth filter in the core: the reference search
            short = np.flatnonzero(want < need)
            cons = Constraints(exclude_edges=tuple(self.keys[a] for a in short.tolist()))
        else:
            cons = Constraints(min_bandwidth=need)
        ps = self.cg.k_shortest_paths(d.src, d.dst, 1, cons)
        return [e[2] for e in ps[0].edges] if ps else None


def run(net: Network, demands: list, inplace: bool = True) -> Placement:
    t0 = time.perf_counter()
    on = np.ones(len(net.links), dtype=bool)
    resid = net.caps.astype(float).copy()
    paths: list = [None] * len(demands)
    order = dem.order(net, demands)
    cg = _compile(net, on)
    live = _Live(net, on, resid) if inplace and hasattr(cg, "update_edges") else None

    def search(g, on_, resid_, d):
        return live.path(on_, resid_, d) if live is not None else _path(net, g, on_, resid_, d)

    for i in order:
        p = search(cg, on, resid, demands[i])
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
        cg_t = _compile(net, trial_on) if live is None else None
        new = {}
        ok = True
        for i in users:
            p = search(cg_t, trial_on, trial_resid, demands[i])
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
