"""k shortest paths: pyfrr-pwr's C core against networkx, igraph and scipy,
on the same graphs and queries in the same run. Results: bench/results.json,
summarised by bench/summarize.py into ratios (bench/README.md). The
pyfrr_pwr test also times every peer query by query in one interleaved loop
and records those ratios (interleaved_ratio_*) in its extra_info: the
per-test medians drift with the machine's load between tests. A second
interleaved loop gives every peer one untimed run of the same query right
before its timed one (interleaved_warm_ratio_*): the cold loop measures
each query in caches the previous peer filled, the warm one does not."""

import itertools
import os
import statistics
import time

import igraph as ig
import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import yen

from pyfrr_pwr.paths.ksp import CompiledGraph

GRAPH_NAMES = ["grid30x30", "waxman1000", "ba2000", "area50"]
KS = [1, 8, 32, 128]
# pyfrr_pwr builds Path objects and reads their costs (a Path's nodes and
# edges tuples are built on first use); pyfrr_pwr_edges also reads every
# path's edges, what a caller that walks the links pays; pyfrr_pwr_costs is
# the costs-only call (CompiledGraph.costs), what scipy's yen returns
IMPLS = ["pyfrr_pwr", "pyfrr_pwr_edges", "pyfrr_pwr_costs", "scipy_yen", "igraph", "networkx"]

_prepared = {}


def prepared(graphs, name, impl):
    key = (name, impl)
    if key not in _prepared:
        G, pair = graphs(name)
        if impl in ("pyfrr_pwr", "pyfrr_pwr_edges", "pyfrr_pwr_costs"):
            obj = CompiledGraph.from_networkx(G)
        elif impl == "scipy_yen":
            u, v, w = zip(*((u, v, d["weight"]) for u, v, d in G.edges(data=True)))
            obj = sp.csr_array((np.array(w), (np.array(u), np.array(v))), shape=(len(G), len(G)))
            obj.indices = obj.indices.astype(np.int32)  # scipy's yen wants int32 indices
            obj.indptr = obj.indptr.astype(np.int32)
        elif impl == "igraph":
            obj = ig.Graph(n=len(G), edges=list(G.edges), directed=True)
            obj.es["weight"] = [d["weight"] for _, _, d in G.edges(data=True)]
        else:
            obj = G
        _prepared[key] = (obj, pair)
    return _prepared[key]


def query(impl, obj, s, t, k):
    if impl == "pyfrr_pwr":
        return [p.cost for p in obj.k_shortest_paths(s, t, k)]
    if impl == "pyfrr_pwr_edges":
        return [len(p.edges) for p in obj.k_shortest_paths(s, t, k)]
    if impl == "pyfrr_pwr_costs":
        return obj.costs(s, t, k)
    if impl == "scipy_yen":
        return list(yen(obj, s, t, k))
    if impl == "igraph":
        return obj.get_k_shortest_paths(s, to=t, k=k, weights="weight", mode="out", output="epath")
    return list(itertools.islice(nx.shortest_simple_paths(obj, s, t, weight="weight"), k))


def rounds_for(impl, name, k):
    if impl == "networkx":
        return 1 if (name != "area50" and k >= 32) else 3
    if impl in ("scipy_yen", "igraph") and name != "area50" and k >= 32:
        return 3
    return 15


def interleaved_ratios(graphs, name, k, warm=False):
    """Every peer and pyfrr-pwr query by query, round-robin in one loop, so
    a machine whose load changes between tests skews them alike; returns
    {peer: median peer time / median pyfrr-pwr time}. The slowest peer runs
    (networkx at K >= 32 on the big graphs, seconds each, already far past
    the goals) are left to their own tests.

    Cold (the default): each query runs right after the previous peer's, in
    caches that peer filled. Warm: each peer (us included) first runs the
    same query once untimed, right before its timed run, so every query is
    measured warm, still one peer after another
    (interleaved_warm_ratio_*)."""
    slow = {("grid30x30", 32), ("grid30x30", 128), ("waxman1000", 128), ("ba2000", 128)}
    impls = [i for i in IMPLS if not (i == "networkx" and (name, k) in slow)]
    rounds = 3 if name != "area50" and k >= 32 else 7
    times = {i: [] for i in impls}
    objs = {i: prepared(graphs, name, i) for i in impls}
    for _ in range(rounds):
        for i in impls:
            obj, (s, t) = objs[i]
            if warm:
                query(i, obj, s, t, k)
            t0 = time.perf_counter()
            query(i, obj, s, t, k)
            times[i].append(time.perf_counter() - t0)
    ours = statistics.median(times["pyfrr_pwr"])
    tag = "interleaved_warm_ratio" if warm else "interleaved_ratio"
    return {f"{tag}_{i}": statistics.median(times[i]) / ours for i in impls if i != "pyfrr_pwr"}


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("k", KS)
@pytest.mark.parametrize("name", GRAPH_NAMES)
def test_ksp(benchmark, graphs, name, k, impl):
    obj, (s, t) = prepared(graphs, name, impl)
    benchmark.group = f"ksp {name} K={k}"
    benchmark.extra_info.update(impl=impl, graph=name, k=k)
    r = rounds_for(impl, name, k)
    res = benchmark.pedantic(query, args=(impl, obj, s, t, k), rounds=r, iterations=1, warmup_rounds=1 if r > 1 else 0)
    if impl == "pyfrr_pwr":
        benchmark.extra_info.update(interleaved_ratios(graphs, name, k), loadavg_1min=os.getloadavg()[0])
        benchmark.extra_info.update(interleaved_ratios(graphs, name, k, warm=True), loadavg_1min_warm=os.getloadavg()[0])
    assert len(res) == min(k, len(res)) and len(res) > 0
