"""Several AgentCores joined by a fake flooding loop (tests/helpers/flooding):
what one agent originates reaches the others' TEDs as ospfd would deliver
it, with no ospfd, no root and no namespaces. The in-memory twins of
test_frr_lab and test_frr_interarea: links arrive two-sided, banding and
make-before-break hold across cores, ABR vectors give every head-end the
offline pipeline's (and the central oracle's) choice on figure 2.0, and
reservations take bandwidth out of the next advertisement."""

import itertools

import pytest
from conftest import ROOT
from helpers.flooding import Fabric
from helpers.oracle import HEADS, TAILS, area_order, oracle

from pyfrr_pwr.agent.core import AgentCore
from pyfrr_pwr.files.topology import load_topology
from pyfrr_pwr.model import metric
from pyfrr_pwr.offline.pipeline import area_of_router, build_teds, interarea
from pyfrr_pwr.paths import interarea as ia
from pyfrr_pwr.paths.ksp import k_shortest_paths
from pyfrr_pwr.proto import ospfapi as api

FIG7 = ROOT / "containerlab/fig-2-1-7.clab.yml"
FIG20 = ROOT / "containerlab/fig-2-0.clab.yml"
GBPS = 1.25e8  # bytes/s per Gb/s
REL = 1e-6  # what a float32 on the wire leaves of a double


def ends_of_ted(ted):
    """{(from, to, local address): TEDLink} of one area's TED."""
    return {(l.near.router, l.near.tlv.link_id, l.near.local): l for l in ted.links()}


def ends(core, area):
    return ends_of_ted(core.teds[area]) if area in core.teds else {}


def offline_ends(topo, area):
    return ends_of_ted(build_teds(topo)[area])


# -- fig-2-1-7: links ----------------------------------------------------------


def test_two_cores_see_their_link_two_sided_and_nothing_towards_absent_neighbours():
    f = Fabric(FIG7, ["G", "H"])
    f.bring_up()
    assert f.errors == []
    g, h = f.rid("G"), f.rid("H")
    for n in ("G", "H"):
        e = ends(f.core(n), "0.0.0.1")
        assert set((a, b) for a, b, _ in e) == {(g, h), (h, g)}
        for l in e.values():
            assert not l.one_sided
            assert metric.w_per_gbps(l.pwrlink) == pytest.approx(0.2, rel=REL)  # the figure's G-H weight
    # G's ports towards D and E have no neighbour here: not advertised
    assert [ifn for ifn, l in f.core("G").links.items() if l.opaque_id is not None] == ["eth2"]
    assert f.core("G").stats["originations"] == 1  # one link, no node LSA (G is no endpoint, one area)


def test_three_cores_in_a_row_agree_with_the_offline_ted():
    f = Fabric(FIG7, ["D", "G", "H"])
    f.bring_up()
    assert f.errors == []
    want = {k: v for k, v in offline_ends(f.topo, "0.0.0.1").items() if {f.topo.name_of(k[0]), f.topo.name_of(k[1])} <= {"D", "G", "H"}}
    assert len(want) == 4  # D-G and G-H, both ends
    for n in ("D", "G", "H"):
        got = ends(f.core(n), "0.0.0.1")
        assert set(got) == set(want)
        for k, l in got.items():
            assert not l.one_sided
            assert l.pwrlink == pytest.approx(want[k].pwrlink, rel=REL)
            assert (l.near.remote, l.near.tlv.avail_bw) == (want[k].near.remote, pytest.approx(want[k].near.tlv.avail_bw, rel=REL))


@pytest.fixture
def fig7():
    return Fabric.up(FIG7)


def test_every_core_holds_its_areas_as_the_offline_pipeline_builds_them(fig7):
    topo = fig7.topo
    teds = build_teds(topo)
    for n, node in fig7.nodes.items():
        assert set(node.core.teds) == node.areas
        for area in node.areas:
            got, want = ends(node.core, area), ends_of_ted(teds[area])
            assert set(got) == set(want), (n, area)
            assert all(not l.one_sided and l.pwrlink == pytest.approx(want[k].pwrlink, rel=REL) for k, l in got.items())
            ted = node.core.teds[area]
            assert set(ted.endpoints()) == set(teds[area].endpoints())
            assert set(ted.area_borders()) == set(teds[area].area_borders())
    assert len(ends(fig7.core("X"), "0.0.0.1")) == 16


def best_in_area(f, name, area, dst):
    """The intra-area CSPF answer on one core's TED (the control socket's
    `paths` command)."""
    (p,) = k_shortest_paths(f.core(name).teds[area].graph(), f.rid(name), f.rid(dst), 1)
    return [f.topo.name_of(r) for r in p.nodes], metric.w_per_gbps(p.cost)


def test_b_chooses_b_d_g_h_x(fig7):
    nodes, w = best_in_area(fig7, "B", "0.0.0.1", "X")
    assert nodes == ["B", "D", "G", "H", "X"] and w == pytest.approx(0.43, rel=REL)
    # a router inside area 1 asks the same through inter_area_path: plain CSPF
    best = fig7.core("D").inter_area_path(fig7.rid("X"))["best"]
    assert [fig7.topo.name_of(r) for r in best["head_path"]] == ["D", "G", "H", "X"]
    assert best["abr_chain"] == [] and best["pwr_w_per_gbps"] == pytest.approx(0.33, rel=REL)


def test_an_abr_asked_for_a_router_of_its_own_area_answers_intra_area(fig7):
    f, g = fig7, fig7.core("G")
    f.tick(5.0)
    f.send("G", g.set_measurements({}, {"eth2": 20.0}, f.now))
    f.settle()
    best = f.core("B").inter_area_path(f.rid("X"))["best"]
    assert [f.topo.name_of(r) for r in best["head_path"]] == ["B", "E", "X"] and best["abr_chain"] == []


def test_a_backbone_router_goes_through_the_abrs_as_offline(fig7):
    """A sits in area 0 only: its way to X is over the vectors B and C
    leaked into the backbone, as the offline pipeline computes them."""
    topo = load_topology(FIG7)
    teds = build_teds(topo)
    interarea(topo, teds, k=8)
    a, x = fig7.rid("A"), fig7.rid("X")
    want = ia.select(a, x, teds["0.0.0.0"], [(adv, v) for adv, _, v in teds["0.0.0.0"].vectors()], k=8).best
    got = fig7.core("A").inter_area_path(x)["best"]
    assert got["pwr"] == pytest.approx(want.total.pwr, rel=REL)
    assert (got["abr_chain"], got["head_path"]) == (list(want.abr_chain), list(want.head_path))
    assert fig7.topo.name_of(got["abr_chain"][0]) in {"B", "C"}


# -- fig-2-1-7: changes ----------------------------------------------------------


def g_h(f, reader="X"):
    (l,) = [l for k, l in ends(f.core(reader), "0.0.0.1").items() if k[:2] == (f.rid("G"), f.rid("H"))]
    return l


def test_inside_the_band_nothing_floods_outside_it_reaches_x_make_before_break(fig7):
    f, g = fig7, fig7.core("G")
    before, n0, o0 = g_h(f), f.delivered, g.stats["originations"]
    f.tick(5.0)
    f.send("G", g.set_measurements({}, {"eth2": 2.04}, f.now))  # +2 %: inside the band
    f.flood()
    assert g.stats["suppressed"] == 1 and g.stats["originations"] == o0 and f.delivered == n0
    assert g_h(f).near.tlv.generation == before.near.tlv.generation
    # 20 W: POWER 2.0 W per Gb/s on G's end; every reader keeps the link
    # two-sided at every step of the re-origination (new ID, then delete)
    seen = []
    f.observers.append(lambda n, m: seen.append(not g_h(f, n).one_sided) if m.area == "0.0.0.1" else None)
    f.tick(1.0)
    f.send("G", g.set_measurements({}, {"eth2": 20.0}, f.now))
    f.flood()
    assert f.errors == [] and seen and all(seen)
    after = g_h(f)
    assert after.near.tlv.generation == before.near.tlv.generation + 1
    assert after.near.tlv.pwr_consumed * GBPS == pytest.approx(2.0, rel=REL)
    assert metric.w_per_gbps(after.pwrlink) == pytest.approx(1.1, rel=REL)  # mean of 2.0 and H's 0.2
    nodes, w = best_in_area(f, "B", "0.0.0.1", "X")
    assert nodes == ["B", "E", "X"] and w == pytest.approx(0.8, rel=REL)
    # within min_interval a further change waits (deferred), then goes out
    f.tick(0.1)
    assert g.set_measurements({}, {"eth2": 2.0}, f.now) == []
    assert g.stats["deferred"] == 1
    f.tick(1.0)
    f.send("G", g.set_measurements({}, {"eth2": 2.0}, f.now))
    f.flood()
    assert g_h(f).near.tlv.pwr_consumed * GBPS == pytest.approx(0.2, rel=REL)


def test_neighbour_loss_withdraws_one_end_and_the_other_turns_one_sided(fig7):
    f = fig7
    (peer,) = [l.b if l.a == ("G", "eth2") else l.a for l in f.topo.links if ("G", "eth2") in (l.a, l.b)]
    gi, hi = f.topo.routers["G"].interfaces["eth2"], f.topo.routers[peer[0]].interfaces[peer[1]]
    assert f.topo.name_of(g_h(f).near.tlv.link_id) == "H" and g_h(f).near.remote == str(hi.address.ip)
    down = api.NsmChange(str(gi.address.ip), str(hi.address.ip), f.rid("H"), 2)
    f.send("G", f.core("G").handle(down, f.now))
    f.flood()
    assert f.errors == []
    x = ends(f.core("X"), "0.0.0.1")
    assert not [k for k in x if k[:2] == (f.rid("G"), f.rid("H"))]
    (h_g,) = [l for k, l in x.items() if k[:2] == (f.rid("H"), f.rid("G"))]
    assert h_g.one_sided
    f.send("G", f.core("G").handle(api.NsmChange(str(gi.address.ip), str(hi.address.ip), f.rid("H"), api.NSM_FULL), f.now))
    f.flood()
    assert not g_h(f).one_sided and len(ends(f.core("X"), "0.0.0.1")) == 16


# -- fig-2-0: ABR vectors and the head-end's choice ------------------------------


@pytest.fixture(scope="module")
def offline20():
    topo = load_topology(FIG20)
    teds = build_teds(topo)
    interarea(topo, teds, k=8)
    return topo, teds


@pytest.fixture(scope="module")
def fig20():
    f = Fabric(FIG20)
    f.bring_up()
    assert f.errors == []
    assert f.abrs == [f"ABR{i}" for i in range(1, 7)]
    return f


PAIRS = list(itertools.product(HEADS, TAILS)) + [(t, h) for h, t in itertools.product(HEADS, TAILS)]


@pytest.mark.parametrize("h,t", PAIRS)
def test_head_end_choice_equals_the_offline_pipeline_and_the_central_oracle(fig20, offline20, h, t):
    topo, teds = offline20
    hr, tr = fig20.rid(h), fig20.rid(t)
    a = area_of_router(topo, teds, hr)
    want = ia.select(hr, tr, teds[a], [(adv, v) for adv, _, v in teds[a].vectors()], k=8)
    got = fig20.core(h).inter_area_path(tr)
    b = got["best"]
    assert b["pwr"] == pytest.approx(want.best.total.pwr, rel=REL)
    assert b["pwr"] == pytest.approx(oracle(build_teds(topo), hr, tr, area_order(h)), rel=REL)
    assert (b["abr_chain"], b["head_path"]) == (list(want.best.abr_chain), list(want.best.head_path))
    assert len(b["abr_chain"]) == 2 and b["head_path"][0] == hr and b["head_path"][-1] == b["abr_chain"][0]
    assert [c["pwr"] for c in got["runners_up"]] == pytest.approx([c.total.pwr for c in want.choices[1:]], rel=REL)


def test_leaked_vectors_equal_the_offline_ones_in_every_area(fig20, offline20):
    _, teds = offline20

    def table(vecs):
        return {(adv, v.abr_chain, v.area): [(p.endpoint, p.pwr_sum, p.hop_count) for p in v.paths] for adv, v in vecs}

    for area in ("0.0.0.0", "0.0.0.1", "0.0.0.2"):
        want = table((adv, v) for adv, _, v in teds[area].vectors())
        for n, node in fig20.nodes.items():
            if area not in node.areas:
                continue
            got = table(ia.complete_vectors(node.core.teds[area]))
            assert set(got) == set(want), (n, area)
            for key, paths in got.items():
                assert [(e, hc) for e, _, hc in paths] == [(e, hc) for e, _, hc in want[key]], (n, key)
                assert [p for _, p, _ in paths] == pytest.approx([p for _, p, _ in want[key]], rel=REL)


def test_settled_abrs_recompute_and_suppress(fig20):
    before = {n: fig20.core(n).stats["vectors_suppressed"] for n in fig20.abrs}
    for n in fig20.abrs:  # as after a TED change: every ABR computes again
        c = fig20.core(n)
        assert c.apply_vectors(AgentCore.compute_vectors(c.vector_snapshot())) == []
    assert all(fig20.core(n).stats["vectors_suppressed"] > before[n] for n in fig20.abrs)
    assert fig20.vectors() == 0


# -- fig-2-0: reservations ------------------------------------------------------


def hops_of(f, route, rid):
    """(near, far, area, near address) per hop, from the reservation's links."""
    out = []
    for u, v in zip(route, route[1:]):
        near = f.by_rid(u)
        i = f.topo.routers[near].interfaces[f.core(near).reservations[rid]["ifname"]]
        out.append((u, v, i.area, str(i.address.ip)))
    return out


def advertised(f, hops):
    """Each hop's link as its far end's TED holds the near end's LSA."""
    return {(u, v, local): ends(f.core(f.by_rid(v)), area)[(u, v, local)].near.tlv for u, v, area, local in hops}


def test_a_reservation_leaves_the_next_advertisement_and_release_gives_it_back(fig20):
    f = Fabric(FIG20)
    f.bring_up()
    h, t4 = "TEh1", f.rid("TEt4")
    before = f.core(h).inter_area_path(t4)["best"]
    bw = GBPS  # 1 Gb/s
    route = f.reserve(h, t4, bw, "TEh1/1")
    assert route[0] == f.rid(h) and route[-1] == t4 and len(set(route)) == len(route)
    assert f.errors == []
    # every hop but the tail holds it on its link to the next hop ...
    for u, v in zip(route, route[1:]):
        r = f.core(f.by_rid(u)).reservations["TEh1/1"]
        assert (r["next"], r["bw"]) == (v, bw) and r["ifname"]
    assert f.core("TEt4").reservations["TEh1/1"]["next"] is None
    # ... and has advertised that much less, which its neighbours' TEDs hold
    hops = hops_of(f, route, "TEh1/1")
    reserved = advertised(f, hops)
    free = advertised(fig20, hops)  # the same figure, nothing reserved
    for hop, tlv in reserved.items():
        assert tlv.avail_bw == pytest.approx(free[hop].avail_bw - bw, rel=REL), hop
        assert tlv.generation == free[hop].generation + 1
    # the ABRs recompute from the new figures; the head-end's choice is still
    # the central optimum over what the routers now advertise
    f.settle()
    now = {a: f.core(n).teds[a] for a, n in (("0.0.0.1", "TEh1"), ("0.0.0.0", "ABR1"), ("0.0.0.2", "TEt4"))}
    got = f.core(h).inter_area_path(t4)["best"]
    assert got["pwr"] > before["pwr"]
    assert got["pwr"] == pytest.approx(oracle(now, f.rid(h), t4, area_order(h)), rel=REL)
    f.release(h, "TEh1/1")
    f.settle()
    assert not any(n.core.reservations for n in f.nodes.values())
    for hop, tlv in advertised(f, hops).items():
        assert tlv.avail_bw == pytest.approx(free[hop].avail_bw, rel=REL)
    back = f.core(h).inter_area_path(t4)["best"]
    assert back["pwr"] == pytest.approx(before["pwr"], rel=REL) and back["abr_chain"] == before["abr_chain"]


def test_reservations_move_elsewhere_until_none_fits_and_fail_clearly(fig20):
    f = Fabric(FIG20)
    f.bring_up()
    h, t4 = "TEh1", f.rid("TEt4")
    routes = []
    with pytest.raises(ValueError, match=r"no inter-area path .* meets the constraints \(min_bandwidth=1 Gb/s"):
        for i in range(20):
            routes.append(tuple(f.reserve(h, t4, GBPS, f"TEh1/{i}")))
            f.settle()
    assert f.errors == []
    assert 1 < len(routes) < 20 and len(set(routes)) > 1  # later reservations went elsewhere
    for i in range(len(routes)):
        f.release(h, f"TEh1/{i}")
    f.settle()
    assert not any(n.core.reservations for n in f.nodes.values())
    assert f.core(h).inter_area_path(t4)["best"]["pwr"] == pytest.approx(fig20.core(h).inter_area_path(t4)["best"]["pwr"], rel=REL)
