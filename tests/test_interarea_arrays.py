"""The array form of the inter-area computation (issue 10) against the
scalar reference, the TED's graph cache, and jitter (issue 9).

``interarea._combine`` (the C core's heap walk, csrc/pwr_transit.c) must
give exactly what ``_combine_scalar`` (the heap walk, one ``Aggregate`` per
step) gives, entry for entry, on ties, saturation and hostile input; whole
converged ASes must come out identical with either; ``TED.graph()`` is
cached per topology generation and every way of changing the LSAs must
invalidate it.
"""

import copy
import dataclasses
import math
import pickle
import random

import networkx as nx
import pytest
from helpers.random_as import hierarchy_oracle, random_topology

from pyfrr_pwr.model import metric
from pyfrr_pwr.model import ted as ted_mod
from pyfrr_pwr.model.constraints import Constraints
from pyfrr_pwr.model.ted import TED
from pyfrr_pwr.paths import graphcache, transit
from pyfrr_pwr.paths import interarea as ia
from pyfrr_pwr.proto import wire

BB, A1, A2 = "0.0.0.0", "0.0.0.1", "0.0.0.2"


def _plain_infos(eps, pwr, bw, te, hops, admin, delay, jitter):
    """wire.PathInfo through its own constructor (the reference)."""
    return [wire.PathInfo(*row) for row in zip(eps, pwr, bw, te, hops, admin, delay, jitter)]


def _random_case(rnd: random.Random):
    """Our aggregates to an ABR and that ABR's vector, with many ties (few
    distinct figures), saturation, and endpoints interleaved."""
    pw = [0.0, 0.5, 1.0, 1.0, 2.0, 3.0, metric.FLT_MAX / 2, metric.FLT_MAX]
    nv = rnd.randint(1, 8)
    vias = sorted(
        (
            ia.Aggregate(
                rnd.choice(pw[:6]),
                rnd.choice([1e8, 1e9, math.inf]),
                rnd.randint(0, 3) * 0x7FFFFFFF,
                rnd.randint(0, 0x9000),
                rnd.getrandbits(32),
                rnd.choice([0.0, 0.5, 1.5, 2.5, 4e9]),
                rnd.choice([0.0, 0.5, 1.5, 70000.0]),
            )
            for _ in range(nv)
        ),
        key=lambda g: g.pwr,
    )
    eps = [f"10.9.0.{i}" for i in range(rnd.randint(1, 6))]
    paths = []
    for e in eps:
        for _ in range(rnd.randint(1, 9)):
            kw = {"jitter_us": rnd.randint(0, 0xFFFF)}
            paths.append(
                wire.PathInfo(
                    e,
                    rnd.choice(pw),
                    rnd.choice([1e8, 5e8, metric.FLT_MAX]),
                    rnd.randint(0, 0xFFFFFFFF),
                    rnd.randint(0, 0xFFFF),
                    rnd.getrandbits(32),
                    rnd.randint(0, 0xFFFFFFFF),
                    **kw,
                )
            )
    paths.sort(key=lambda p: (p.pwr_sum, p.endpoint))  # as ABRs order them
    rnd.shuffle(paths) if rnd.random() < 0.1 else None  # sometimes hostile: unsorted
    return tuple(vias), wire.ReachabilityVector(("1.1.1.1",), A2, tuple(paths))


@pytest.mark.parametrize("seed", range(300))
def test_array_combination_equals_the_scalar_heap_walk(seed, monkeypatch):
    rnd = random.Random(seed)
    vias, v = _random_case(rnd)
    k = rnd.choice([1, 2, 3, 8, 64])
    got = ia._combine(vias, v, k)
    monkeypatch.setattr(transit, "_path_infos", _plain_infos)
    want = ia._combine_scalar(vias, v, k)
    assert got == want
    assert [repr(p) for p in got] == [repr(p) for p in want]  # same types too (int, not float)
    assert [hash(p) for p in got] == [hash(p) for p in want]


@pytest.mark.parametrize("seed", range(100))
def test_batched_combination_equals_the_scalar_heap_walk(seed, monkeypatch):
    """Several (vias, vector) pairs of different widths in one array pass."""
    rnd = random.Random(10_000 + seed)
    k = rnd.choice([1, 2, 4, 8, 64])
    items = [_random_case(rnd) for _ in range(rnd.randint(1, 6))]
    if rnd.random() < 0.2:
        items.append(((), items[0][1]))  # no path to that ABR
    got = ia._combine_many(items, k)
    monkeypatch.setattr(transit, "_path_infos", _plain_infos)
    want = [ia._combine_scalar(vias, v, k) if vias else () for vias, v in items]
    assert got == want
    assert [[repr(p) for p in g] for g in got] == [[repr(p) for p in w] for w in want]


def test_the_fast_wire_objects_are_the_dataclass_objects():
    (p,) = ia._path_infos(["10.0.0.1"], [1.5], [1e9], [7], [3], [0x10], [42], [9])
    kw = {"jitter_us": 9}
    q = wire.PathInfo("10.0.0.1", 1.5, 1e9, 7, 3, 0x10, 42, **kw)
    assert p == q and hash(p) == hash(q) and repr(p) == repr(q) and type(p) is wire.PathInfo
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.pwr_sum = 2.0
    assert wire.decode(wire.encode([wire.ReachabilityVector(("1.1.1.1",), A1, (p,))]))[0].paths == (q,)


@pytest.mark.parametrize("seed", range(25))
def test_converged_vectors_are_identical_with_the_scalar_path(seed, monkeypatch):
    """Whole random ASes: every ABR's vectors from the array path equal the
    reference (the scalar combination and plain constructors)."""
    teds, abrs, _ = random_topology(seed)
    fast = ia.converge({abr: {a: teds[a] for a in ars} for abr, ars in abrs.items()}, k=4)
    teds2, abrs2, _ = random_topology(seed)
    monkeypatch.setattr(transit, "_combine", ia._combine_scalar)
    monkeypatch.setattr(transit, "_path_infos", _plain_infos)
    monkeypatch.setattr(ia, "_wire_rows", lambda rows: None)  # local vectors: sorted and converted one by one
    monkeypatch.setattr(ia, "_combine_many", lambda items, k: [ia._combine_scalar(vias, v, k) if vias else () for vias, v in items])  # the heap walk
    monkeypatch.setattr(ia, "_aggregates_many", lambda gi, paths: [transit._aggregates(gi.attrs, p) for p in paths])  # the scalar sums
    ref = ia.converge({abr: {a: teds2[a] for a in ars} for abr, ars in abrs2.items()}, k=4)
    assert fast == ref
    if seed == 0:  # transit was exercised (not every small AS has it)
        assert any(len(v.abr_chain) == 2 for per in fast.values() for vs in per.values() for v in vs)


def test_incremental_with_in_place_compiled_graphs_equals_fresh(monkeypatch):
    """Link figures change under a running computer (the compiled graph is
    updated in place where the KSP core can): always the fresh answer."""
    teds, abrs, _ = random_topology(7)
    mine = {abr: {a: teds[a] for a in ars} for abr, ars in abrs.items()}
    comps = {abr: ia.VectorComputer(abr, 3) for abr in mine}
    for abr in mine:
        comps[abr].compute(mine[abr])
    rnd = random.Random(7)
    for _ in range(12):
        area = rnd.choice(sorted(teds))
        key = rnd.choice(sorted(k for k, v in teds[area].lsas.items() if isinstance(v[0], wire.LinkTLV)))
        (t,) = teds[area].lsas[key]
        teds[area].lsas[key] = [dataclasses.replace(t, pwr_consumed=t.pwr_consumed * rnd.choice([0.3, 3.0]))]
        for abr in sorted(mine):
            assert comps[abr].compute(mine[abr]) == ia.abr_vectors(abr, mine[abr], 3)


# ------------------------------------------------------------ TED graph cache


def _link(ted, a, b, pwr, n, **kw):
    for x, y, lx, ly in ((a, b, n, n + 1), (b, a, n + 1, n)):
        tlv = wire.LinkTLV(y, local_addrs=(f"172.16.0.{lx}",), remote_addrs=(f"172.16.0.{ly}",), pwr_consumed=pwr, avail_bw=1e9, **kw)
        ted.apply(x, wire.make_lsid(200, 100 + lx), wire.encode([tlv]))


def _same(G, H):
    return sorted(G.nodes(data=True)) == sorted(H.nodes(data=True)) and sorted(G.edges(keys=True, data=True)) == sorted(H.edges(keys=True, data=True))


def test_graph_is_cached_and_every_change_invalidates_it():
    ted = TED(A1)
    _link(ted, "1.0.0.1", "1.0.0.2", 1.0, 1)
    _link(ted, "1.0.0.2", "1.0.0.3", 2.0, 3)
    G = ted.graph()
    assert ted.graph() is G  # nothing changed
    # a vector changes nothing in the graph: same object
    ted.apply_tlvs("1.0.0.1", "vector/0", [wire.ReachabilityVector(("1.0.0.1",), A2, (wire.PathInfo("9.9.9.9", 1.0, 1e9),))])
    assert ted.graph() is G
    # but a router that only sends vectors is a node
    ted.apply_tlvs("1.0.0.9", "vector/0", [wire.ReachabilityVector(("1.0.0.9",), A2, ())])
    G2 = ted.graph()
    assert G2 is not G and "1.0.0.9" in G2
    del ted.lsas[("1.0.0.9", "vector/0")]
    assert "1.0.0.9" not in ted.graph()
    changes = [
        lambda t: _link(t, "1.0.0.1", "1.0.0.3", 5.0, 5),  # apply
        lambda t: t.withdraw("1.0.0.1", wire.make_lsid(200, 105)),
        lambda t: t.apply_tlvs("1.0.0.3", "ep", [wire.TEEndpoint("1.0.0.3")]),
        lambda t: t.lsas.__setitem__(("1.0.0.2", "x"), [wire.AreaBorder("1.0.0.2", (A1, BB))]),
        lambda t: t.lsas.pop(("1.0.0.2", "x")),
        lambda t: t.withdraw_router("1.0.0.3"),
        lambda t: setattr(t, "lsas", {k: v for k, v in t.lsas.items() if k[0] != "1.0.0.2"}),
        lambda t: t.lsas.update({("1.0.0.5", "y"): [wire.TEEndpoint("1.0.0.5")]}),
        lambda t: t.lsas.clear(),
    ]
    for change in changes:
        before = ted.graph()
        change(ted)
        after = ted.graph()
        fresh = ted._build_graph(False)
        assert _same(after, fresh)
        assert after is not before or _same(before, fresh)


def test_a_figure_change_gives_a_new_graph_with_the_new_figures():
    ted = TED(A1)
    _link(ted, "1.0.0.1", "1.0.0.2", 1.0, 1)
    G = ted.graph()
    w = G.edges["1.0.0.1", "1.0.0.2", "172.16.0.1"]["weight"]
    _link(ted, "1.0.0.1", "1.0.0.2", 3.0, 1)  # same LSAs, new figures
    H = ted.graph()
    assert H is not G and G.edges["1.0.0.1", "1.0.0.2", "172.16.0.1"]["weight"] == w  # the old graph is left as it was
    assert H.edges["1.0.0.1", "1.0.0.2", "172.16.0.1"]["weight"] == 3.0
    assert _same(H, ted._build_graph(False))
    # a refresh with equal content keeps the graph
    _link(ted, "1.0.0.1", "1.0.0.2", 3.0, 1)
    assert ted.graph() is H


# ------------------------------------------------------------ jitter (issue 9)


def _jitter_as():
    """Head H in area 1, ABRs X (cheap, jittery) and Y (dear, steady) into
    the backbone, tail T in area 2 behind Z."""
    H, X, Y, Z, T = "10.1.0.1", "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.2.0.1"
    teds = {a: TED(a) for a in (BB, A1, A2)}
    _link(teds[A1], H, X, 1.0, 1, delay_us=100, delay_var_us=900)
    _link(teds[A1], H, Y, 2.0, 3, delay_us=100, delay_var_us=10)
    _link(teds[BB], X, Z, 1.0, 5, delay_us=100, delay_var_us=500)
    _link(teds[BB], Y, Z, 2.0, 7, delay_us=100, delay_var_us=20)
    _link(teds[A2], Z, T, 1.0, 9, delay_us=100, delay_var_us=30)
    teds[A1].apply(H, wire.make_lsid(200, 900), wire.encode([wire.TEEndpoint(H)]))
    teds[A2].apply(T, wire.make_lsid(200, 901), wire.encode([wire.TEEndpoint(T)]))
    abrs = {X: [BB, A1], Y: [BB, A1], Z: [BB, A2]}
    ia.converge({abr: {a: teds[a] for a in ars} for abr, ars in abrs.items()}, k=4)
    return teds, H, T


def test_the_ted_carries_delay_variation_and_aggregates_sum_it():
    teds, H, T = _jitter_as()
    G = teds[A1].graph()
    assert G.edges[H, "10.0.0.1", "172.16.0.1"]["delay_var"] == 900.0
    bare = TED(A1)
    _link(bare, "1.0.0.1", "1.0.0.2", 1.0, 1)
    assert "delay_var" not in bare.graph().edges["1.0.0.1", "1.0.0.2", "172.16.0.1"]  # unknown: absent
    sel = ia.select(H, T, teds[A1], ia.complete_vectors(teds[A1]), k=4)
    best = sel.best
    assert best.abr_chain[0] == "10.0.0.1" and best.total.jitter == 900 + 500 + 30
    assert best.total.delay == 300
    # the vector's entry carries the sum beyond the ABR
    (p,) = [p for adv, v in ia.complete_vectors(teds[A1]) if adv == "10.0.0.1" for p in v.paths if p.endpoint == T]
    assert p.jitter_us == 530


def test_max_jitter_is_enforced_like_max_delay():
    teds, H, T = _jitter_as()
    vecs = ia.complete_vectors(teds[A1])
    sel = ia.select(H, T, teds[A1], vecs, k=4, constraints=Constraints(max_jitter=100))
    assert sel.best is not None and sel.best.abr_chain[0] == "10.0.0.2" and sel.best.total.jitter == 60
    assert all(c.total.jitter <= 100 for c in sel.choices)


def test_an_unmet_bound_is_named_with_the_best_figure():
    teds, H, T = _jitter_as()
    vecs = ia.complete_vectors(teds[A1])
    sel = ia.select(H, T, teds[A1], vecs, k=4, constraints=Constraints(max_jitter=50))
    assert sel.best is None
    assert [(u.bound, u.limit, u.best) for u in sel.unmet] == [("max_jitter", 50.0, 60.0)]
    assert "max_jitter: best 60 us, limit 50 us" in sel.reason
    sel = ia.select(H, T, teds[A1], vecs, k=4, constraints=Constraints(max_delay=250, max_jitter=1000))
    assert [(u.bound, u.best) for u in sel.unmet] == [("max_delay", 300.0)]
    sel = ia.select(H, T, teds[A1], vecs, k=4, constraints=Constraints(min_bandwidth=2e9))
    assert [(u.bound, u.best) for u in sel.unmet] == [("min_bandwidth", 1e9)]
    # same area: plain CSPF reports the same way
    sel = ia.select(H, "10.0.0.2", teds[A1], vecs, k=4, constraints=Constraints(max_jitter=5))
    assert sel.best is None and [(u.bound, u.best) for u in sel.unmet] == [("max_jitter", 10.0)]
    sel = ia.select(H, "10.0.0.2", teds[A1], vecs, k=4, constraints=Constraints(max_jitter=10))
    assert sel.best.total.jitter == 10


def test_max_jitter_validation_and_link_local():
    assert Constraints(max_jitter=5).max_jitter == 5.0
    for bad in (-1, math.inf, math.nan, True, "5"):
        with pytest.raises(ValueError, match="max_jitter"):
            Constraints(max_jitter=bad)
    assert Constraints(max_jitter=5, max_delay=3).link_local() == Constraints()
    assert Constraints.of({"max_jitter": 7}).to_dict() == {"max_jitter": 7.0}


def test_jitter_does_not_change_the_pwr_optimum():
    """A jitter-free request still gets the hierarchy optimum."""
    teds, abrs, endpoints = random_topology(3)
    ia.converge({abr: {a: teds[a] for a in ars} for abr, ars in abrs.items()}, k=4)
    for h, ha in sorted(endpoints.items()):
        for t, ta in sorted(endpoints.items()):
            if ha != ta:
                sel = ia.select(h, t, teds[ha], ia.complete_vectors(teds[ha]), k=4)
                assert sel.best.total.pwr == pytest.approx(hierarchy_oracle(teds, h, ha, t, ta), rel=1e-5)
                assert sel.unmet == ()


def test_networkx_graph_is_read_only_by_contract():
    """The cached graph is shared: the module says so, and nothing in
    interarea writes to it (a run leaves it as built)."""
    teds, abrs, _ = random_topology(5)
    G = teds[BB].graph()
    snap = nx.to_dict_of_dicts(G)
    ia.converge({abr: {a: teds[a] for a in ars} for abr, ars in abrs.items()}, k=2)
    assert teds[BB].graph() is G and nx.to_dict_of_dicts(G) == snap


def test_figure_patches_equal_a_rebuild_on_random_areas():
    """Random figure changes (addressed and unaddressed links, parallel
    links, one-sided ends): the patched graph always equals a rebuild."""
    rnd = random.Random(11)
    ted = TED(A1)
    n = iter(range(1, 10**6))
    for _ in range(40):
        a, b = rnd.sample([f"1.0.0.{i}" for i in range(1, 9)], 2)
        la, lb = next(n), next(n)
        addressed, sided = rnd.random() < 0.6, rnd.random() < 0.9
        for x, y, lx, ly in ((a, b, la, lb), (b, a, lb, la))[: 2 if sided else 1]:
            tlv = wire.LinkTLV(
                y,
                local_addrs=(f"172.17.{lx // 250}.{lx % 250 + 1}",) if addressed else (),
                remote_addrs=(f"172.17.{ly // 250}.{ly % 250 + 1}",) if addressed else (),
                pwr_consumed=rnd.random() + 0.01,
                avail_bw=1e9,
            )
            ted.apply_tlvs(x, f"200.0.0.{lx}", [tlv])
    ted.graph()
    keys = sorted(ted.lsas)
    for _ in range(60):
        for key in rnd.sample(keys, rnd.randint(1, 3)):
            (t,) = ted.lsas[key]
            ted.lsas[key] = [
                dataclasses.replace(t, pwr_consumed=rnd.random() + 0.01, avail_bw=rnd.choice([None, 1e8, 1e9]), delay_var_us=rnd.choice([None, 5]))
            ]
        assert _same(ted.graph(), ted._build_graph(False))


# ------------------------------------------------------------ issue 10: batches, patches, wire records


def test_a_batch_with_unfit_vias_equals_the_scalar_walk(monkeypatch):
    """One batch mixing vias the array form must refuse (unsorted, NaN
    bandwidth, infinite delay, a figure numpy cannot take) with good ones:
    every pair still equals the scalar walk, the good ones in the batch."""
    rnd = random.Random(99)
    items = [_random_case(rnd) for _ in range(6)]
    g = items[0][0][0]
    bad = [
        (tuple(sorted(items[1][0], key=lambda a: -a.pwr)) + (g,), items[1][1]),  # unsorted (if it differs)
        ((dataclasses.replace(g, min_bw=math.nan),), items[2][1]),
        ((dataclasses.replace(g, delay=math.inf),), items[3][1]),
        ((dataclasses.replace(g, te_metric=2**70),), items[4][1]),  # numpy refuses the whole batch: found tuple by tuple
    ]
    for mix in (items + bad, bad + items, items[:2] + bad[3:] + items[2:]):
        got = ia._combine_many(mix, 8)
        with monkeypatch.context() as m:
            m.setattr(transit, "_path_infos", _plain_infos)
            want = [ia._combine_scalar(vias, v, 8) for vias, v in mix]
        assert got == want
        assert [[repr(p) for p in g] for g in got] == [[repr(p) for p in w] for w in want]


def _dearer(ted, adv, local, factor):
    """One end's Link TLV again with its PWR times ``factor`` (figures only)."""
    (key,) = [k for k, v in ted.lsas.items() if k[0] == adv and v and isinstance(v[0], wire.LinkTLV) and v[0].local_addrs == (local,)]
    (t,) = ted.lsas[key]
    ted.lsas[key] = [dataclasses.replace(t, pwr_consumed=t.pwr_consumed * factor)]


def test_a_patched_graph_derives_its_figures_from_the_one_it_was_patched_from():
    ted = TED(A1)
    for i in range(6):
        _link(ted, f"1.0.0.{i}", f"1.0.0.{i + 1}", 1.0 + i, 2 * i + 1)
    G = ted.graph()
    gi = graphcache._info(G)
    _dearer(ted, "1.0.0.2", "172.16.0.5", 3.0)  # figures only: PWRLINK of both directions
    H = ted.graph()
    origin = ted_mod.patch_origin(H)
    assert origin is not None and origin[0] is G and origin[1] == {("1.0.0.2", "1.0.0.3", "172.16.0.5"), ("1.0.0.3", "1.0.0.2", "172.16.0.6")}
    hi = graphcache._info(H)
    fresh = graphcache._GraphInfo(H)
    assert hi.edges == fresh.edges and hi.attrs == fresh.attrs and hi.nodes == fresh.nodes and hi.edges != gi.edges
    assert hi.changed_since(gi) == origin[1] and gi.changed_since(hi) is None
    gi.arrays()
    derived, fresh_arrays = hi.arrays(), graphcache._arc_arrays(hi.attrs)  # the parent's arrays, patched
    assert derived[0] == fresh_arrays[0] and all(a == b and a.typecode == b.typecode for a, b in zip(derived[1:], fresh_arrays[1:]))
    _dearer(ted, "1.0.0.0", "172.16.0.1", 0.5)
    K = ted.graph()
    assert graphcache._info(K).changed_since(gi) == origin[1] | ted_mod.patch_origin(K)[1]  # through two patches
    # a graph changed in place (and said so) is read afresh, never derived again
    K.edges["1.0.0.4", "1.0.0.5", "172.16.0.9"]["weight"] = 0.5
    ia.invalidate(K)
    assert graphcache._info(K).attrs[("1.0.0.4", "1.0.0.5", "172.16.0.9")][0] == 0.5
    assert graphcache._info(K).changed_since(gi) is None


@pytest.mark.parametrize("seed", range(8))
def test_incremental_after_random_link_changes_equals_a_full_recomputation(seed):
    """Random figure changes (dearer, cheaper, one or several between two
    computations, so patched graphs chain) through the TED as the agent
    applies them: each computer's answer equals a fresh computer's, and its
    stats show the incremental path was taken."""
    teds, abrs, _ = random_topology(100 + seed)
    mine = {abr: {a: teds[a] for a in ars} for abr, ars in abrs.items()}
    ia.converge(mine, k=3)
    comps = {abr: ia.VectorComputer(abr, 3) for abr in mine}
    for abr in sorted(mine):
        comps[abr].compute(mine[abr])
    rnd = random.Random(seed)
    links = {a: sorted(k for k, v in teds[a].lsas.items() if v and isinstance(v[0], wire.LinkTLV)) for a in teds}
    for _ in range(10):
        for _ in range(rnd.randint(1, 3)):
            area = rnd.choice(sorted(teds))
            key = rnd.choice(links[area])
            (t,) = teds[area].lsas[key]
            teds[area].apply_tlvs(key[0], key[1], [dataclasses.replace(t, pwr_consumed=t.pwr_consumed * rnd.choice([0.5, 0.9, 1.1, 4.0]))])
        for abr in sorted(mine):
            got = comps[abr].compute(mine[abr])
            assert got == ia.VectorComputer(abr, 3).compute(mine[abr])
            for area, vecs in got.items():  # flood as an ABR would, so transit follows
                ted = mine[abr][area]
                for key in [kk for kk in ted.lsas if kk[0] == abr and kk[1].startswith("vector/")]:
                    del ted.lsas[key]
                for i, v in enumerate(vecs):
                    ted.apply_tlvs(abr, f"vector/{i}", [v])
    assert sum(c.stats["in_place_updates"] for c in comps.values()) > 0


def test_path_info_is_a_frozen_record_of_its_fields():
    p = wire.PathInfo("10.0.0.1", 1.5, 1e9, 7, 3, 0x10, 42, 9)
    t = ("10.0.0.1", 1.5, 1e9, 7, 3, 0x10, 42, 9)
    assert p != t and not (p == t) and t != p and p in {wire.PathInfo(*t)} and p not in {t}  # equal only to a PathInfo
    assert hash(p) == hash(t)  # the frozen dataclass's hash of its fields
    with pytest.raises(TypeError):
        p < p  # noqa: B015 - no order, as a dataclass without order=True
    assert dataclasses.is_dataclass(p) and [f.name for f in dataclasses.fields(p)][-1] == "jitter_us"
    assert dataclasses.replace(p, pwr_sum=2.0) == wire.PathInfo("10.0.0.1", 2.0, 1e9, 7, 3, 0x10, 42, 9)
    assert dataclasses.asdict(p)["delay_us"] == 42 and wire.PathInfo("1.1.1.1", 1.0, 2.0).hop_count == 0
    assert wire.PathInfo(endpoint="1.1.1.1", pwr_sum=1.0, min_avail_bw=2.0, jitter_us=3).jitter_us == 3
    for q in (pickle.loads(pickle.dumps(p)), pickle.loads(pickle.dumps(p, 0)), copy.deepcopy(p), copy.copy(p)):
        assert q == p and type(q) is wire.PathInfo
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.endpoint = "x"
    assert wire.PathInfo._of(["a", "b"], [1.0, 2.0], [3.0, 4.0], [0, 1], [1, 2], [0, 0], [5, 6], [0, 1]) == [
        wire.PathInfo("a", 1.0, 3.0, 0, 1, 0, 5, 0),
        wire.PathInfo("b", 2.0, 4.0, 1, 2, 0, 6, 1),
    ]
