"""The shipped containerlab files: valid for containerlab, complete, and
giving the draft's answers."""
import json
import math

import jsonschema
import pytest
import yaml
from conftest import ROOT

from pyfrr_pwr.files.topology import POWER_TARGET, load_topology
from pyfrr_pwr.model import metric
from pyfrr_pwr.offline.pipeline import build_teds, link_rows, whole_graph
from pyfrr_pwr.paths.ksp import k_shortest_paths

SCHEMA = ROOT.parent / "shared/data/containerlab/clab.schema.json"
TOPOS = sorted((ROOT / "containerlab").glob("*.clab.yml"))


def test_three_figures_are_shipped():
    assert [p.name for p in TOPOS] == ["fig-2-0.clab.yml", "fig-2-1-1.clab.yml", "fig-2-1-7.clab.yml"]


@pytest.mark.parametrize("path", TOPOS, ids=lambda p: p.name)
def test_validates_against_containerlab_schema(path):
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator(schema).validate(yaml.safe_load(path.read_text()))


@pytest.mark.parametrize("path", TOPOS, ids=lambda p: p.name)
def test_every_router_binds_its_files(path):
    topo = load_topology(path)
    for r in topo.routers.values():
        if r.kind == "linux" and r.settings.get("image", "").startswith("quay.io/frrouting/frr"):
            for target in ("/etc/frr/frr.conf", "/etc/frr/daemons", POWER_TARGET):
                assert r.files.get(target) and r.files[target].is_file(), (r.name, target)
            assert r.router_id and not r.router_id.endswith(".0")
            assert r.power is not None
            daemons = r.files["/etc/frr/daemons"].read_text()
            assert "ospfd=yes" in daemons and " -a" in daemons
            conf = r.files["/etc/frr/frr.conf"].read_text()
            assert "capability opaque" in conf and "message-digest" in conf


def test_generated_files_are_up_to_date(tmp_path, monkeypatch):
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen", ROOT / "tools/gen_topologies.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    monkeypatch.setattr(gen, "OUT", tmp_path)
    gen.main()
    for f in tmp_path.rglob("*"):
        if f.is_file():
            shipped = ROOT / "containerlab" / f.relative_to(tmp_path)
            assert shipped.read_text() == f.read_text(), f"{shipped} is stale: run make topologies"


def test_fig_2_1_7_power_shortest_path_is_b_d_g_h_x():
    topo = load_topology(ROOT / "containerlab/fig-2-1-7.clab.yml")
    teds = build_teds(topo)
    assert set(teds) == {"0.0.0.0", "0.0.0.1"}
    G = whole_graph(teds, "0.0.0.1")
    b, x = topo.resolve("B").router_id, topo.resolve("X").router_id
    best = k_shortest_paths(G, b, x, 3)
    assert [topo.name_of(n) for n in best[0].nodes] == ["B", "D", "G", "H", "X"]
    assert math.isclose(metric.w_per_gbps(best[0].cost), 0.43, rel_tol=1e-6)
    # every PWRLINK equals the figure's weight
    rows = {r.label: r.pwrlink for r in link_rows(topo)}
    assert math.isclose(metric.w_per_gbps(rows["G-H"]), 0.2, rel_tol=1e-9)
    assert {topo.name_of(r) for r in teds["0.0.0.1"].endpoints()} == {"E", "H", "X"}
    assert {topo.name_of(r) for r in teds["0.0.0.1"].area_borders()} == {"B", "C"}


def test_fig_2_1_1_links_and_the_100g_link():
    topo = load_topology(ROOT / "containerlab/fig-2-1-1.clab.yml")
    rows = {r.label: r for r in link_rows(topo)}
    assert set(rows) >= {f"L{i}" for i in range(1, 14)}
    # sec. 2.1.2: per unit of available bandwidth the 100G link L9 is the
    # cheapest by far, though its ports draw the most power
    pw = {k: r.pwrlink for k, r in rows.items() if r.pwrlink is not None}
    assert min(pw, key=pw.get) == "L9"
    # parallel links L1-L3 between A and D survive into the TED
    teds = build_teds(topo)
    G = whole_graph(teds)
    a, d = topo.resolve("A").router_id, topo.resolve("D").router_id
    assert G.number_of_edges(a, d) == 3
    assert len(k_shortest_paths(G, a, d, 10, max_hops=1)) == 3


def test_fig_2_0_areas_abrs_and_endpoints():
    topo = load_topology(ROOT / "containerlab/fig-2-0.clab.yml")
    teds = build_teds(topo)
    assert set(teds) == {"0.0.0.0", "0.0.0.1", "0.0.0.2"}
    abrs = {r.name for r in topo.routers.values() if r.abr}
    assert abrs == {f"ABR{i}" for i in range(1, 7)}
    G = whole_graph(teds)
    for h in ("TEh1", "TEh2", "TEh3"):
        for t in ("TEt1", "TEt2", "TEt4"):
            assert k_shortest_paths(G, topo.resolve(h).router_id, topo.resolve(t).router_id, 1)
    # draft: TEt4 is reachable via ABR4, ABR6 and ABR2
    a2 = whole_graph(teds, "0.0.0.2")
    t4 = topo.resolve("TEt4").router_id
    for abr in ("ABR2", "ABR4", "ABR6"):
        assert k_shortest_paths(a2, topo.resolve(abr).router_id, t4, 1)
