"""Choosing a service instance on real FRR (issue 9 sec. 3, "Lab"):
cats-3site in namespaces (8 routers with ospfd -a and an agent each, four
hosts), its three compute sites' energy figures served inside their own
namespaces by real servers (sushy-static on per-lab copies of Redfish
mockups, an IEC 61850 MMS server, a UK carbon-intensity feed over HTTP;
``pyfrr_pwr.lab.sites``), read there with the agents' own readers. The
head-end's ``pyfrr-pwr service inference --json`` picks S3; raising S3's
carbon intensity (an MMS value) moves the choice to S2; raising S2's power
drawn (the Redfish mockup) moves it back to S3 (the figures and the costs:
containerlab/cats-3site/README.md). Needs root and FRR: marked ``frr``."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT
from helpers import wait_for

from pyfrr_pwr.lab.runner import Lab
from pyfrr_pwr.lab.sites import SITES_DIR, Sites

pytestmark = pytest.mark.frr

LAB = os.environ.get("PYFRR_PWR_TEST_LAB", "h9cats")  # another name lets two runs coexist
CI_REF = "GRIDLD0/GGIO1.AnIn3"  # the sites' carbon-intensity point (power.yml)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    d = tmp_path_factory.mktemp("cats")
    shutil.copytree(ROOT / "containerlab/cats-3site", d / "cats-3site")
    shutil.copy(ROOT / "containerlab/cats-3site.clab.yml", d / "cats-3site.clab.yml")
    lab = Lab(d / "cats-3site.clab.yml", name=LAB)
    lab.down(quiet=True)
    lab.sites = Sites.of(lab)
    try:
        lab.up(wait=True, timeout=120)
        if not lab.sites.running():  # lab/runner.py starts them once the lead adds the hook
            lab.sites.start()
        yield lab
    finally:
        lab.sites.stop()
        lab.down(quiet=True)
        assert f"clab-{LAB}-" not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert not (lab.root / SITES_DIR).exists()


def rid(lab, name):
    return lab.topo.resolve(name).router_id


def readings(lab, site):
    """What the site's own readers read, run inside the site's namespace."""
    r = lab.exec(site, [sys.executable, "-m", "pyfrr_pwr.lab.sites", "read", str(lab.nodes[site].power)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_every_site_server_listens_only_inside_its_namespace(lab):
    assert all(lab.sites.running().values()) and len(lab.sites.running()) == 6  # per site: sushy-static and the MMS / feed helper
    for site in ("S1", "S2", "S3"):
        r = lab.exec(site, ["ss", "-Htln"], capture_output=True, text=True)
        ports = {ln.split()[3] for ln in r.stdout.splitlines()}
        assert "127.0.0.1:8000" in ports, (site, ports)  # Redfish
        assert ("127.0.0.1:10102" in ports) == (site != "S2") and ("127.0.0.1:8081" in ports) == (site == "S2")
    r = lab.exec("HE", ["ss", "-Htln"], capture_output=True, text=True)
    assert ":8000 " not in r.stdout and ":10102 " not in r.stdout  # nothing served in other nodes


def complete(lab, site):
    g = readings(lab, site)
    return {"power", "capacity", "carbon_intensity", "green_share"} <= set(g) and g


def test_the_readers_read_each_sites_figures_from_inside_its_namespace(lab):
    got = {s: wait_for(lambda s=s: complete(lab, s), 30, f"{s}'s readers to read every figure", step=1) for s in ("S1", "S2", "S3")}
    assert {s: g["power"]["value"] for s, g in got.items()} == {"S1": 400, "S2": 350, "S3": 380}
    assert {s: g["capacity"]["value"] for s, g in got.items()} == {"S1": 2000, "S2": 2000, "S3": 2000}
    assert {s: g["carbon_intensity"]["value"] for s, g in got.items()} == {"S1": 450, "S2": 300, "S3": 50}
    assert {s: round(g["green_share"]["value"], 6) for s, g in got.items()} == {"S1": 0.1, "S2": 0.3, "S3": 0.6}
    assert got["S1"]["carbon_intensity"]["source"] == "substation" and got["S2"]["carbon_intensity"]["source"] == "uk-ci"
    assert got["S2"]["power"]["source"] == "bmc" and got["S2"]["power"]["accuracy"] == "measured"
    assert got["S1"]["capacity"]["accuracy"] == "nominal"


def test_a_changed_figure_reaches_the_reader(lab):
    lab.sites.set_figure("S1", "mms", "substation", CI_REF, 470.0)
    lab.sites.set_figure("S2", "grid", "uk-ci", "carbon_intensity", 310.0)
    lab.sites.set_power("S1", 410.0)
    try:
        wait_for(lambda: readings(lab, "S1")["carbon_intensity"]["value"] == 470.0, 10, "S1's MMS value to change")
        assert readings(lab, "S1")["power"]["value"] == 410.0
        assert readings(lab, "S2")["carbon_intensity"]["value"] == 310.0
    finally:
        lab.sites.set_figure("S1", "mms", "substation", CI_REF, 450.0)
        lab.sites.set_figure("S2", "grid", "uk-ci", "carbon_intensity", 300.0)
        lab.sites.set_power("S1", 400.0)


def service(lab):
    """The head-end's answer to ``pyfrr-pwr service inference --json``."""
    r = lab.exec("HE", ["pyfrr-pwr", "service", "inference", "--json"], capture_output=True, text=True, timeout=60)
    assert r.returncode in (0, 3), f"pyfrr-pwr service failed ({r.returncode}): {r.stderr.strip()[:300]}"
    return r.returncode, (json.loads(r.stdout) if r.returncode in (0, 3) and r.stdout.strip() else None)


def winner_is(lab, site):
    rc, res = service(lab)
    return rc == 0 and res["ranked"][0]["site"] == rid(lab, site) and res


def test_changing_a_sites_carbon_intensity_or_load_moves_the_choice(lab):
    want = {s: rid(lab, s) for s in ("S1", "S2", "S3")}
    order = [want["S3"], want["S2"], want["S1"]]  # 38.8 < 42.4 < 56.2 (README)

    def settled():
        # the winner can come first while a site's inter-area figures are still flooding in:
        # the whole ranking is what the README gives once every site's are in
        r = winner_is(lab, "S3")
        return r and [e["site"] for e in r["ranked"]] == order and r

    res = wait_for(settled, 90, "the head-end to rank S3, S2, S1 (carbon, README)", step=1)
    assert {e["site"] for e in res["ranked"]} == set(want.values())  # intra- (S1) and inter-area (S2, S3) instances
    first = res["ranked"][0]
    assert first["address"] == "10.30.103.2"
    try:
        lab.sites.set_figure("S3", "mms", "substation", CI_REF, 600.0)  # S3: 38 + 9.12 > S2's 42.35
        res = wait_for(lambda: winner_is(lab, "S2"), 90, "the choice to move to S2 after S3's carbon intensity rose", step=1)
        assert res["ranked"][0]["address"] == "10.30.102.2"
        lab.sites.set_power("S2", 700.0)  # S2: 70 + 14.7 > S3's 47.12
        wait_for(lambda: winner_is(lab, "S3"), 90, "the choice to move back to S3 after S2's load rose", step=1)
    finally:
        lab.sites.set_figure("S3", "mms", "substation", CI_REF, 50.0)
        lab.sites.set_power("S2", 350.0)


@pytest.mark.srv6_kernel
def test_service_reserve_sets_up_the_path_to_the_winner_and_release_removes_it(lab):
    """``service --reserve`` (issue 9 sec. 3): the winner's path through the
    data plane of issue 7, an SRv6 LSP from the head-end to the winning site."""
    wait_for(lambda: winner_is(lab, "S3"), 90, "the head-end to pick S3", step=1)
    r = lab.exec("HE", ["pyfrr-pwr", "service", "inference", "--reserve", "--json"], capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    got = res["reserved"]
    assert got["route"][0] == rid(lab, "HE") and got["route"][-1] == res["ranked"][0]["site"] == rid(lab, "S3")
    try:
        lsps = lab.exec("HE", ["pyfrr-pwr", "show", "lsps", "--json"], capture_output=True, text=True, timeout=30)
        assert lsps.returncode == 0, lsps.stderr
        assert got["id"] in json.dumps(json.loads(lsps.stdout)), lsps.stdout  # the head-end shows the LSP
    finally:
        rel = lab.exec("HE", ["pyfrr-pwr", "path", "--release", got["id"]], capture_output=True, text=True, timeout=60)
    assert rel.returncode == 0, rel.stderr
    after = lab.exec("HE", ["pyfrr-pwr", "show", "lsps", "--json"], capture_output=True, text=True, timeout=30)
    assert got["id"] not in after.stdout
