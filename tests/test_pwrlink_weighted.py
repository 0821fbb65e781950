"""Weighted PWRLINK for multi-capacity ports (draft sec. 2.1.1), end to end:
power.yml -> model -> Link TLV -> wire.encode/decode -> TED, and the same
figure in the offline tables."""

import dataclasses
import shutil

import pytest
import yaml
from conftest import ROOT

from pyfrr_pwr.files.topology import load_topology
from pyfrr_pwr.model import advert, metric
from pyfrr_pwr.model.ted import TED
from pyfrr_pwr.offline.pipeline import build_teds, link_rows, whole_graph
from pyfrr_pwr.proto import wire

GBPS = metric.GBPS

# L9 E<>F of fig. 2.1.1 re-cabled: F's end is now a fixed 10G port, so E's
# P5, a multi-capacity port that can run at 100G, negotiates down to 10G.
# Static card figures keep the arithmetic checkable by hand:
#   E LC1: 180 W now, 320 W at full load, five 10G units (its four 10G
#          ports and P5 as it runs) -> 36 W and 28 W per unit
#   F LC2: 150 W, 190 W at full load, five 10G units -> 30 W and 8 W per unit
#   available bandwidth 5 Gb/s on both ends
# POWER per end, W per Gb/s of available bandwidth (sec. 2.1.1, 2.1.8.2):
#   E P5: consumed 36/5 = 7.2, available 28/5 = 5.6 -> Pa = 5.6 (the lower)
#   F P5: consumed 30/5 = 6.0, available  8/5 = 1.6 -> Pb = 1.6
# weights, running / highest speed: E 10G/100G = 0.1, F 10G/10G = 1.0
#   PWRLINK = (0.1 * 5.6 + 1.0 * 1.6) / (0.1 + 1.0) = 2.16 / 1.1 = 1.963636...
# (the plain mean would be 3.6: the end that runs at a tenth of what it
# could counts a tenth as much)
PA, PB = 5.6, 1.6
L9_WEIGHTED = (0.1 * PA + 1.0 * PB) / 1.1


def _edit(path, fn):
    d = yaml.safe_load(path.read_text())
    fn(d)
    path.write_text(yaml.safe_dump(d, sort_keys=False))


def fig_2_1_1(tmp_path, e_highest="100G", f_speed="10G", f_highest=None):
    """fig-2-1-1 copied, with L9 at 10G: E's P5 able to run at
    ``e_highest``, F's P5 a ``f_speed`` port able to run at ``f_highest``."""
    shutil.copytree(ROOT / "containerlab", tmp_path / "containerlab")
    lab = tmp_path / "containerlab/fig-2-1-1"

    def e(d):
        d["line_cards"]["LC1"] = {"power_w": 180, "max_power_w": 320, "port_speeds": ["10G"] * 5}
        d["ports"]["eth4"].update(speed="10G", highest_speed=e_highest, available="5G")

    def f(d):
        d["line_cards"]["LC2"] = {"power_w": 150, "max_power_w": 190, "port_speeds": ["10G"] * 5}
        d["ports"]["eth1"].update(speed=f_speed, available="5G")
        if f_highest:
            d["ports"]["eth1"]["highest_speed"] = f_highest

    _edit(lab / "E/power.yml", e)
    _edit(lab / "F/power.yml", f)
    return load_topology(tmp_path / "containerlab/fig-2-1-1.clab.yml")


def l9_arcs(topo, G):
    """PWRLINK of L9 in both directions, from the CSPF graph."""
    E, F = topo.resolve("E"), topo.resolve("F")
    e_addr, f_addr = str(E.interfaces["eth4"].address.ip), str(F.interfaces["eth1"].address.ip)
    return G.edges[E.router_id, F.router_id, e_addr], G.edges[F.router_id, E.router_id, f_addr]


def test_l9_offline_row_is_weighted(tmp_path):
    topo = fig_2_1_1(tmp_path)
    row = {r.label: r for r in link_rows(topo)}["L9"]
    assert (row.a.router, row.b.router) == ("E", "F")
    assert metric.w_per_gbps(row.a.effective) == pytest.approx(PA, rel=1e-9)
    assert metric.w_per_gbps(row.b.effective) == pytest.approx(PB, rel=1e-9)
    assert (row.a.weight, row.b.weight) == (0.1, 1.0)
    assert metric.w_per_gbps(row.pwrlink) == pytest.approx(L9_WEIGHTED, rel=1e-9)


@pytest.mark.parametrize("profile", ["draft", "experimental"])
def test_l9_ted_through_the_wire_is_weighted(tmp_path, profile):
    topo = fig_2_1_1(tmp_path)
    teds = build_teds(topo, profile)  # wire.encode -> TED.apply (wire.decode)
    ef, fe = l9_arcs(topo, whole_graph(teds, "0.0.0.0"))
    # floats travel as float32
    assert ef["pwr_near"] * GBPS == pytest.approx(PA, rel=1e-6)
    assert ef["pwr_far"] * GBPS == pytest.approx(PB, rel=1e-6)
    assert ef["weight"] * GBPS == pytest.approx(L9_WEIGHTED, rel=1e-6)
    assert fe["weight"] * GBPS == pytest.approx(L9_WEIGHTED, rel=1e-6)
    # only E's end of L9 says it could run faster; L10 (E<>F too) is plain
    E, F = topo.resolve("E"), topo.resolve("F")
    ends = {e.local: e for e in teds["0.0.0.0"].ends()}
    e9, f9 = ends[str(E.interfaces["eth4"].address.ip)], ends[str(F.interfaces["eth1"].address.ip)]
    e10 = ends[str(E.interfaces["eth5"].address.ip)]
    assert e9.tlv.highest_bw == pytest.approx(100e9 / 8, rel=1e-6)
    assert e9.weight == pytest.approx(0.1, rel=1e-6)
    assert f9.tlv.highest_bw is None and f9.weight == 1.0
    assert e10.tlv.highest_bw is None and e10.weight == 1.0


def test_ted_apply_with_hand_built_lsas():
    """The same link, two Link TLVs straight through wire.encode and
    TED.apply; a multi-capacity end alone on a link keeps its own POWER."""
    a = wire.LinkTLV(
        link_id="2.2.2.2",
        local_addrs=("10.0.9.0",),
        remote_addrs=("10.0.9.1",),
        max_bw=10e9 / 8,
        highest_bw=100e9 / 8,
        avail_bw=5e9 / 8,
        pwr_consumed=PA / GBPS,
    )
    b = wire.LinkTLV(link_id="1.1.1.1", local_addrs=("10.0.9.1",), remote_addrs=("10.0.9.0",), max_bw=10e9 / 8, avail_bw=5e9 / 8, pwr_consumed=PB / GBPS)
    t = TED("0.0.0.0")
    assert t.apply("1.1.1.1", "200.0.0.1", wire.encode([a]))
    one_sided = t.graph(include_one_sided=True).edges["1.1.1.1", "2.2.2.2", "10.0.9.0"]["weight"]
    assert one_sided * GBPS == pytest.approx(PA, rel=1e-6)
    assert t.apply("2.2.2.2", "200.0.0.1", wire.encode([b]))
    G = t.graph()
    assert G.edges["1.1.1.1", "2.2.2.2", "10.0.9.0"]["weight"] * GBPS == pytest.approx(L9_WEIGHTED, rel=1e-6)
    assert G.edges["2.2.2.2", "1.1.1.1", "10.0.9.1"]["weight"] * GBPS == pytest.approx(L9_WEIGHTED, rel=1e-6)
    # a highest capacity below the running one is not believed: weight 1.0
    odd = dataclasses.replace(a, highest_bw=1e9 / 8)
    assert t.apply("1.1.1.1", "200.0.0.1", wire.encode([odd]))
    assert t.graph().edges["1.1.1.1", "2.2.2.2", "10.0.9.0"]["weight"] * GBPS == pytest.approx((PA + PB) / 2, rel=1e-6)


def test_a_port_at_its_highest_speed_sends_no_highest_capacity(tmp_path):
    topo = fig_2_1_1(tmp_path, e_highest="10G")
    tlv = advert.link_tlv(topo.resolve("E").power, "eth4", "10.11.255.6", None, None)
    assert tlv.highest_bw is None
    assert wire.decode(wire.encode([tlv]))[0].highest_bw is None


def test_equal_weights_give_the_mean(tmp_path):
    # both ends 100G-capable and running at 10G: weights 0.1 and 0.1
    topo = fig_2_1_1(tmp_path, f_highest="100G")
    row = {r.label: r for r in link_rows(topo)}["L9"]
    assert row.a.weight == row.b.weight == 0.1
    assert row.pwrlink == metric.pwrlink(row.a.effective, row.b.effective)
    assert metric.w_per_gbps(row.pwrlink) == pytest.approx((PA + PB) / 2, rel=1e-9)
    ef, _ = l9_arcs(topo, whole_graph(build_teds(topo), "0.0.0.0"))
    assert ef["weight"] * GBPS == pytest.approx((PA + PB) / 2, rel=1e-6)


def test_shipped_fig_2_1_1_keeps_the_plain_mean():
    # L9 as shipped: 100G ports at their highest speed on both ends
    topo = load_topology(ROOT / "containerlab/fig-2-1-1.clab.yml")
    rows = {r.label: r for r in link_rows(topo)}
    for r in rows.values():
        if r.a and r.b:
            assert r.a.weight == r.b.weight == 1.0
            assert r.pwrlink == (r.a.effective + r.b.effective) / 2
    G = whole_graph(build_teds(topo), "0.0.0.0")
    for arc in l9_arcs(topo, G):
        assert arc["weight"] == metric.pwrlink(arc["pwr_near"], arc["pwr_far"])
    assert arc["weight"] == pytest.approx(rows["L9"].pwrlink, rel=1e-6)


def test_fig_2_1_7_paths_unchanged(capsys):
    from pyfrr_pwr.cli.main import main

    assert main(["paths", str(ROOT / "containerlab/fig-2-1-7.clab.yml"), "--from", "B", "--to", "X", "-k", "3"]) == 0
    out = capsys.readouterr().out
    assert "B-D-G-H-X" in out and "0.43" in out
