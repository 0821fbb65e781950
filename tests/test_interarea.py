"""Inter-area power-shortest paths (draft sec. 2, 2.1.9, 2.2), offline on
the fig-2-0 topology files, against a central oracle."""

import dataclasses
import itertools
import math

import networkx as nx
import numpy as np
import pytest
from conftest import ROOT
from helpers.oracle import HEADS, TAILS, layered, oracle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyfrr_pwr.files.topology import load_topology
from pyfrr_pwr.model.constraints import Constraints
from pyfrr_pwr.model.ted import TED
from pyfrr_pwr.offline.pipeline import area_of_router, build_teds, interarea
from pyfrr_pwr.paths import interarea as ia
from pyfrr_pwr.proto import wire

FIG20 = ROOT / "containerlab/fig-2-0.clab.yml"


def computed_fig20(k):
    """fig-2-0's TEDs with every ABR's vectors flooded into them."""
    topo = load_topology(FIG20)
    teds = build_teds(topo)
    interarea(topo, teds, k=k)
    return topo, teds


@pytest.fixture(scope="module")
def fig20():
    return computed_fig20(8)


def choose(topo, teds, h, t, k=8, **c):
    hr, tr = topo.resolve(h).router_id, topo.resolve(t).router_id
    a = area_of_router(topo, teds, hr)
    vecs = [(adv, v) for adv, _, v in teds[a].vectors()]
    return ia.select(hr, tr, teds[a], vecs, k=k, constraints=Constraints(**c))


@pytest.mark.parametrize("h,t", list(itertools.product(HEADS, TAILS)) + [(t, h) for h, t in itertools.product(HEADS, TAILS)])
def test_every_pair_gets_the_central_optimum(fig20, h, t):
    topo, teds = fig20
    sel = choose(topo, teds, h, t)
    assert sel.best is not None, sel.reason
    order = ["0.0.0.1", "0.0.0.0", "0.0.0.2"] if h.startswith("TEh") else ["0.0.0.2", "0.0.0.0", "0.0.0.1"]
    want = oracle(teds, topo.resolve(h).router_id, topo.resolve(t).router_id, order)
    assert sel.best.total.pwr == pytest.approx(want, rel=1e-6)
    # the head-end knows its own path and only the ABR sequence beyond it
    assert sel.best.head_path[0] == topo.resolve(h).router_id
    assert sel.best.head_path[-1] == sel.best.abr_chain[0]
    assert len(sel.best.abr_chain) == 2
    totals = [c.total.pwr for c in sel.choices]
    assert totals == sorted(totals) and len(totals) > 1  # runners-up


def oracle_hops(teds, src, dst, order, max_hops):
    """The oracle under a hop bound: every simple path of the layered graph
    (fig-2-0 is small enough to enumerate)."""
    L = layered(teds, order)
    best = math.inf
    for p in nx.all_simple_paths(L, (src, order[0]), (dst, order[-1]), cutoff=max_hops + len(order)):
        edges = list(zip(p, p[1:]))
        if sum(L[u][v]["hop"] for u, v in edges) <= max_hops:
            best = min(best, sum(L[u][v]["weight"] for u, v in edges))
    return best


@pytest.mark.parametrize("tail,max_hops,k1", [("TEt2", 6, "none"), ("TEt1", 7, "worse")])
def test_small_k_loses_under_a_hop_bound_large_k_does_not(fig20, tail, max_hops, k1):
    """Vectors carry only k paths per endpoint. When the cheapest ones are
    too long for a request, k=1 has nothing (or only something worse) to
    offer; with k=64 the choice is the bounded central optimum again."""
    topo, teds = fig20
    h, t = topo.resolve("TEh1").router_id, topo.resolve(tail).router_id
    want = oracle_hops(build_teds(topo), h, t, ["0.0.0.1", "0.0.0.0", "0.0.0.2"], max_hops)
    assert math.isfinite(want)
    small = build_and_choose(topo, 1, "TEh1", tail, max_hops=max_hops)
    if k1 == "none":
        assert small.best is None and "meets the constraints" in small.reason
    else:
        assert small.best.total.pwr > want * (1 + 1e-6)
    big = build_and_choose(topo, 64, "TEh1", tail, max_hops=max_hops)
    assert big.best.total.pwr == pytest.approx(want, rel=1e-9)
    assert big.best.total.hops <= max_hops


def build_and_choose(topo, k, h, t, **c):
    _, teds = computed_fig20(k)
    return choose(topo, teds, h, t, k=k, **c)


def test_no_offer_gives_a_clear_reason(fig20):
    topo, teds = fig20
    sel = ia.select(topo.resolve("TEh1").router_id, "192.0.2.1", teds["0.0.0.1"], [], k=4)
    assert sel.best is None and "advertises a path to 192.0.2.1" in sel.reason


def test_vectors_are_ordered_and_carry_the_abr_chain(fig20):
    topo, teds = fig20
    vecs = [v for _, _, v in teds["0.0.0.1"].vectors()]
    assert vecs
    for v in vecs:
        pw = [p.pwr_sum for p in v.paths]
        assert pw == sorted(pw)
        assert len(v.abr_chain) == 2 and v.area == "0.0.0.2"  # {ABR1, ABR2, [...]}
        assert all(p.endpoint in {topo.resolve(n).router_id for n in TAILS} for p in v.paths)


def test_fragments_fit_lsas():
    paths = tuple(wire.PathInfo(f"10.0.{i // 250}.{i % 250 + 1}", float(i), 1e9, i, 3, 0, 10) for i in range(120))
    vec = wire.ReachabilityVector(("1.1.1.1", "2.2.2.2"), "0.0.0.2", paths)
    frags = ia.fragment(vec, generation=7)
    assert len(frags) == 3
    for f in frags:
        assert len(wire.encode([f])) <= wire.MAX_BODY
        assert wire.decode(wire.encode([f])) == [f]
    # reassembly by readers: test_readers_use_the_newest_complete_generation_from_the_lsdb


def test_equal_pwr_alternatives_form_an_ecmp_set():
    ted = TED("0.0.0.1")
    lsid = iter(range(1, 100))

    def link(a, b, la, lb, pwr):
        for x, y, lx, ly in ((a, b, la, lb), (b, a, lb, la)):
            ted.apply(x, wire.make_lsid(200, next(lsid)), wire.encode([wire.LinkTLV(y, local_addrs=(lx,), remote_addrs=(ly,), pwr_consumed=pwr, avail_bw=1e9)]))

    link("1.0.0.1", "2.0.0.1", "10.1.0.0", "10.1.0.1", 1.0)  # head - ABR a
    link("1.0.0.1", "2.0.0.2", "10.2.0.0", "10.2.0.1", 1.0)  # head - ABR b
    vecs = [
        ("2.0.0.1", wire.ReachabilityVector(("2.0.0.1", "3.0.0.1"), "0.0.0.2", (wire.PathInfo("9.9.9.9", 2.0, 1e9),))),
        ("2.0.0.2", wire.ReachabilityVector(("2.0.0.2", "3.0.0.2"), "0.0.0.2", (wire.PathInfo("9.9.9.9", 2.0, 1e9), wire.PathInfo("9.9.9.9", 5.0, 1e9)))),
    ]
    sel = ia.select("1.0.0.1", "9.9.9.9", ted, vecs, k=4)
    assert {c.abr_chain for c in sel.ecmp} == {("2.0.0.1", "3.0.0.1"), ("2.0.0.2", "3.0.0.2")}
    assert len(sel.choices) == 3 and sel.choices[-1].total.pwr == 6.0


@pytest.fixture(scope="module")
def fig20_fresh():
    return computed_fig20(4)


def norm(d):
    return {a: sorted(v, key=lambda x: (x.abr_chain, x.area)) for a, v in d.items()}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from([0.25, 0.5, 0.99, 1.01, 2.0, 8.0]), st.booleans()), min_size=1, max_size=4))
def test_incremental_vectors_equal_a_full_recomputation(fig20_fresh, changes):
    import copy

    topo, base = fig20_fresh
    teds = {a: copy.copy(t) for a, t in base.items()}
    for t in teds.values():
        t.lsas = dict(t.lsas)
    abrs = {r.router_id: {a: teds[a] for a in r.areas} for r in topo.routers.values() if r.abr}
    comps = {abr: ia.VectorComputer(abr, 4) for abr in abrs}
    for abr, mine in abrs.items():
        assert norm(comps[abr].compute(mine)) == norm(ia.abr_vectors(abr, mine, 4))
    for pick, factor, on_bw in changes:
        area = sorted(teds)[pick % len(teds)]
        keys = sorted(k for k, v in teds[area].lsas.items() if isinstance(v[0], wire.LinkTLV))
        key = keys[pick % len(keys)]
        (t,) = teds[area].lsas[key]
        if on_bw:
            t2 = dataclasses.replace(t, avail_bw=float(np.float32(t.avail_bw * factor)))
        else:
            t2 = dataclasses.replace(t, pwr_consumed=float(np.float32(t.pwr_consumed * factor)))
        teds[area].lsas[key] = [t2]
        for abr, mine in abrs.items():
            before = comps[abr].stats["targets_searched"]
            assert norm(comps[abr].compute(mine)) == norm(ia.abr_vectors(abr, mine, 4))
            if area not in mine:
                assert comps[abr].stats["targets_searched"] == before  # untouched areas: no search


def test_a_worse_link_off_every_path_searches_nothing(fig20_fresh):
    import copy

    topo, base = fig20_fresh
    teds = {a: copy.copy(t) for a, t in base.items()}
    for t in teds.values():
        t.lsas = dict(t.lsas)
    abr = topo.resolve("ABR2").router_id
    mine = {a: teds[a] for a in topo.resolve("ABR2").areas}
    vc = ia.VectorComputer(abr, 1)
    vc.compute(mine)
    used = {e for ps in vc.areas["0.0.0.2"]["table"].values() for _, p in ps for e in p.edges}
    G = teds["0.0.0.2"].graph()
    off = [(u, v, k) for u, v, k in G.edges(keys=True) if (u, v, k) not in used and (v, u) not in {(e[0], e[1]) for e in used}]
    assert off
    u, v, key = off[0]
    lk = next(k for k, tl in teds["0.0.0.2"].lsas.items() if k[0] == u and isinstance(tl[0], wire.LinkTLV) and tl[0].local_addrs[0] == key)
    (t,) = teds["0.0.0.2"].lsas[lk]
    teds["0.0.0.2"].lsas[lk] = [dataclasses.replace(t, pwr_consumed=t.pwr_consumed * 4)]
    before = dict(vc.stats)
    assert norm(vc.compute(mine)) == norm(ia.abr_vectors(abr, mine, 1))
    assert vc.stats["full_area_searches"] == before["full_area_searches"]
    assert vc.stats["targets_searched"] - before["targets_searched"] < len(vc.areas["0.0.0.2"]["table"])


def test_readers_use_the_newest_complete_generation_from_the_lsdb():
    """What an agent reads from its TED while an ABR replaces a long vector:
    the old generation until every fragment of the new one has arrived."""
    paths = tuple(wire.PathInfo(f"10.9.{i // 250}.{i % 250 + 1}", float(i), 1e9) for i in range(120))
    old = wire.ReachabilityVector(("1.1.1.1", "2.2.2.2"), "0.0.0.2", paths)
    new = wire.ReachabilityVector(old.abr_chain, old.area, paths[:100])
    ted = TED("0.0.0.1")
    for i, f in enumerate(ia.fragment(old, 7)):
        ted.apply("1.1.1.1", f"200.0.1.{i}", wire.encode([f]))
    fr = ia.fragment(new, 8)
    assert len(fr) == 2
    ted.apply("1.1.1.1", "200.0.2.0", wire.encode([fr[0]]))
    assert ia.complete_vectors(ted) == [("1.1.1.1", old)]  # no gap
    ted.apply("1.1.1.1", "200.0.2.1", wire.encode([fr[1]]))
    assert ia.complete_vectors(ted) == [("1.1.1.1", new)]
    for i in range(3):  # the originator deletes the old generation
        ted.withdraw("1.1.1.1", f"200.0.1.{i}")
    assert ia.complete_vectors(ted) == [("1.1.1.1", new)]
