"""The ABR workload of draft sec. 2.1: in a 200-node area, 4 ABRs compute
k=8 power-shortest paths to each of 50 TE endpoints (200 queries), in one
thread and split over two (draft sec. 2.3: a CompiledGraph serves several
threads; cffi releases the GIL inside the C core)."""

import gc
import hashlib
import itertools
import os
import random
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import networkx as nx
import pytest

from pyfrr_pwr.paths.ksp import CompiledGraph


@pytest.fixture(scope="module")
def area():
    U = nx.waxman_graph(200, beta=0.5, alpha=0.12, seed=7)
    U = U.subgraph(max(nx.connected_components(U), key=len)).copy()
    G = nx.DiGraph()
    rnd = random.Random(7)
    for u, v in U.edges:
        G.add_edge(u, v, weight=rnd.uniform(0.01, 1.0), avail_bw=rnd.uniform(1e8, 1.25e9))
        G.add_edge(v, u, weight=rnd.uniform(0.01, 1.0), avail_bw=rnd.uniform(1e8, 1.25e9))
    nodes = sorted(G)
    rnd.shuffle(nodes)
    return G, nodes[:4], nodes[4:54]


def test_abr_workload_pyfrr_pwr(benchmark, area):
    G, abrs, eps = area
    cg = CompiledGraph.from_networkx(G)
    pairs = [(a, e) for e in eps for a in abrs]  # grouped by target: one reverse search each
    benchmark.group = "abr 200 nodes, 4 ABRs x 50 endpoints, k=8"
    benchmark.extra_info.update(impl="pyfrr_pwr")
    res = benchmark.pedantic(cg.batch, args=(pairs, 8), rounds=30, iterations=1, warmup_rounds=2)
    assert len(res) == 200 and all(len(r) == 8 for r in res)


def test_abr_workload_networkx(benchmark, area):
    G, abrs, eps = area
    benchmark.group = "abr 200 nodes, 4 ABRs x 50 endpoints, k=8"
    benchmark.extra_info.update(impl="networkx")

    def run():
        return [list(itertools.islice(nx.shortest_simple_paths(G, a, e, weight="weight"), 8)) for e in eps for a in abrs]

    res = benchmark.pedantic(run, rounds=1, iterations=1)
    assert len(res) == 200


def _control_speedup(pool, size: int = 3 << 20) -> float:
    """What two threads gain on work that holds no GIL at all (sha256
    releases it), split as the KSP halves are (one on the calling thread,
    one on the pool's worker) and about as long as one half (3 MB: ~2.6 ms
    here): below ~1.9 the machine had no two free cores, and the KSP
    speed-up measured next to it cannot show more."""
    data = b"\0" * size

    def h(_=None):
        return hashlib.sha256(data).digest()

    one, two = [], []
    for _ in range(30):
        t0 = time.perf_counter()
        h(), h()
        t1 = time.perf_counter()
        f = pool.submit(h)
        h(), f.result()
        t2 = time.perf_counter()
        one.append(t1 - t0)
        two.append(t2 - t1)
    return statistics.median(one) / statistics.median(two)


def _runnable() -> int:
    """Tasks runnable right now (/proc/loadavg's fourth field, ours
    included): above ~3, another CPU hog shared the cores with the run."""
    with open("/proc/loadavg") as f:
        return int(f.read().split()[3].split("/")[0])


def test_abr_workload_pyfrr_pwr_2threads(benchmark, area):
    """The same 200 queries as two batches of 100 on two threads: the
    calling thread computes one half while one worker computes the other,
    as an ABR's own thread shares its round with a worker. (With both halves
    on pool workers, this VM's scheduler often queues the second worker on
    the first one's CPU for longer than a half takes, while the other CPU
    idles: perf sched, 3.2-3.7 ms run-queue waits; that measures the
    wake-up, not the batch.) The speed-up over one thread is measured round
    by round, interleaved, so a loaded machine skews both alike; it needs
    two free cores to reach 2x."""
    G, abrs, eps = area
    cg = CompiledGraph.from_networkx(G)
    pairs = [(a, e) for e in eps for a in abrs]
    halves = [pairs[:100], pairs[100:]]
    with ThreadPoolExecutor(1) as pool:

        def two():
            f = pool.submit(cg.batch, halves[1], 8)
            return cg.batch(halves[0], 8) + f.result()

        assert two() == cg.batch(pairs, 8)  # warms both threads' workspaces too
        one_t, two_t = [], []
        # A batch pauses the cyclic GC (paths.gcpause), so the collection its
        # 1600 Paths make due runs at the process's next allocation, here
        # the next timed call's: one thread's always landed in two()'s
        # timing, which paid both (0.28 ms a round of 2.6). The collector
        # is off while timing and collects between rounds, untimed, so each
        # side measures its batches alone.
        for _ in range(30):
            gc.collect()
            gc.disable()
            try:
                t0 = time.perf_counter()
                cg.batch(pairs, 8)
                t1 = time.perf_counter()
                two()
                t2 = time.perf_counter()
            finally:
                gc.enable()
            one_t.append(t1 - t0)
            two_t.append(t2 - t1)
        benchmark.group = "abr 200 nodes, 4 ABRs x 50 endpoints, k=8"
        benchmark.extra_info.update(
            impl="pyfrr_pwr_2threads",
            speedup_2_threads=statistics.median(one_t) / statistics.median(two_t),
            control_speedup_2_threads_no_gil=_control_speedup(pool),
            loadavg_1min=os.getloadavg()[0],
            runnable_at_end=_runnable(),
        )
        res = benchmark.pedantic(two, rounds=30, iterations=1, warmup_rounds=2)
    assert len(res) == 200 and all(len(r) == 8 for r in res)
