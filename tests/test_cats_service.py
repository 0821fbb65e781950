"""Service-instance choice (cats.service): the joint cost, its terms, the
bounds of seed sec. 3.3 / 4.2, and what a request nobody meets is told."""

import math

import pytest

from pyfrr_pwr.cats import service as cs
from pyfrr_pwr.model.ted import TED
from pyfrr_pwr.proto import wire

A, B, C = "10.0.1.1", "10.0.2.1", "10.0.3.1"
GBPS = 1.25e8  # bytes/s


def inst(site, addr, cap=10 * GBPS, score=None, l0=()):
    return wire.ServiceInstance(site, "infer", addr, cap, l0, score)


def status(power=1000.0, ci=300.0, green=0.0, price=80.0, cur="EUR", load=0.5, cap_w=None):
    s = {
        "power_w": {"value": power},
        "carbon_g_per_kwh": {"value": ci},
        "green_share": {"value": green},
        "price_per_mwh": {"value": price, "currency": cur},
        "supply_load": {"value": load},
    }
    if cap_w is not None:
        s["capacity_w"] = {"value": cap_w}
    return s


def path(to, pwr=1e-8, delay=2000.0, jitter=100.0, bw=10 * GBPS, via=()):
    return cs.PathFigures(to, pwr, delay, jitter, bw, 3, via)


INSTS = [inst(A, "10.9.1.1"), inst(B, "10.9.2.1"), inst(C, "10.9.3.1")]
PATHS = {A: [path(A)], B: [path(B, via=("10.0.0.1",))], C: [path(C, via=("10.0.0.2",))]}


def test_lowest_carbon_site_wins_and_every_term_is_shown():
    energy = {A: status(ci=500), B: status(ci=50), C: status(ci=300)}
    r = cs.rank(INSTS, PATHS, energy, cs.Request("infer", demand=GBPS))
    assert [e["site"] for e in r.ranked] == [B, C, A]
    best = r.best
    assert set(best["terms"]) == set(cs.TERMS)
    # site W per unit of work: 1000 W / 10 Gb/s, times 1 Gb/s = 100 W
    assert best["figures"]["site_w"] == pytest.approx(100.0)
    assert best["terms"]["carbon"]["value"] == pytest.approx(0.1 * 50)  # kW x g/kWh
    assert best["terms"]["power"]["value"] == pytest.approx(100.0 + 1e-8 * GBPS)
    assert best["cost"] == pytest.approx(sum(t["cost"] for t in best["terms"].values()))
    assert best["via"] == ["10.0.0.1"]


def test_changing_carbon_intensity_or_load_moves_the_choice():
    energy = {A: status(ci=100), B: status(ci=200), C: status(ci=300)}
    assert cs.rank(INSTS, PATHS, energy, cs.Request("infer")).best["site"] == A
    energy[A] = status(ci=900)
    assert cs.rank(INSTS, PATHS, energy, cs.Request("infer")).best["site"] == B
    # a loaded site: more power drawn per unit of work
    energy[B] = status(ci=200, power=9000)
    assert cs.rank(INSTS, PATHS, energy, cs.Request("infer")).best["site"] == C


def test_green_share_and_price_count():
    energy = {A: status(ci=300, green=0.9), B: status(ci=300), C: status(ci=300)}
    assert cs.rank(INSTS, PATHS, energy, cs.Request("infer", weights=cs.parse_weights("price=0"))).best["site"] == A
    energy = {A: status(price=500), B: status(price=10), C: status(price=80)}
    w = cs.parse_weights("power=0,carbon=0,price=1")
    assert cs.rank(INSTS, PATHS, energy, cs.Request("infer", weights=w)).best["site"] == B


def test_path_power_times_demand_decides_between_equal_sites():
    energy = {A: status(), B: status(), C: status()}
    paths = {A: [path(A, pwr=5e-7)], B: [path(B, pwr=1e-7)], C: [path(C, pwr=3e-7)]}
    r = cs.rank(INSTS, paths, energy, cs.Request("infer", demand=GBPS))
    assert [e["site"] for e in r.ranked] == [B, C, A]
    assert r.best["terms"]["power"]["value"] - r.ranked[1]["terms"]["power"]["value"] == pytest.approx((1e-7 - 3e-7) * GBPS)


def test_bounds_delay_jitter_and_the_best_figure_when_none_meets():
    energy = {A: status(), B: status(), C: status()}
    paths = {A: [path(A, delay=12000)], B: [path(B, delay=11000, jitter=1500)], C: [path(C, jitter=2500)]}
    r = cs.rank(INSTS, paths, energy, cs.Request("infer"))
    assert r.ranked == [] and len(r.rejected) == 3
    assert r.failed["max_delay"]["best"] == 11000 and r.failed["max_delay"]["limit"] == cs.MAX_DELAY_US
    assert r.failed["max_jitter"]["best"] == 1500 and B in r.failed["max_jitter"]["instance"]
    msg = r.reason()
    assert "max_delay: best 11 ms" in msg and "exceeds 10 ms" in msg and "max_jitter: best 1.5 ms" in msg
    # critical traffic: 5 ms
    paths = {A: [path(A, delay=6000)], B: [path(B, delay=4000)]}
    r = cs.rank(INSTS, paths, energy, cs.Request("infer", max_delay_us=cs.CRITICAL_DELAY_US))
    assert [e["site"] for e in r.ranked] == [B] and r.rejected[0]["violations"][0]["bound"] == "max_delay"
    assert r.unreachable == [{"site": C, "address": "10.9.3.1"}]


def test_an_instance_uses_its_cheapest_feasible_path():
    energy = {A: status()}
    paths = {A: [path(A, pwr=1e-8, delay=20000), path(A, pwr=5e-8, delay=3000, via=("10.0.0.9",))]}
    r = cs.rank([INSTS[0]], paths, energy, cs.Request("infer"))
    assert len(r.ranked) == 1 and r.best["via"] == ["10.0.0.9"] and r.rejected == []


def test_capacity_bandwidth_and_site_power_bounds():
    energy = {A: status(), B: status(power=1000, cap_w=1050), C: status()}
    insts = [inst(A, "10.9.1.1", cap=0.5 * GBPS), INSTS[1], INSTS[2]]
    paths = {A: [path(A)], B: [path(B)], C: [path(C, bw=0.1 * GBPS)]}
    r = cs.rank(insts, paths, energy, cs.Request("infer", demand=GBPS))
    why = {e["site"]: e["violations"][0]["bound"] for e in r.rejected}
    assert why == {A: "capacity", B: "site_power", C: "path_bandwidth"}


def test_missing_figures_are_charged_the_worst_advertised():
    energy = {A: status(ci=400), B: {"power_w": {"value": 1000.0}}, C: status(ci=100)}
    r = cs.rank(INSTS, PATHS, energy, cs.Request("infer", weights=cs.parse_weights("price=0")))
    b = next(e for e in r.ranked if e["site"] == B)
    assert b["terms"]["carbon"]["assumed"] and b["terms"]["carbon"]["value"] == pytest.approx(0.1 * 400)
    assert r.best["site"] == C


def test_different_currencies_leave_price_out_and_say_so():
    energy = {A: status(price=1, cur="USD"), B: status(price=100, cur="EUR"), C: status()}
    r = cs.rank(INSTS, PATHS, energy, cs.Request("infer"))
    assert any("currencies" in n for n in r.notes)
    assert all(e["terms"]["price"]["value"] == 0 for e in r.ranked)


def test_l0_site_power_per_unit_overrides_the_site_figure():
    l0 = (wire.L0Metric(cs.L0_SITE_W_PER_UNIT, 1e-7, "mean", "measured", 10000),)
    energy = {A: status(power=1e5)}
    r = cs.rank([inst(A, "10.9.1.1", l0=l0)], {A: [path(A)]}, energy, cs.Request("infer", demand=GBPS))
    assert r.best["figures"]["site_w"] == pytest.approx(1e-7 * GBPS) and "L0" in r.best["terms"]["power"]["how"]


def test_score_weight_uses_the_l2_score():
    insts = [inst(A, "10.9.1.1", score=2), inst(B, "10.9.2.1", score=9)]
    energy = {A: status(), B: status()}
    r = cs.rank(insts, {A: [path(A)], B: [path(B)]}, energy, cs.Request("infer", weights=cs.parse_weights("power=0,carbon=0,price=0,score=1")))
    assert r.best["site"] == B and r.best["terms"]["score"]["value"] == 1


def test_no_instance_at_all():
    r = cs.rank([], {}, {}, cs.Request("infer"))
    assert "no instance" in r.reason() and r.to_json()["reason"]


@pytest.mark.parametrize(
    "v,what",
    [("power", "TERM=NUMBER"), ("speed=1", "unknown term"), ("power=x", "not a number"), ("power=-1", "from 0"), ("power=nan", "from 0"), (3, "TERM")],
)
def test_parse_weights_names_the_fault(v, what):
    with pytest.raises(ValueError, match=what):
        cs.parse_weights(v)


def test_parse_weights_and_delay():
    assert cs.parse_weights("carbon=0.5, price=0")["carbon"] == 0.5
    assert cs.parse_weights({"delay": 2})["delay"] == 2.0
    assert cs.parse_delay("10ms") == 10000 and cs.parse_delay("500us") == 500 and cs.parse_delay(7) == 7.0
    for bad in ("10 parsecs", "-1ms", math.inf, True, "1" * 50):
        with pytest.raises(ValueError):
            cs.parse_delay(bad)


def test_instances_and_energy_from_a_ted():
    ted = TED("0.0.0.1")
    si = inst(A, "10.9.1.1")
    ne = wire.NodeEnergy(A, power_w=wire.Reading(500.0, 1700000000, 1, "measured", 1), sources=((1, "redfish"),))
    ted.apply(A, wire.make_lsid(200, 7), wire.encode([ne, si]))
    ted.apply(B, wire.make_lsid(200, 8), wire.encode([inst(A, "10.9.9.9")]))  # B cannot speak for A
    assert cs.instances_in({"0.0.0.1": ted}, "infer") == [si]
    e = cs.energy_in({"0.0.0.1": ted})
    assert e[A]["power_w"]["value"] == 500.0 and e[A]["power_w"]["source"] == "redfish"


def test_figures_of_a_path_choice():
    d = {
        "to": A,
        "best": {"pwr": 2e-9, "delay_us": 300, "jitter_us": 20, "min_avail_bw": 1e9, "hops": 2, "abr_chain": ["1.1.1.1"]},
        "runners_up": [{"pwr": 3e-9, "hops": 4}],
    }
    f = cs.figures_of(d)
    assert f[0] == cs.PathFigures(A, 2e-9, 300.0, 20.0, 1e9, 2, ("1.1.1.1",)) and f[1].delay_us == 0.0


def test_a_sites_figures_arrive_from_its_own_area_or_via_an_abr():
    # issue 9 sec. 3: an ABR leaked C's copies into area 1 (agent.leak); area 3 has C's own
    abr = "10.0.0.4"
    a1, a3 = TED("0.0.0.1"), TED("0.0.0.3")
    a1.apply(abr, "200.0.0.1", wire.encode([wire.AreaBorder(abr, ("0.0.0.0", "0.0.0.1"))]))
    leak = dict(origin_area="0.0.0.3", abr_chain=("10.0.0.5", abr))
    ne = wire.NodeEnergy(C, carbon_g_per_kwh=wire.Reading(50.0, 1_800_000_000, 3), **leak)
    si = wire.ServiceInstance(C, "infer", "10.9.3.1", 10 * GBPS, **leak)
    a1.apply(abr, "200.0.0.2", wire.encode([ne, si]))
    (got,) = cs.instances_in({"0.0.0.1": a1}, "infer")
    assert got == si
    e = cs.energy_in({"0.0.0.1": a1})[C]
    assert e["carbon_g_per_kwh"]["value"] == 50.0 and e["carbon_g_per_kwh"]["age_s"] == 3
    assert e["via"] == ["10.0.0.5", abr] and e["origin_area"] == "0.0.0.3"
    # with the site's own area known too, its own copy wins whichever area sorts first
    own = wire.NodeEnergy(C, carbon_g_per_kwh=wire.Reading(70.0, 1_799_999_000))
    a3.apply(C, "200.0.0.9", wire.encode([own, inst(C, "10.9.3.1")]))
    teds = {"0.0.0.1": a1, "0.0.0.3": a3}
    e = cs.energy_in(teds)[C]
    assert e["carbon_g_per_kwh"]["value"] == 70.0 and "via" not in e
    assert cs.instances_in(teds, "infer") == [inst(C, "10.9.3.1")]
    # the leaked figures rank for real: C's carbon is not assumed
    r = cs.rank(cs.instances_in({"0.0.0.1": a1}, "infer"), {C: [path(C, via=(abr,))]}, cs.energy_in({"0.0.0.1": a1}), cs.Request("infer"))
    assert r.best["terms"]["carbon"]["assumed"] is False and r.best["figures"]["carbon_g_per_kwh"] == 50.0
    assert r.best["instance"]["origin_area"] == "0.0.0.3"


def test_stale_readings_are_left_out_and_counted():
    from collections import Counter

    ted = TED("0.0.0.1")
    now = 1_800_000_000
    ne = wire.NodeEnergy(A, power_w=wire.Reading(500.0, now - 1000), carbon_g_per_kwh=wire.Reading(50.0, now - 10, 5))
    ted.apply(A, "200.0.0.1", wire.encode([ne]))
    st = Counter()
    e = cs.energy_in({"0.0.0.1": ted}, now=now, max_age=300, stats=st)[A]
    assert "power_w" not in e and e["carbon_g_per_kwh"]["value"] == 50.0 and st["energy_stale_readings"] == 1
    assert "power_w" in cs.energy_in({"0.0.0.1": ted})[A]  # without a max age: as advertised
