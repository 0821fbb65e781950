"""The shipped containerlab files: valid for containerlab, complete, and
giving the draft's answers; malformed files fail cleanly, with or without
containerlab's schema at hand."""

import datetime
import json
import logging
import math
import os

import jsonschema
import pytest
import yaml
from conftest import ROOT

from pyfrr_pwr.files import topology
from pyfrr_pwr.files.power import ConfigError
from pyfrr_pwr.files.topology import POWER_TARGET, find_clab_schema, load_topology, parse_frr_conf
from pyfrr_pwr.model import metric
from pyfrr_pwr.offline.pipeline import build_teds, link_rows, whole_graph
from pyfrr_pwr.paths.ksp import k_shortest_paths

TOPOS = sorted((ROOT / "containerlab").glob("*.clab.yml"))


@pytest.fixture
def clab_schema():
    """containerlab's schema (../shared beside the repository, or
    $PYFRR_PWR_CLAB_SCHEMA). CI has it; elsewhere a test that needs it says
    so and is skipped, visibly."""
    path = find_clab_schema()
    if path is None:
        where = ", ".join(map(str, topology.clab_schema_candidates()))
        if os.environ.get("CI"):
            pytest.fail(f"containerlab's schema not found (looked in: {where})")
        pytest.skip(f"containerlab's schema not found (looked in: {where}); set $PYFRR_PWR_CLAB_SCHEMA")
    return path


def test_three_figures_and_the_cats_lab_are_shipped():
    assert [p.name for p in TOPOS] == ["cats-3site.clab.yml", "fig-2-0.clab.yml", "fig-2-1-1.clab.yml", "fig-2-1-7.clab.yml"]


@pytest.mark.parametrize("path", TOPOS, ids=lambda p: p.name)
def test_validates_against_containerlab_schema(path, clab_schema):
    schema = json.loads(clab_schema.read_text())
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


def test_cats_3site_a_head_end_and_three_sites_in_three_areas():
    """issue 9 sec. 3: at least three compute sites in different areas."""
    topo = load_topology(ROOT / "containerlab/cats-3site.clab.yml")
    teds = build_teds(topo)
    assert set(teds) == {"0.0.0.0", "0.0.0.1", "0.0.0.2", "0.0.0.3"}
    assert {r.name for r in topo.routers.values() if r.abr} == {"ABR1", "ABR2", "ABR3"}
    sites = {r.name: r for r in topo.routers.values() if r.power is not None and (r.power.energy or {}).get("role") == "compute-site"}
    assert set(sites) == {"S1", "S2", "S3"}
    assert [sorted(sites[s].areas) for s in ("S1", "S2", "S3")] == [["0.0.0.1"], ["0.0.0.2"], ["0.0.0.3"]]
    for r in sites.values():
        assert r.power.cats.site and [x["service_id"] for x in r.power.cats.services] == ["inference"]
    he = topo.resolve("HE")
    assert he.power.cats.demand == 1e9 / 8 and not he.power.cats.site
    G = whole_graph(teds)
    for s in sites:  # the head-end reaches every site, intra- and inter-area
        assert k_shortest_paths(G, he.router_id, topo.resolve(s).router_id, 1)


# -- malformed files, schema or not -----------------------------------------

GOOD = {
    "name": "t",
    "topology": {
        "kinds": {"linux": {"image": "alpine:3.19"}},
        "nodes": {"r1": {"kind": "linux"}, "r2": {"kind": "linux"}},
        "links": [{"endpoints": ["r1:eth1", "r2:eth1"]}],
    },
}


def write(tmp_path, data):
    p = tmp_path / "t.clab.yml"
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


def mutate(**edit):
    d = json.loads(json.dumps(GOOD))
    t = d["topology"]
    for k, v in edit.items():
        if k == "node":
            t["nodes"]["r1"] = v
        elif k == "r1":
            t["nodes"]["r1"].update(v)
        elif k == "link":
            t["links"][0] = v
        else:
            t[k] = v
    return d


MALFORMED = [
    ("nodes-list", mutate(nodes=["r1", "r2"]), r"topology\.nodes: must be a mapping"),
    ("node-string", mutate(node="linux"), r"topology\.nodes\.r1: must be a mapping of settings, not str"),
    ("node-list", mutate(node=["kind", "linux"]), r"topology\.nodes\.r1: must be a mapping of settings, not list"),
    ("links-mapping", mutate(links={"endpoints": ["r1:eth1", "r2:eth1"]}), r"topology\.links: must be a list"),
    ("link-string", mutate(link="r1:eth1 r2:eth1"), r"topology\.links\.0: a link must be a mapping"),
    ("link-no-endpoints", mutate(link={"type": "veth"}), r"topology\.links\.0: a link needs two endpoints"),
    ("link-one-endpoint", mutate(link={"endpoints": ["r1:eth1"]}), r"topology\.links\.0\.endpoints: a link needs two endpoints"),
    ("endpoints-mapping", mutate(link={"endpoints": {"r1": "eth1", "r2": "eth1"}}), r"topology\.links\.0\.endpoints: a link needs two endpoints"),
    ("endpoint-no-colon", mutate(link={"endpoints": ["r1eth1", "r2:eth1"]}), r"topology\.links\.0\.endpoints\.0: endpoint 'r1eth1' is not node:interface"),
    ("endpoint-no-iface", mutate(link={"endpoints": ["r1:eth1", "r2:"]}), r"topology\.links\.0\.endpoints\.1: endpoint 'r2:' is not node:interface"),
    ("endpoint-no-node", mutate(link={"endpoints": [":eth1", "r2:eth1"]}), r"topology\.links\.0\.endpoints\.0: endpoint ':eth1' is not node:interface"),
    ("endpoint-number", mutate(link={"endpoints": [1, "r2:eth1"]}), r"topology\.links\.0\.endpoints\.0: endpoint must be"),
    ("endpoint-half-dict", mutate(link={"endpoints": [{"node": "r1"}, "r2:eth1"]}), r"topology\.links\.0\.endpoints\.0: endpoint must be"),
    ("endpoint-unknown-node", mutate(link={"endpoints": ["r9:eth1", "r2:eth1"]}), r"topology\.links\.0\.endpoints\.0: unknown node 'r9'"),
    ("kind-list", mutate(r1={"kind": ["linux"]}), r"topology\.nodes\.r1\.kind: must be a string, not list"),
    ("kind-number", mutate(r1={"kind": 7}), r"topology\.nodes\.r1\.kind: must be a string, not int"),
    ("group-list", mutate(r1={"group": ["g"]}), r"topology\.nodes\.r1\.group: must be a string"),
    ("binds-string", mutate(r1={"binds": "a:/b"}), r"topology\.nodes\.r1\.binds: must be a list"),
    ("bind-mapping", mutate(r1={"binds": [{"a": "/b"}]}), r"topology\.nodes\.r1\.binds\.0: must be a string"),
    ("env-list", mutate(r1={"env": ["A=1"]}), r"topology\.nodes\.r1\.env: must be a mapping"),
    ("kinds-list", mutate(kinds=["linux"]), r"topology\.kinds: must be a mapping"),
    ("kind-settings-string", mutate(kinds={"linux": "alpine"}), r"topology\.kinds\.linux: must be a mapping of settings"),
    ("groups-list", mutate(groups=["g"]), r"topology\.groups: must be a mapping"),
    ("defaults-string", mutate(defaults="linux"), r"topology\.defaults: must be a mapping of settings"),
    # what the YAML reader refuses (files.yamlsafe), schema or not
    ("node-name-int", mutate(nodes={1: {"kind": "linux"}}), r"topology\.nodes\.1: names must be strings \('1' is read as int; quote it\)"),
    ("env-key-bool", mutate(r1={"env": {True: "x"}}), r"topology\.nodes\.r1\.env\.true: names must be strings"),
    ("name-a-date", {**GOOD, "name": datetime.date(2024, 1, 1)}, r"name: a !!timestamp value is not read here; quote it"),
    (
        "bind-from-kind-missing",
        mutate(kinds={"linux": {"binds": ["nope/frr.conf:/etc/frr/frr.conf"]}}),
        r"topology\.kinds\.linux\.binds\.0: bound file '.*nope/frr\.conf' does not exist",
    ),
    ("startup-config-missing", mutate(r1={"startup-config": "nope.conf"}), r"topology\.nodes\.r1\.startup-config: bound file '.*nope\.conf' does not exist"),
]


@pytest.fixture
def no_schema(monkeypatch, tmp_path):
    """$PYFRR_PWR_CLAB_SCHEMA pointing to a file that is not there."""
    monkeypatch.setenv("PYFRR_PWR_CLAB_SCHEMA", str(tmp_path / "missing/clab.schema.json"))
    monkeypatch.setattr(topology, "_schema_warned", set())
    assert find_clab_schema() is None


@pytest.mark.parametrize("data,match", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_structure_without_the_schema_is_a_clean_config_error(tmp_path, no_schema, data, match):
    p = write(tmp_path, data)
    with pytest.raises(ConfigError, match=rf"^{p}:\d+: .*{match}"):
        load_topology(p)


@pytest.mark.parametrize("data,match", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_structure_with_the_schema_is_a_clean_config_error(tmp_path, clab_schema, monkeypatch, data, match):
    monkeypatch.setenv("PYFRR_PWR_CLAB_SCHEMA", str(clab_schema))
    p = write(tmp_path, data)
    with pytest.raises(ConfigError, match=rf"^{p}:\d+: "):
        load_topology(p)


def test_the_good_one_loads_without_the_schema(tmp_path, no_schema):
    topo = load_topology(write(tmp_path, GOOD))
    assert [(l.a, l.b) for l in topo.links] == [(("r1", "eth1"), ("r2", "eth1"))]
    assert {r.kind for r in topo.routers.values()} == {"linux"}


def test_a_missing_schema_is_said_once_naming_the_path_and_the_variable(tmp_path, no_schema, caplog):
    caplog.set_level(logging.WARNING, logger="pyfrr_pwr.topology")
    for _ in range(3):
        load_topology(ROOT / "containerlab/fig-2-1-7.clab.yml")
    (rec,) = [r for r in caplog.records if r.name == "pyfrr_pwr.topology"]
    msg = rec.getMessage()
    assert str(tmp_path / "missing/clab.schema.json") in msg and "PYFRR_PWR_CLAB_SCHEMA" in msg and "not against containerlab's schema" in msg


def test_an_installed_package_without_the_shared_tree_says_where_it_looked(monkeypatch, caplog):
    monkeypatch.delenv("PYFRR_PWR_CLAB_SCHEMA", raising=False)
    monkeypatch.setattr(topology, "find_clab_schema", lambda: None)
    monkeypatch.setattr(topology, "_schema_warned", set())
    caplog.set_level(logging.WARNING, logger="pyfrr_pwr.topology")
    load_topology(ROOT / "containerlab/fig-2-0.clab.yml")
    load_topology(ROOT / "containerlab/fig-2-1-7.clab.yml")
    (rec,) = [r for r in caplog.records if r.name == "pyfrr_pwr.topology"]
    msg = rec.getMessage()
    assert "shared/data/containerlab/clab.schema.json" in msg and "$PYFRR_PWR_CLAB_SCHEMA" in msg


def test_no_warning_when_validation_is_turned_off_on_purpose(monkeypatch, caplog):
    monkeypatch.setattr(topology, "find_clab_schema", lambda: None)
    monkeypatch.setattr(topology, "_schema_warned", set())
    caplog.set_level(logging.WARNING, logger="pyfrr_pwr.topology")
    load_topology(ROOT / "containerlab/fig-2-1-7.clab.yml", validate_schema=False)
    assert not [r for r in caplog.records if r.name == "pyfrr_pwr.topology"]


def test_an_unreadable_schema_is_a_config_error_naming_it(tmp_path, monkeypatch):
    bad = tmp_path / "clab.schema.json"
    bad.write_text("{not json")
    monkeypatch.setenv("PYFRR_PWR_CLAB_SCHEMA", str(bad))
    with pytest.raises(ConfigError, match=rf"^{bad}: cannot read containerlab's schema"):
        load_topology(ROOT / "containerlab/fig-2-1-7.clab.yml")


def test_frr_conf_areas_costs_and_networks(tmp_path):
    p = tmp_path / "frr.conf"
    p.write_text(
        "interface eth1\n ip address 10.0.0.1/31\n ip ospf area 1\n ip ospf cost 65535\nexit\n!\n"
        "interface eth2\n ip address 10.9.0.1/24\nexit\n!\n"
        "router ospf\n ospf router-id 10.0.255.1\n network 10.9.0.0/16 area 4294967295\nexit\n"
    )
    rid, ifs = parse_frr_conf(p)
    assert rid == "10.0.255.1"
    assert (ifs["eth1"].area, ifs["eth1"].cost, str(ifs["eth1"].address)) == ("0.0.0.1", 65535, "10.0.0.1/31")
    assert ifs["eth2"].area == "255.255.255.255"  # placed by the network statement


@pytest.mark.parametrize(
    "line,expect",
    [
        (" ip ospf area 4294967296", "interface eth1: ip ospf area: '4294967296' is not an area ID"),
        (" ip ospf area 0.0.0.256", "interface eth1: ip ospf area: '0.0.0.256' is not an area ID"),
        (" ip ospf cost 0", "interface eth1: ip ospf cost: '0' is not a cost 1..65535"),
        (" ip address 10.0.0.300/24", "interface eth1: ip address: '10.0.0.300/24' is not A.B.C.D/M"),
    ],
)
def test_frr_conf_errors_name_file_line_and_statement(tmp_path, line, expect):
    p = tmp_path / "frr.conf"
    p.write_text(f"interface eth1\n{line}\nexit\n")
    with pytest.raises(ConfigError) as ei:
        parse_frr_conf(p)
    assert str(ei.value).startswith(f"{p}:2: {expect}"), str(ei.value)


def test_ospf_links_use_fast_hellos():
    """issue 10: a link coming back is Full within about a hello (250 ms)
    of carrier, not after up to a second of hello wait; every OSPF
    point-to-point interface of every shipped router says so."""
    confs = sorted((ROOT / "containerlab").glob("*/*/frr.conf"))
    assert confs
    for conf in confs:
        blocks = conf.read_text().split("\ninterface ")[1:]
        p2p = [b for b in blocks if " ip ospf network point-to-point" in b]
        assert p2p, conf
        for b in p2p:
            assert " ip ospf dead-interval minimal hello-multiplier 4" in b and "ip ospf hello-interval" not in b, f"{conf}: {b.splitlines()[0]}"
