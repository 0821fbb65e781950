"""The evaluation's fast paths give the same answers as the plain ones.

Issue 8's germany50 sweep has to run in under a minute, so the strategies
update their compiled CSPF graphs in place (``CompiledGraph.update_edges``)
instead of recompiling after each placement, the inter-area simulation
patches its TE databases' graphs instead of rebuilding them, and power-down
keeps one compiled graph whose bandwidth mirrors the residual. Each has a
reference switch (``inplace=False`` / ``patch=False``); here both runs must
agree route for route, on real networks with their own demands."""

import numpy as np
import pytest

from pyfrr_pwr.evaluate import demands as dem
from pyfrr_pwr.evaluate import draft, instance, powerdown, sources
from pyfrr_pwr.model.constraints import Constraints
from pyfrr_pwr.model.ted import TED
from pyfrr_pwr.paths import interarea as ia
from pyfrr_pwr.paths.ksp import CompiledGraph


@pytest.fixture(scope="module", params=["sndlib/abilene", "sndlib/geant"])
def inst(request):
    net, matrix = sources.load_topohub(request.param)
    return instance.prepare(net, matrix)


def _same(a, b):
    assert a.routes == b.routes
    assert np.array_equal(a.loads, b.loads)


@pytest.mark.parametrize("scale", [0.6, 1.5])
def test_intra_in_place_equals_recompiling(inst, scale):
    ds = dem.scaled(inst.base, scale)
    fast = draft.run_intra(inst.net, inst.power, ds)
    ref = draft.run_intra(inst.net, inst.power, ds, inplace=False)
    _same(fast, ref)
    assert fast.notes["floods"] == ref.notes["floods"] and fast.notes["suppressed"] == ref.notes["suppressed"]
    assert fast.notes["compiles"] == 0 and ref.notes["compiles"] == sum(r is not None for r in ref.routes)


def _inter_same(inst, refresh):
    ds = dem.scaled(inst.base, 1.2)
    fast = draft.run_inter(inst.net, inst.power, ds, refresh=refresh)
    ref = draft.run_inter(inst.net, inst.power, ds, refresh=refresh, inplace=False, patch=False)
    _same(fast, ref)
    assert fast.notes == ref.notes


def test_inter_patched_equals_plain_teds(inst):
    _inter_same(inst, None)


def test_inter_patched_equals_plain_teds_with_a_vector_refresh_per_placement():
    """Abilene only: a vector recomputation per placement costs minutes on geant."""
    _inter_same(instance.prepare(*sources.load_topohub("sndlib/abilene")), 1)


@pytest.mark.parametrize("scale", [0.5, 1.9])
def test_powerdown_live_graph_equals_per_trial_compiles(inst, scale):
    ds = dem.scaled(inst.base, scale)
    fast, ref = powerdown.run(inst.net, ds), powerdown.run(inst.net, ds, inplace=False)
    _same(fast, ref)
    assert fast.notes == ref.notes


def test_patched_teds_answer_like_fresh_ones(inst):
    """After placements, a patched TED's graph, compiled graph and the
    head-end's selection over it equal a TED built from the same LSAs; and
    before an ABR recomputes, a patched graph is a new object (the vector
    computer reads the same object as "nothing changed")."""
    net = inst.net
    adv = draft.Advertiser(net, inst.power)
    sim = draft.InterArea(net, adv, 2)
    sim.refresh(rounds=4)
    before = {a: t.graph() for a, t in sim.teds.items()}
    for d in dem.scaled(inst.base, 1.5)[:60]:
        arcs = sim.place(d.src, d.dst, d.bps)
        if arcs:
            sim.update(adv.reserve(arcs, d.bps))
    rid = net.router_ids
    for area, ted in sim.teds.items():
        fresh = TED(area)
        fresh.lsas = dict(ted.lsas)
        G, F = ted.graph(), fresh.graph()
        assert sorted(G.edges(keys=True)) == sorted(F.edges(keys=True))
        for e in F.edges(keys=True):
            assert G.edges[e] == F.edges[e], e
        cg, ref = ted.compiled(), CompiledGraph.from_networkx(F)
        nodes = sorted(F)
        for s in nodes[:6]:
            for t in nodes[-6:]:
                if s != t:
                    assert cg.costs(s, t, 2) == pytest.approx(ref.costs(s, t, 2), rel=0, abs=0), (s, t)
        for src in [n for n in net.nodes if area in sim.areas_of[n]][:4]:
            for dst in net.nodes[-5:]:
                if src == dst:
                    continue
                vecs = sim.index.get(area, {}).get(rid[dst], [])
                c = Constraints(min_bandwidth=1.0)
                a = ia.select(rid[src], rid[dst], ted, vecs, k=2, constraints=c, compiled=cg)
                b = ia.select(rid[src], rid[dst], fresh, vecs, k=2, constraints=c, compiled=ref)
                assert a == b, (area, src, dst)
    changed = [a for a, t in sim.teds.items() if t.graph() is before[a]]
    sim.refresh()
    assert all(sim.teds[a].graph() is not before[a] for a in changed)
