"""ABRs leak compute sites' Node Energy and Service Instance TLVs across
areas (issue 9 sec. 3; ``agent.leak``), in memory.

AgentCores joined by tests/helpers/flooding's Fabric over
containerlab/cats-3site (HE and site S1 in area 1, S2 in area 2, S3 in
area 3; ABR1..ABR3 join the backbone B0). The cores do not call the
leaker yet (the lead wires it), so ``leak_round`` does what the wiring
will: every ABR's ``Leaker.update`` over its TEDs, its requests flooded
through the fabric's LSDB like any other. Also: the wire form of the leak
sub-TLVs, dedupe, bounded size, hostile leaked copies."""

import dataclasses
from collections import Counter
from types import SimpleNamespace

import pytest
from conftest import ROOT
from helpers.flooding import Fabric

from pyfrr_pwr.agent import control, leak
from pyfrr_pwr.cats import service as cs
from pyfrr_pwr.model.ted import TED
from pyfrr_pwr.proto import ospfapi as api
from pyfrr_pwr.proto import wire

TOPO = ROOT / "containerlab/cats-3site.clab.yml"
WALL = 1.8e9  # unix s: the readings' clock
A0, A1, A2, A3 = "0.0.0.0", "0.0.0.1", "0.0.0.2", "0.0.0.3"


def reading(v, accuracy="measured", ts=WALL, source="bmc"):
    return {"value": v, "ts": ts, "source": source, "accuracy": accuracy}


def status(ci, power=400.0, cap=2000.0, green=0.1, ts=WALL):
    return {
        "power_w": reading(power, ts=ts),
        "capacity_w": reading(cap, "nominal", ts=ts),
        "carbon_g_per_kwh": reading(ci, ts=ts, source="grid"),
        "green_share": reading(green, ts=ts, source="grid"),
    }


def request(**kw):
    base = dict(service="inference", demand=None, max_delay_us=None, max_jitter_us=None, weights=None, critical=False, k=None)
    return SimpleNamespace(**{**base, **kw})


def feed(f, name, st, wall=WALL):
    f.send(name, f.core(name).set_energy(st, f.now, wall))
    f.settle()


def leak_round(f, leakers, wall=WALL, rounds=10) -> int:
    """Every ABR leaks until none sends anything (the core's own leaker
    once it has one, ``AgentCore.leak_update``); returns the rounds taken."""
    for i in range(rounds):
        sent = 0
        for n in f.abrs:
            c = f.core(n)
            if hasattr(c, "leak_update"):
                c.leak_dirty = True
                reqs = c.leak_update(f.now, wall)
            else:
                reqs = leakers[n].update(c.router_id, {a: c.teds[a] for a in c.abr_areas() if a in c.teds}, c.ready, now=wall)
            sent += len(reqs)
            f.send(n, reqs)
            f.flood()
        if not sent:
            return i
    raise AssertionError(f"leaking still changing after {rounds} rounds")


@pytest.fixture
def fab():
    f = Fabric(TOPO)
    f.bring_up()
    f.leakers = {
        n: getattr(f.core(n), "leak", None) or leak.Leaker(f.core(n).opaque_type, f.core(n).profile, f.core(n).stats, f.core(n)._alloc) for n in f.abrs
    }
    for n, ci in (("S1", 450.0), ("S2", 50.0), ("S3", 300.0)):
        feed(f, n, status(ci))
    assert f.errors == []
    return f


def copies(core, area):
    """(adv, TLV) of every site TLV in one of a core's TEDs."""
    return [(adv, t) for (adv, _), tlvs in core.teds[area].lsas.items() for t in tlvs if isinstance(t, (wire.NodeEnergy, wire.ServiceInstance))]


# ------------------------------------------------------------------ the fabric


def test_a_remote_sites_energy_and_services_reach_the_head_end_via_the_abrs(fab):
    f = fab
    he = f.core("HE")
    if not hasattr(he, "leak_update"):  # area scope (RFC 5250 sec. 3): not without leaking
        assert f.rid("S2") not in cs.energy_in(he.teds)
    leak_round(f, f.leakers)
    assert f.errors == []
    s2 = f.rid("S2")
    got = cs.energy_in(he.teds)[s2]
    assert got["carbon_g_per_kwh"]["value"] == pytest.approx(50.0)
    assert got["power_w"]["value"] == pytest.approx(400.0) and got["power_w"]["accuracy"] == "measured"
    assert got["capacity_w"]["accuracy"] == "nominal"
    assert got["carbon_g_per_kwh"]["source"] == "grid"
    assert got["power_w"]["ts"] == int(WALL)  # the reading's own timestamp, not the ABR's
    # learnt through ABR2 (area 2 -> backbone) then ABR1 (backbone -> area 1)
    assert got["via"] == [f.rid("ABR2"), f.rid("ABR1")] and got["origin_area"] == A2
    (ec,) = [c for c in he.teds[A1].energy().values() if c.origin == s2]
    assert ec.via == f.rid("ABR1") and ec.leaked
    insts = {(i.router_id, i.address): i for i in cs.instances_in(he.teds, "inference")}
    s2i = [i for (rid, _), i in insts.items() if rid == s2]
    assert s2i and all(i.origin_area == A2 and i.abr_chain == (f.rid("ABR2"), f.rid("ABR1")) for i in s2i)
    # the same for S3, and S1 (HE's own area) stays its own copy
    assert cs.energy_in(he.teds)[f.rid("S3")]["via"] == [f.rid("ABR3"), f.rid("ABR1")]
    assert "via" not in cs.energy_in(he.teds)[f.rid("S1")]
    # and S1's figures reach area 2's and 3's routers
    assert cs.energy_in(f.core("S3").teds)[f.rid("S1")]["carbon_g_per_kwh"]["value"] == pytest.approx(450.0)


def test_the_ranking_uses_the_real_figures_of_remote_sites_not_the_worst(fab):
    f = fab
    leak_round(f, f.leakers)
    he = f.core("HE")
    ans = control.service(he, request())
    assert [e["site"] for e in ans["ranked"]] == [f.rid("S2"), f.rid("S3"), f.rid("S1")]  # by carbon: 50, 300, 450
    for e in ans["ranked"]:
        assert not e["terms"]["carbon"]["assumed"] and not e["terms"]["power"]["assumed"]
    best = ans["ranked"][0]
    # 1 Gb/s of 10G at a site drawing 400 W: 40 W; x 50 g/kWh x (1 - 0.1)
    assert best["terms"]["carbon"]["value"] == pytest.approx(0.04 * 50 * 0.9)
    assert best["instance"]["origin_area"] == A2
    # what the head-end would do with S2's instances but not its energy: the worst figure
    insts = cs.instances_in(he.teds, "inference")
    paths = {s: cs.figures_of(he.path_choice(s)) for s in {i.router_id for i in insts}}
    energy = cs.energy_in(he.teds)
    blind = cs.rank(insts, paths, {k: v for k, v in energy.items() if k != f.rid("S2")}, cs.Request("inference"))
    (s2,) = [e for e in blind.ranked if e["site"] == f.rid("S2")]
    assert s2["terms"]["carbon"]["assumed"] and s2["figures"]["carbon_g_per_kwh"] is None
    assert blind.best["site"] != f.rid("S2")


def test_a_change_of_a_sites_carbon_intensity_reaches_the_head_end_and_moves_the_choice(fab):
    f = fab
    leak_round(f, f.leakers)
    he = f.core("HE")
    assert control.service(he, request())["ranked"][0]["site"] == f.rid("S2")
    f.tick(10.0)
    feed(f, "S2", status(900.0, ts=WALL + 10), WALL + 10)
    if not hasattr(he, "leak_update"):  # leaked at the next round (a wired core: at once)
        assert cs.energy_in(he.teds)[f.rid("S2")]["carbon_g_per_kwh"]["value"] == pytest.approx(50.0)
    leak_round(f, f.leakers, WALL + 10)
    assert f.errors == []
    got = cs.energy_in(he.teds)[f.rid("S2")]
    assert got["carbon_g_per_kwh"]["value"] == pytest.approx(900.0) and got["carbon_g_per_kwh"]["ts"] == int(WALL + 10)
    assert [e["site"] for e in control.service(he, request())["ranked"]] == [f.rid("S3"), f.rid("S1"), f.rid("S2")]
    # the old leaked LSAs were deleted (make-before-break), one copy per site per area
    for n in f.nodes:
        for a in f.nodes[n].areas:
            origins = [t.router_id for _, t in copies(f.core(n), a) if isinstance(t, wire.NodeEnergy)]
            assert len(origins) == len(set(origins)), (n, a, origins)


def test_no_loops_three_areas_three_abrs(fab):
    f = fab
    rounds = leak_round(f, f.leakers)
    assert rounds <= 3  # quiesces: area -> backbone -> area, then nothing
    assert leak_round(f, f.leakers) == 0  # and stays quiet
    for n, nd in f.nodes.items():
        for a in nd.areas:
            for adv, t in copies(f.core(n), a):
                if not t.abr_chain:
                    assert adv == t.router_id
                    continue
                assert len(t.abr_chain) <= 2 and t.abr_chain[-1] == adv
                assert t.origin_area != a, f"{n}: a copy of {t.router_id} leaked back into its area {a}"
                assert len(set(t.abr_chain)) == len(t.abr_chain)
    # a site's own area holds only its own copy; the backbone only the single-ABR copies
    for s, area in (("S1", A1), ("S2", A2), ("S3", A3)):
        assert {adv for adv, t in copies(f.core(s), area) if t.router_id == f.rid(s)} == {f.rid(s)}
        bb = [t for _, t in copies(f.core("B0"), A0) if t.router_id == f.rid(s)]
        assert bb and all(len(t.abr_chain) == 1 for t in bb)
    # S2 going away (its LSAs flushed, S2 itself silent): every leaked copy of it goes too
    for key in [k for k in f.lsdb[A2] if k[0] == f.rid("S2")]:
        hdr, body = f.lsdb[A2].pop(key)
        for n in ("ABR2",):  # the only other router of area 2
            f.send(n, f.core(n).handle(api.LsaDelete("0.0.0.0", A2, False, dataclasses.replace(hdr, age=3600), body), f.now))
    f.flood()
    leak_round(f, f.leakers)
    assert f.rid("S2") not in cs.energy_in(f.core("HE").teds)
    assert not [t for _, t in copies(f.core("B0"), A0) if t.router_id == f.rid("S2")]


def test_a_stale_site_status_is_not_leaked_and_counted_once(fab):
    f = fab
    leak_round(f, f.leakers)
    later = WALL + leak.MAX_AGE + 60  # every reading of every site older than max_age
    abr2 = f.core("ABR2")
    leak_round(f, f.leakers, later)
    leak_round(f, f.leakers, later)
    assert abr2.stats["leak_stale"] >= 1
    n = abr2.stats["leak_stale"]
    leak_round(f, f.leakers, later + 1)
    assert abr2.stats["leak_stale"] == n  # the same stale copy is not counted again
    assert f.rid("S2") not in cs.energy_in(f.core("HE").teds)
    # the instances still travel (they carry no readings); the ranking charges the worst
    assert any(i.router_id == f.rid("S2") for i in cs.instances_in(f.core("HE").teds, "inference"))


def test_hostile_leaked_copies_are_counted_and_dropped(fab):
    f = fab
    leak_round(f, f.leakers)
    he = f.core("HE")
    ted = he.teds[A1]
    s2, fake, fab_abr = f.rid("S2"), "10.99.99.99", "10.99.99.98"
    good = cs.energy_in(he.teds)[s2]["carbon_g_per_kwh"]["value"]
    ne = wire.NodeEnergy(s2, carbon_g_per_kwh=wire.Reading(1.0, int(WALL) + 5))  # newer than the real one
    # a router that is no ABR claims to have leaked S2's status
    f.inject(A1, fake, "200.0.0.77", wire.encode([dataclasses.replace(ne, origin_area=A2, abr_chain=(fake,))]))
    # one names another site without a leak sub-TLV
    f.inject(A1, fake, "200.0.0.78", wire.encode([ne]))
    # a router that says it is an ABR of areas 0 and 1: a chain that does not end in it,
    # a copy "leaked" into the area it claims to come from, one from an area it does not border
    abr = wire.AreaBorder(fab_abr, (A0, A1))
    f.inject(A1, fab_abr, "200.0.0.79", wire.encode([abr, dataclasses.replace(ne, origin_area=A2, abr_chain=(f.rid("ABR1"),))]))
    f.inject(A1, fab_abr, "200.0.0.80", wire.encode([dataclasses.replace(ne, origin_area=A1, abr_chain=(fab_abr,))]))
    f.inject(A1, fab_abr, "200.0.0.81", wire.encode([dataclasses.replace(ne, origin_area=A2, abr_chain=(fab_abr,))]))
    f.flood()
    got = cs.energy_in(he.teds)[s2]["carbon_g_per_kwh"]["value"]
    assert got == pytest.approx(good)  # none of them displaced the real copy
    assert ted.stats["leak_unknown_origin"] == 5
    cs.energy_in(he.teds)
    assert ted.stats["leak_unknown_origin"] == 5  # counted once, not per look
    # an ABR never passes such copies on
    leak_round(f, f.leakers)
    hostile = [t for _, t in copies(f.core("B0"), A0) if isinstance(t, wire.NodeEnergy) and t.carbon_g_per_kwh.value == 1.0]
    assert hostile == []
    assert cs.energy_in(f.core("S3").teds)[s2]["carbon_g_per_kwh"]["value"] == pytest.approx(good)


# ------------------------------------------------------------------ pure parts


def ted_with(area, lsas, abrs=()):
    t = TED(area)
    for adv in abrs:
        t.apply_tlvs(adv, f"ab-{adv}", [wire.AreaBorder(adv, (A0, A1, A2, A3))])
    for i, (adv, tlvs) in enumerate(lsas):
        t.apply_tlvs(adv, f"200.0.0.{i + 1}", tlvs)
    return t


def ne(rid, ci=100.0, ts=int(WALL), age=0, **kw):
    return wire.NodeEnergy(rid, carbon_g_per_kwh=wire.Reading(ci, ts, age), **kw)


def si(rid, addr="10.9.0.1", **kw):
    return wire.ServiceInstance(rid, "inference", addr, 1.25e9, **kw)


def test_leak_sub_tlvs_round_trip_and_are_checked():
    for t in (ne("10.0.0.7", origin_area=A2, abr_chain=("10.0.0.4", "10.0.0.2")), si("10.0.0.7", origin_area=A2, abr_chain=("10.0.0.4",))):
        (back,) = wire.decode(wire.encode([t]))
        assert back == t
    (own,) = wire.decode(wire.encode([ne("10.0.0.7")]))
    assert own.origin_area is None and own.abr_chain == ()
    for bad in (
        ne("10.0.0.7", origin_area=A2),
        ne("10.0.0.7", abr_chain=("10.0.0.4",)),
        si("10.0.0.7", origin_area=A2, abr_chain=("10.0.0.4", "10.0.0.4")),
        ne("10.0.0.7", origin_area=A2, abr_chain=tuple(f"10.0.1.{i}" for i in range(wire.MAX_LEAK_CHAIN + 1))),
    ):
        with pytest.raises(ValueError):
            wire.encode([bad])
    # a duplicate ABR or a bad length on the wire is a DecodeError naming the offset
    body = bytearray(wire.encode([ne("10.0.0.7", origin_area=A2, abr_chain=("10.0.0.4", "10.0.0.2"))]))
    body[-4:] = bytes([10, 0, 0, 4])
    with pytest.raises(wire.DecodeError, match="twice"):
        wire.decode(bytes(body))


def test_a_sites_own_copy_wins_over_a_leaked_one_in_the_ted():
    site, abr = "10.0.0.7", "10.0.0.4"
    leaked = ne(site, ci=999.0, ts=int(WALL) + 100, origin_area=A2, abr_chain=(abr,))
    t = ted_with(A1, [(abr, [leaked]), (site, [ne(site, ci=10.0)])], abrs=[abr])
    c = t.energy()[site]
    assert not c.leaked and c.via is None and c.tlv.carbon_g_per_kwh.value == 10.0
    t.withdraw(site, "200.0.0.2")
    c = t.energy()[site]
    assert c.leaked and c.via == abr and c.tlv.carbon_g_per_kwh.value == 999.0


def test_plan_leaks_up_to_the_backbone_and_down_and_never_back():
    abr, site = "10.0.0.4", "10.0.0.7"
    teds = {
        A0: ted_with(A0, [], abrs=[abr]),
        A2: ted_with(A2, [(site, [ne(site), si(site)])], abrs=[abr]),
        A3: ted_with(A3, [], abrs=[abr]),
    }
    p = leak.plan(abr, teds, now=WALL)
    assert sorted(p) == [A0]  # non-backbone -> backbone only
    assert [type(t) for t in p[A0]] == [wire.NodeEnergy, wire.ServiceInstance]
    assert all(t.origin_area == A2 and t.abr_chain == (abr,) and t.router_id == site for t in p[A0])
    assert p[A0][0].carbon_g_per_kwh == ne(site).carbon_g_per_kwh  # value, ts and age kept
    # another ABR's copy in the backbone goes down into every other area, not back into its origin
    other = "10.0.0.5"
    teds[A0] = ted_with(A0, [(other, [ne("10.0.0.8", origin_area=A1, abr_chain=(other,))])], abrs=[abr, other])
    teds[A1] = ted_with(A1, [("10.0.0.8", [ne("10.0.0.8")])], abrs=[abr])
    p = leak.plan(abr, teds, now=WALL)
    down = {a: [t.router_id for t in p.get(a, [])] for a in (A2, A3)}
    assert down == {A2: ["10.0.0.8"], A3: ["10.0.0.8"]}
    assert all(t.abr_chain == (other, abr) for a in (A2, A3) for t in p[a])
    assert "10.0.0.8" not in [t.router_id for t in p.get(A1, [])]
    # a leaked copy learnt in a non-backbone area is never leaked again
    teds[A3] = ted_with(A3, [(other, [ne("10.0.0.9", origin_area=A1, abr_chain=(other,))])], abrs=[abr, other])
    assert "10.0.0.9" not in [t.router_id for t in leak.plan(abr, teds, now=WALL).get(A0, [])]


def test_plan_dedupes_two_abrs_copies_of_one_site():
    abr, b1, b2, site = "10.0.0.4", "10.0.0.5", "10.0.0.6", "10.0.0.8"
    teds = {
        A0: ted_with(
            A0,
            [(b1, [ne(site, ci=5.0, origin_area=A1, abr_chain=(b1,))]), (b2, [ne(site, ci=7.0, ts=int(WALL) + 9, origin_area=A1, abr_chain=(b2,))])],
            abrs=[abr, b1, b2],
        ),
        A2: ted_with(A2, [], abrs=[abr]),
    }
    (t,) = leak.plan(abr, teds, now=WALL + 10)[A2]
    assert t.carbon_g_per_kwh.value == 7.0 and t.abr_chain == (b2, abr)  # the newest readings


def test_stale_and_future_readings_are_left_out():
    abr, site = "10.0.0.4", "10.0.0.7"
    mixed = wire.NodeEnergy(site, power_w=wire.Reading(400.0, int(WALL) - 1000), carbon_g_per_kwh=wire.Reading(50.0, int(WALL) - 10))
    teds = {A0: ted_with(A0, [], abrs=[abr]), A2: ted_with(A2, [(site, [mixed])], abrs=[abr])}
    (t,) = leak.plan(abr, teds, now=WALL)[A0]
    assert t.power_w is None and t.carbon_g_per_kwh.value == 50.0
    st: Counter = Counter()
    teds[A2] = ted_with(A2, [(site, [ne(site, ts=int(WALL) - 1000)])], abrs=[abr])
    assert leak.plan(abr, teds, now=WALL, stats=st) == {} and st["leak_stale"] == 1
    teds[A2] = ted_with(A2, [(site, [ne(site, ts=0, age=leak.MAX_AGE + 1)])], abrs=[abr])  # no timestamp: its age says
    assert leak.plan(abr, teds, now=WALL, stats=st) == {} and st["leak_stale"] == 2
    teds[A2] = ted_with(A2, [(site, [ne(site, ts=int(WALL) + 3600)])], abrs=[abr])
    assert leak.plan(abr, teds, now=WALL, stats=st) == {} and st["leak_future_ts"] == 1


def test_pack_is_bounded_and_keeps_a_sites_tlvs_together():
    tlvs = []
    for i in range(60):
        rid = f"10.1.0.{i + 1}"
        tlvs += [ne(rid, origin_area=A2, abr_chain=("10.0.0.4",)), si(rid, f"10.9.0.{i + 1}", origin_area=A2, abr_chain=("10.0.0.4",))]
    st: Counter = Counter()
    bodies = leak.pack(tlvs, max_lsas=3, stats=st)
    assert len(bodies) == 3 and all(len(b) <= wire.MAX_BODY for b in bodies)
    got = [t for b in bodies for t in wire.decode(b)]
    sites = [t.router_id for t in got]
    assert sites == sorted(sites, key=lambda r: int(r.split(".")[-1]))  # in router-ID order
    for b in bodies:  # a site's energy and instance in one body
        rids = [t.router_id for t in wire.decode(b)]
        assert all(rids.count(r) == 2 for r in rids)
    assert st["leak_truncated"] == len(tlvs) - len(got) > 0


def test_leaker_replaces_make_before_break_and_withdraws():
    abr, site = "10.0.0.4", "10.0.0.7"
    ids = iter(range(1, 100))
    st: Counter = Counter()
    lk = leak.Leaker(200, "draft", st, lambda taken=(): next(ids))
    teds = {A0: ted_with(A0, [], abrs=[abr]), A2: ted_with(A2, [(site, [ne(site)])], abrs=[abr])}
    r1 = lk.update(abr, teds, {A0, A2}, WALL)
    assert [type(r).__name__ for r in r1] == ["OriginateRequest"] and r1[0].area == A0
    assert lk.update(abr, teds, {A0, A2}, WALL) == []  # nothing changed: nothing sent
    teds[A2].apply_tlvs(site, "200.0.0.1", [ne(site, ci=300.0)])
    r2 = lk.update(abr, teds, {A0, A2}, WALL)
    assert [type(r).__name__ for r in r2] == ["OriginateRequest", "DeleteRequest"] and r2[1].opaque_id == r1[0].opaque_id
    assert lk.wanted() == {(A0, r2[0].opaque_id)}
    teds[A2].withdraw(site, "200.0.0.1")
    r3 = lk.update(abr, teds, {A0, A2}, WALL)
    assert [type(r).__name__ for r in r3] == ["DeleteRequest"] and lk.wanted() == set()
    assert st["leak_withdrawn"] == 1
