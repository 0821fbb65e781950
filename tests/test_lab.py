"""The lab runner on real FRR: precedence, link forms, host exec, two labs
side by side, a half-up lab taken down, a wait that times out. The tests
that bring a lab up need root, FRR and network namespaces: marked ``frr``;
the parsing tests run anywhere."""

import json
import subprocess
import time

import pytest
from conftest import ROOT

from pyfrr_pwr.files.topology import _resolve_node, load_topology
from pyfrr_pwr.lab.runner import Lab, LabError, parse_daemons

MINI = ROOT / "tests/data/mini/mini.clab.yml"


def namespaces():
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


def test_containerlab_precedence_node_group_kind_defaults():
    topo = {
        "topology": {
            "defaults": {"kind": "linux", "image": "d", "env": {"A": "d", "B": "d"}},
            "kinds": {"linux": {"image": "k", "binds": ["k:/x"]}},
            "groups": {"g": {"image": "g", "binds": ["g:/y"], "env": {"B": "g"}}},
        }
    }
    s = _resolve_node("n", {"group": "g", "binds": ["n:/y"], "env": {"C": "n"}}, topo)
    assert s["kind"] == "linux" and s["image"] == "g"
    assert sorted(s["binds"]) == ["k:/x", "n:/y"]  # same target: the node's bind wins
    assert s["env"] == {"A": "d", "B": "g", "C": "n"}
    assert _resolve_node("m", {}, topo)["image"] == "k"


def test_mini_topology_parses_both_link_forms():
    topo = load_topology(MINI)
    assert [(l.a, l.b) for l in topo.links] == [(("r1", "eth1"), ("r2", "eth1")), (("r2", "eth2"), ("h1", "eth1"))]
    lab = Lab(MINI, name="pwparse")
    assert lab.nodes["r1"].daemons == ["zebra", "ospfd"] and lab.nodes["r1"].options["ospfd"] == ["-A", "127.0.0.1"]
    assert not lab.nodes["h1"].frr and len(lab.nodes["h1"].exec_cmds) == 2


def test_parse_daemons(tmp_path):
    p = tmp_path / "daemons"
    p.write_text('ospfd=yes\nbgpd=no\nospfd_options="  -A 127.0.0.1 -a"  # API on\n')
    assert parse_daemons(p) == (["zebra", "ospfd"], {"ospfd": ["-A", "127.0.0.1", "-a"]})


@pytest.fixture
def two_labs():
    labs = [Lab(MINI, name=n) for n in ("pwmini1", "pwmini2")]
    for l in labs:
        l.down(quiet=True)
    yield labs
    for l in labs:
        l.down(quiet=True)


@pytest.mark.frr
def test_two_labs_coexist_and_down_stops_only_its_own(two_labs):
    a, b = two_labs
    a.up(agents=False, wait=True, timeout=30)
    b.up(agents=False, wait=True, timeout=30)
    for lab in (a, b):
        st = lab.status()
        assert st["r1"]["ospf_full"] == 1 and st["r2"]["ospf_full"] == 1
        # the host node got its exec commands and reaches r1 through r2
        # once SPF has installed the route (polled, with a deadline)
        end = time.monotonic() + 15
        while True:
            r = lab.exec("h1", ["ping", "-c", "1", "-W", "1", "10.250.255.1"], capture_output=True, text=True)
            if r.returncode == 0 or time.monotonic() > end:
                break
        assert r.returncode == 0, r.stdout + r.stderr
        r = lab.exec("r1", ["vtysh", "-c", "show ip ospf neighbor json"], capture_output=True, text=True)
        assert "10.250.255.2" in json.loads(r.stdout)["neighbors"]
    with pytest.raises(LabError, match="up already"):
        a.up(agents=False)
    a.down()
    assert "clab-pwmini1-" not in namespaces()
    assert b.status()["r1"]["ospf_full"] == 1  # untouched
    assert all(b.status()[n]["up"] for n in ("r1", "r2", "h1"))


@pytest.mark.frr
def test_half_up_lab_without_state_is_still_taken_down():
    lab = Lab(MINI, name="pwmini3")
    lab.down(quiet=True)
    lab.up(agents=False)
    lab.state_file.unlink()  # as if the runner had crashed mid-way
    assert lab.down() >= 4  # zebra + ospfd on two routers, found by namespace
    assert "clab-pwmini3-" not in namespaces()
    assert not lab.root.exists()


@pytest.mark.frr
def test_wait_times_out_with_what_it_saw(tmp_path):
    d = tmp_path / "mini"
    import shutil

    shutil.copytree(ROOT / "tests/data/mini", d)
    conf = d / "mini/r2.conf"
    conf.write_text(conf.read_text().replace("ip ospf area 0.0.0.0\n ip ospf network", "ip ospf area 0.0.0.9\n ip ospf network", 1))
    lab = Lab(d / "mini.clab.yml", name="pwmini4")
    lab.down(quiet=True)
    try:
        with pytest.raises(LabError, match=r"not converged after 3s \(r1: 0/1 neighbors Full, r2: 0/1 neighbors Full\)"):
            lab.up(agents=False, wait=True, timeout=3)
    finally:
        lab.down(quiet=True)


def test_lab_wait_paths_asks_every_head_end_for_every_tail_end_of_another_area(tmp_path):
    """issue 10: ``lab up --wait`` returns once the head-ends answer; the
    pairs are every TE head-end x every TE tail-end sharing no area with
    it, and a wait that runs out names the pairs still unanswered."""
    from pyfrr_pwr.lab.runner import Lab, LabError

    lab = Lab(ROOT / "containerlab/fig-2-0.clab.yml", name="h5pairs", run_root=tmp_path)
    pairs = lab.path_pairs()
    names = {(h, t) for h, t, _ in pairs}
    assert ("TEh1", "TEt2") in names and ("TEh1", "TEt4") in names
    for h, t, rid in pairs:
        assert not (lab.topo.routers[h].areas & lab.topo.routers[t].areas)
        assert rid == lab.topo.routers[t].router_id
    # no agent runs: nothing answers, every pair is named
    assert set(lab.paths_unanswered()) == names
    with pytest.raises(LabError, match="head-ends answer no path after 0s: TEh"):
        lab.wait_paths(0.0)


def test_a_lab_without_srv6_routers_gets_no_srv6_note():
    from pyfrr_pwr.cli.labctl import no_srv6_note

    assert no_srv6_note(Lab(MINI, name="pwparse")) is None  # no agents, no locators: the kernel is not even asked


@pytest.mark.frr
def test_lab_up_says_once_when_the_kernel_has_no_srv6_for_its_agents():
    """``lab up`` of a lab whose agents run SRv6 (fig-2-1-7: every router
    has a locator) says once that the kernel has no SRv6 lightweight
    tunnels, where it has none, and nothing of it where it has them."""
    import sys

    from pyfrr_pwr.dataplane.netlink import seg6_lwtunnels

    topo = ROOT / "containerlab/fig-2-1-7.clab.yml"
    lab = Lab(topo, name="pwnosr6")
    lab.down(quiet=True)
    try:
        r = subprocess.run([sys.executable, "-m", "pyfrr_pwr.cli", "lab", "up", str(topo), "--name", "pwnosr6"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert r.stderr.count("no SRv6 lightweight tunnels") == (0 if seg6_lwtunnels() else 1), r.stderr
    finally:
        lab.down(quiet=True)
    assert "clab-pwnosr6-" not in namespaces()
