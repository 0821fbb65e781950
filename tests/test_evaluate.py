"""The evaluation (pyfrr_pwr.evaluate, `pyfrr-pwr evaluate`): strategies,
power accounting and bad input, on hand-built graphs and small real
networks (abilene, fig-2-0). Offline; the germany50 sweep is in bench/."""

import json
import math
import shutil

import networkx as nx
import numpy as np
import pytest
from conftest import ROOT

from pyfrr_pwr.cli import evaluate as cli
from pyfrr_pwr.evaluate import demands as dem
from pyfrr_pwr.evaluate import draft, instance, optimum, ospf, powerdown, sources
from pyfrr_pwr.evaluate.instance import Instance
from pyfrr_pwr.evaluate.metrics import measure
from pyfrr_pwr.evaluate.network import BACKBONE, Link, Network, partition
from pyfrr_pwr.evaluate.placement import Demand
from pyfrr_pwr.evaluate.powermodel import DEFAULTS, build
from pyfrr_pwr.evaluate.sweep import Options, run_point, sweep
from pyfrr_pwr.model import advert, metric
from pyfrr_pwr.model.ted import TED

FIG20 = str(ROOT / "containerlab/fig-2-0.clab.yml")
FIG217 = ROOT / "containerlab/fig-2-1-7.clab.yml"
G10 = 10e9


def net_of(edges, caps=None, name="hand", areas=None):
    nodes = []
    for u, v in edges:
        for n in (u, v):
            if n not in nodes:
                nodes.append(n)
    count: dict = {}

    def ifn(n):
        count[n] = count.get(n, 0) + 1
        return f"eth{count[n]}"

    links = tuple(Link(i, u, v, (caps or {}).get((u, v), G10), (areas or {}).get((u, v), BACKBONE), ifn(u), ifn(v)) for i, (u, v) in enumerate(edges))
    return Network(name, f"test {name}", tuple(nodes), links)


def inst_of(net, demands, **kw):
    return Instance(net, build(net, DEFAULTS, **kw), list(demands), "test")


def run(capsys, *argv):
    rc = cli.main(["evaluate", *argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


# ----------------------------------------------------------------- OSPF


def test_ospf_ecmp_splits_equally_over_equal_cost_paths():
    net = net_of([("A", "B"), ("A", "C"), ("B", "D"), ("C", "D")])
    pl = ospf.run(net, [Demand("A", "D", 4e9)], "hop")
    r = pl.routes[0]
    arcs = {net.arc_ends(a): f for a, f in r.items()}
    assert arcs == {("A", "B"): 0.5, ("A", "C"): 0.5, ("B", "D"): 0.5, ("C", "D"): 0.5}
    assert pl.loads.sum() == pytest.approx(4 * 4e9 / 2)


def test_ospf_ecmp_splits_per_hop_not_per_path():
    # A has next hops B and C; behind B two equal paths, behind C one: a
    # FIB gives C half (not a third) and each path behind B a quarter
    net = net_of([("A", "B"), ("A", "C"), ("B", "E"), ("B", "F"), ("C", "G"), ("E", "T"), ("F", "T"), ("G", "T")])
    r = ospf.run(net, [Demand("A", "T", 1e9)], "hop").routes[0]
    f = {net.arc_ends(a): x for a, x in r.items()}
    assert f[("A", "C")] == f[("A", "B")] == 0.5
    assert f[("B", "E")] == f[("B", "F")] == 0.25
    assert f[("G", "T")] == 0.5


def test_ospf_invcap_avoids_the_thin_link():
    net = net_of([("A", "B"), ("B", "C"), ("A", "C")], caps={("A", "C"): 10e9, ("A", "B"): 40e9, ("B", "C"): 40e9})
    assert list(ospf.igp_costs(net, "invcap")) == [1, 1, 1, 1, 4, 4]
    r = ospf.run(net, [Demand("A", "C", 1e9)], "invcap").routes[0]
    assert {net.arc_ends(a) for a in r} == {("A", "B"), ("B", "C")}
    r = ospf.run(net, [Demand("A", "C", 1e9)], "hop").routes[0]
    assert {net.arc_ends(a) for a in r} == {("A", "C")}


# ----------------------------------------------------------- accounting


def test_power_accounting_on_a_three_node_line_equals_a_hand_computation():
    net = net_of([("A", "B"), ("B", "C")])
    pm = build(net, DEFAULTS)
    chassis = 19.7 * 48  # T640 base + host + SCG at -48 V
    card, port = 6.8 * 48, 0.625 * 48  # FPC3 at full load, one PIC
    idle = 0.9 * card
    loads = np.zeros(net.n_arcs)
    loads[0] = 5e9  # A -> B
    loads[2] = 5e9  # B -> C
    b = pm.account(net, loads, sleep=False)
    # A's card sends 5 of 10G, B's 5 of its 20G, C's nothing; four ports up
    want = 3 * chassis + (idle + (card - idle) * 0.5) + (idle + (card - idle) * 0.25) + idle + 4 * port
    assert b.total_w == pytest.approx(want, rel=1e-12)
    assert (b.links_idle, b.cards_idle, b.links_asleep, b.cards_asleep) == (0, 0, 0, 0)
    # only A -> B: with sleeping, link B-C and its ports sleep, so does C's card
    loads[2] = 0.0
    b = pm.account(net, loads, sleep=True)
    want = 3 * chassis + (idle + (card - idle) * 0.5) + idle + 2 * port
    assert b.total_w == pytest.approx(want, rel=1e-12)
    assert (b.links_idle, b.cards_idle, b.links_asleep, b.cards_asleep) == (1, 1, 1, 1)


def test_profiles_follow_the_drafts_shapes():
    net = net_of([("A", "B")])
    for shape, kind in (("linear", "linear"), ("flattening", "flattening"), ("exponential", "exponential")):
        pm = build(net, DEFAULTS, shape=shape)
        assert pm.cards[0].profile.shape == kind
        assert pm.cards[0].profile(0.0) == pytest.approx(0.9 * 6.8 * 48)
        assert pm.cards[0].profile(1.0) == pytest.approx(6.8 * 48)


def test_the_drafts_metric_sees_the_same_power_model():
    """POWER = (card + ports) per normalised port / available bandwidth
    (sec. 2.1.1) from the router's RouterPower, at the card's load."""
    net = net_of([("A", "B"), ("B", "C")])
    pm = build(net, DEFAULTS)
    adv = draft.Advertiser(net, pm)
    before = adv.value[1]  # B -> A, the other port of B's card
    changed = adv.reserve([2], 4e9)  # B -> C
    rp = pm.routers["B"]
    card_w = pm.cards[pm.card_of[2]].profile(4e9 / 20e9) + 2 * 0.625 * 48
    m = rp.port_metrics(pm.ifname[2], available_bps=6e9, used_bps={pm.ifname[2]: 4e9})
    assert m.consumed == pytest.approx(card_w / 2 / metric.bps_to_Bps(6e9))
    assert adv.value[2] == pytest.approx(m.effective)
    tlv = advert.link_tlv(rp, pm.ifname[2], net.router_ids["C"], draft._addr(2), draft._addr(3), 6e9, {pm.ifname[2]: 4e9})
    assert adv.tlv[2] == tlv
    # B's other port shares the card: its POWER moved with the card's load,
    # and it re-advertises only if that left its band (sec. 2.2)
    fresh = rp.port_metrics(pm.ifname[1], available_bps=10e9, used_bps={pm.ifname[2]: 4e9}).effective
    assert fresh != before
    assert (adv.value[1] == fresh) == (1 in changed) and adv.value[1] in (before, fresh)
    assert 2 in changed and adv.floods + adv.suppressed == net.n_arcs + 2
    assert 0 not in changed and 3 not in changed  # A's and C's cards carry nothing new


# ------------------------------------------------------------- refusals


@pytest.mark.parametrize("strategy", ["ospf-hop", "draft", "draft-inter", "powerdown", "optimum", "optimum-sleep"])
def test_a_demand_that_fits_nowhere_is_refused_and_counted(strategy):
    net = net_of([("A", "B"), ("B", "C"), ("A", "C")], areas={("A", "C"): "0.0.0.1"})
    ds = [Demand("A", "C", 25e9), Demand("A", "B", 1e9)]  # 25G > the 20G of both paths
    inst = inst_of(net, ds)
    p = run_point(inst, 1.0, Options((strategy,), time_limit=5))
    r = p.rows[strategy]
    if strategy.startswith("optimum"):
        assert r.watts is None and r.refused == 2 and r.notes.get("infeasible")
    else:
        assert r.refused == 1 and r.placed == 1
        assert r.carried_gbps == pytest.approx(1.0)


# -------------------------------------------------------------- abilene


@pytest.fixture(scope="module")
def abilene():
    net, matrix = sources.load_topohub("sndlib/abilene")
    return instance.prepare(net, matrix)


def test_abilene_has_its_own_demands_dimensioned_at_half_load(abilene):
    inst = abilene
    assert inst.demand_source == "SNDlib demand matrix" and len(inst.base) == 132
    pl = ospf.run(inst.net, inst.base, "hop")
    util = pl.loads / inst.net.caps
    assert util.max() == pytest.approx(0.5) and util.max() <= 0.5 + 1e-9
    assert set(inst.net.caps) <= {10e9, 40e9}


@pytest.mark.parametrize("name,n", [("abilene", 2), ("geant", 2), ("germany50", 3), ("nobel-germany", 3)])
def test_partition_gives_a_connected_backbone_and_areas_that_touch_only_it(name, n):
    net, _ = sources.load_topohub(name)
    G = nx.Graph(net.graph())
    bb, parts = partition(G, n)
    assert bb == partition(G, n)[0]  # deterministic
    assert nx.is_connected(G.subgraph(bb)) and len(bb) >= 2
    assert 1 <= len(parts) <= n and set().union(bb, *parts) == set(G)
    for p in parts:
        assert nx.is_connected(G.subgraph(p))
        assert any(w in bb for v in p for w in G[v])
    where = {v: i for i, p in enumerate(parts) for v in p}
    assert all(where[u] == where[v] for u, v in G.edges if u in where and v in where)
    net2 = instance.with_partition(net, n)
    assert all(len(net2.node_areas(x)) == 1 or BACKBONE in net2.node_areas(x) for x in net2.nodes)


def _valid(net, demands, pl):
    loads = np.zeros(net.n_arcs)
    for d, r in zip(demands, pl.routes):
        if r is None:
            continue
        arcs = list(r)
        assert all(f == 1.0 for f in r.values())
        # one contiguous path src -> dst
        nxt = {net.arc_ends(a)[0]: net.arc_ends(a)[1] for a in arcs}
        at, seen = d.src, 0
        while at != d.dst:
            at = nxt[at]
            seen += 1
        assert seen == len(arcs)
        loads[arcs] += d.bps
    assert np.allclose(loads, pl.loads)
    assert (pl.loads <= net.caps * (1 + 1e-9)).all()


@pytest.mark.parametrize("scale", [1.0, 1.9])
def test_single_path_strategies_place_within_capacity(abilene, scale):
    ds = dem.scaled(abilene.base, scale)
    net, pm = abilene.net, abilene.power
    for pl in (draft.run_intra(net, pm, ds), draft.run_inter(net, pm, ds, refresh=1), powerdown.run(net, ds)):
        _valid(net, ds, pl)
        assert pl.placed.all(), pl.strategy


@pytest.fixture(scope="module")
def abilene_points(abilene):
    return [run_point(abilene, s, Options(time_limit=20)) for s in (0.8, 1.6)]


def test_the_optimum_is_never_worse_than_any_strategy_within_its_gap(abilene_points):
    for p in abilene_points:
        opt, opt_s = p.rows["optimum"], p.rows["optimum-sleep"]
        assert opt.bound_w is not None and opt_s.bound_w is not None
        assert opt.watts >= opt.bound_w * (1 - 1e-9) and opt_s.watts >= opt_s.bound_w * (1 - 1e-9)
        for s, r in p.rows.items():
            assert r.refused == 0, s
            # every element up: no placement beats the LP's bound; idle
            # elements asleep: none beats the MILP's bound
            assert r.watts_on >= opt.bound_w * (1 - 1e-9), s
            assert r.watts_sleep >= opt_s.bound_w * (1 - 1e-9), s
            assert opt.watts <= r.watts_on * (1 + 1e-9) + (opt.watts - opt.bound_w), s
        assert opt_s.watts <= p.rows["powerdown"].watts * (1 + 1e-9)  # it starts from that placement


def test_power_down_saves_what_sleeps_and_rerouting_alone_saves_little(abilene_points):
    for p in abilene_points:
        ospf_w = p.rows["ospf-invcap"].watts
        assert abs(p.rows["draft"].watts / ospf_w - 1) < 0.01
        pd = p.rows["powerdown"]
        assert pd.links_asleep > 0 and pd.watts < ospf_w
        assert p.rows["draft"].links_asleep == 0  # the draft keeps every element up


def test_draft_inter_goes_through_abrs(abilene):
    net = abilene.net
    ds = dem.scaled(abilene.base, 1.0)
    pl = draft.run_inter(net, abilene.power, ds, refresh=1)
    assert pl.notes["refreshes"] > len(ds) // 2
    area = {v: net.node_areas(v) for v in net.nodes}
    for d, r in zip(ds, pl.routes):
        if set(area[d.src]) & set(area[d.dst]):
            continue
        # an inter-area route crosses areas only at routers in both (ABRs)
        nodes = {x for a in r for x in net.arc_ends(a)}
        assert nodes & set(net.abrs)


def test_patched_ted_graph_equals_a_fresh_one(abilene):
    net = abilene.net
    adv = draft.Advertiser(net, abilene.power)
    sim = draft.InterArea(net, adv, 2)
    for ted in sim.teds.values():
        ted.graph()
    for d in dem.scaled(abilene.base, 1.5)[:40]:
        arcs = sim.place(d.src, d.dst, d.bps)
        if arcs:
            sim.update(adv.reserve(arcs, d.bps))
    for area, ted in sim.teds.items():
        fresh = TED(area)
        fresh.lsas = dict(ted.lsas)
        a, b = ted.graph(), fresh.graph()
        assert sorted(a.edges(keys=True)) == sorted(b.edges(keys=True))
        for e in b.edges(keys=True):
            assert a.edges[e] == b.edges[e], e


# -------------------------------------------------------------- the CLI


def test_cli_json_and_plots(capsys, tmp_path):
    rc, out, err = run(
        capsys,
        "--topohub",
        "sndlib/abilene",
        "--points",
        "3",
        "--time-limit",
        "5",
        "--json",
        "--plots",
        str(tmp_path),
        "--strategies",
        "ospf-hop,ospf-invcap,draft,powerdown,optimum",
    )
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["instance"]["demands"] == 132 and doc["instance"]["network"] == "abilene"
    pts = doc["points"]
    assert 2 <= len(pts) <= 3 and [p["scale"] for p in pts] == sorted(p["scale"] for p in pts)
    for p in pts[:-1]:
        for s, r in p["strategies"].items():
            assert r["refused"] == 0 and r["watts"] > 0 and r["w_per_gbps"] > 0, s
    assert doc["first_refusal"] is not None  # the sweep runs to the first refusal
    for f in doc["plots"]:
        assert (tmp_path / f.split("/")[-1]).stat().st_size > 1000
    assert {f.split(".")[-1] for f in doc["plots"]} == {"png", "svg"}


def test_cli_table_on_fig_2_0(capsys):
    rc, out, err = run(capsys, "--clab", FIG20, "--scale", "0.5,1", "--time-limit", "5")
    assert rc == 0, err
    assert "fig-2-0" in out and "draft-inter" in out and "optimum-sleep" in out
    assert "power.yml files" in out


def test_unknown_network_lists_the_available_ones(capsys):
    rc, out, err = run(capsys, "--topohub", "nosuch")
    assert rc == 2 and "Traceback" not in err
    assert "unknown network 'nosuch'" in err and "abilene" in err and "germany50" in err and "nobel-germany" in err


@pytest.mark.parametrize(
    "body,field",
    [
        ({"ATLAM5": {"NOWHERE": 1.0}}, "unknown destination node 'NOWHERE'"),
        ({"NOWHERE": {"ATLAM5": 1.0}}, "unknown source node 'NOWHERE'"),
        ({"ATLAM5": {"CHINng": -3}}, "ATLAM5.CHINng: -3 is negative"),
        ([{"src": "ATLAM5", "dst": "CHINng", "value": "inf"}], "demands[0]: 'inf' is not finite"),
        ([{"src": "ATLAM5", "dst": "CHINng", "value": float("nan")}], "demands[0]: nan is not finite"),
        ([{"src": "ATLAM5", "dst": "CHINng"}], "demands[0]: needs src, dst and value"),
    ],
)
def test_bad_demands_name_the_file_and_field(capsys, tmp_path, body, field):
    f = tmp_path / "demands.json"
    f.write_text(json.dumps({"demands": body}).replace("NaN", "NaN"))
    rc, _, err = run(capsys, "--topohub", "abilene", "--demands", str(f), "--scale", "1", "--strategies", "ospf-hop")
    assert rc == 2 and "Traceback" not in err
    assert str(f) in err and field in err


def test_a_power_default_with_no_power_is_refused(capsys, tmp_path):
    f = tmp_path / "power.yml"
    f.write_text("profile: linear\ncards:\n  10G: {ports: 4, power_w: 0, port_w: 0}\n")
    rc, _, err = run(capsys, "--topohub", "abilene", "--power", str(f), "--scale", "1", "--strategies", "ospf-hop")
    assert rc == 2 and "Traceback" not in err
    assert f"{f}:3: cards.10G" in err and "no power" in err
    f.write_text("cards:\n  10G: {ports: 4, power_w: -1}\n")
    rc, _, err = run(capsys, "--topohub", "abilene", "--power", str(f), "--scale", "1")
    assert rc == 2 and f"{f}:2: cards.10G.power_w" in err


def test_a_power_yml_profile_with_no_power_is_refused(capsys, tmp_path):
    shutil.copytree(FIG217.parent / "fig-2-1-7", tmp_path / "fig-2-1-7")
    shutil.copy(FIG217, tmp_path / FIG217.name)
    p = tmp_path / "fig-2-1-7/B/power.yml"
    p.write_text(p.read_text().replace("power_w: 0.5", "power_w: 0"))
    rc, _, err = run(capsys, "--clab", str(tmp_path / FIG217.name), "--scale", "1", "--strategies", "ospf-hop")
    assert rc == 2 and "Traceback" not in err
    assert str(p) in err and "ports.eth1" in err and "no power" in err


def test_bad_options_exit_2(capsys):
    for argv in (
        ["--topohub", "abilene", "--scale", "x"],
        ["--topohub", "abilene", "--strategies", "magic"],
        ["--topohub", "abilene", "--idle-fraction", "2"],
        [],
    ):
        rc, _, err = run(capsys, *argv)
        assert rc == 2 and "Traceback" not in err and err


def test_optimum_handles_concave_profiles_with_a_valid_bound():
    net = net_of([("A", "B"), ("B", "C"), ("A", "C"), ("C", "D"), ("B", "D")])
    ds = [Demand("A", "D", 6e9), Demand("B", "C", 3e9), Demand("D", "A", 2e9)]
    inst = inst_of(net, ds, shape="flattening", idle_fraction=0.2)
    opt = optimum.run(net, inst.power, ds, sleep=False, time_limit=10)
    assert opt.notes["programme"] == "MILP"  # concave: binaries even with every element up
    row = measure(inst, ds, opt, None)
    for pl in (ospf.run(net, ds, "hop"), draft.run_intra(net, inst.power, ds), powerdown.run(net, ds)):
        assert measure(inst, ds, pl, None).watts_on >= opt.notes["bound_w"] * (1 - 1e-9)
    assert row.watts >= opt.notes["bound_w"] * (1 - 1e-9)
    assert math.isfinite(row.gap)


def test_auto_sweep_ends_at_the_first_refusal(abilene):
    opts = Options(("ospf-hop", "ospf-invcap", "draft"))
    sw = sweep(abilene, opts, None, points=4)
    assert len(sw.points) == 4
    assert sw.first_refusal is not None
    first = sw.first_refusal[0]
    assert all(not p.refusals for p in sw.points if p.scale < first)
    assert max(p.scale for p in sw.points) >= first


def test_the_group_registers_beside_the_other_commands():
    from pyfrr_pwr.cli.main import build_parser

    p = build_parser()
    args = p.parse_args(["evaluate", "--topohub", "abilene", "--scale", "1"])
    assert args.func is cli.cmd_evaluate and args.topohub == "abilene"
