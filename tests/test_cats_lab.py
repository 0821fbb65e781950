"""The cats-3site lab without root (issue 9 sec. 3): ``lab.sites``'s plan of
what each compute site serves, the shipped mockups and figures as the
readers parse them, and the MMS / feed helper process run on free
localhost ports (no namespace) and read by the real readers."""

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from helpers import wait_for

from pyfrr_pwr.files.topology import load_topology
from pyfrr_pwr.lab import sites
from pyfrr_pwr.lab.common import LabError
from pyfrr_pwr.telemetry import grid, redfish
from pyfrr_pwr.telemetry.grid import GridSource
from pyfrr_pwr.telemetry.mms import MmsSource, Point

CLAB = ROOT / "containerlab/cats-3site.clab.yml"
CI, GREEN = "GRIDLD0/GGIO1.AnIn3", "GRIDLD0/GGIO1.AnIn1"


def copy_lab(tmp_path) -> Path:
    shutil.copytree(ROOT / "containerlab/cats-3site", tmp_path / "cats-3site")
    shutil.copy(CLAB, tmp_path / "cats-3site.clab.yml")
    return tmp_path / "cats-3site.clab.yml"


def edit_power(clab: Path, node: str, fn) -> None:
    pf = clab.parent / "cats-3site" / node / "power.yml"
    cfg = yaml.safe_load(pf.read_text())
    fn(cfg)
    pf.write_text(yaml.safe_dump(cfg))


def test_plan_serves_every_sites_loopback_readers():
    plans = {p.node: p for p in sites.plan(load_topology(CLAB))}
    assert set(plans) == {"S1", "S2", "S3"}
    for p in plans.values():
        assert [(r.reader, r.host, r.port) for r in p.redfish] == [("bmc", "127.0.0.1", 8000)]
        assert (p.redfish[0].mockup / "index.json").is_file()
    assert [(m.reader, m.port) for m in plans["S1"].mms] == [("substation", 10102)] and not plans["S1"].grid
    assert plans["S2"].mms == () and [(g.port, [x[1:] for x in g.paths]) for g in plans["S2"].grid] == [
        (8081, [("uk-ci", "intensity"), ("uk-gen", "generation")])
    ]
    assert plans["S1"].figures["mms"]["substation"][CI] == 450 and plans["S3"].figures["mms"]["substation"][CI] == 50
    assert plans["S2"].figures["grid"]["uk-ci"]["carbon_intensity"] == 300


def test_readers_pointing_elsewhere_are_left_alone(tmp_path):
    clab = copy_lab(tmp_path)

    def elsewhere(cfg):
        cfg["energy"]["readers"][0]["url"] = "http://10.30.103.9:8000"  # a real BMC
        cfg["energy"]["power_system"][0]["address"] = "192.0.2.7:102"  # a real IED

    edit_power(clab, "S3", elsewhere)
    plans = {p.node: p for p in sites.plan(load_topology(clab))}
    assert "S3" not in plans and set(plans) == {"S1", "S2"}


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda c: c["energy"]["readers"][0].update(name="other"), "no Redfish mockup"),
        (lambda c: c["energy"]["power_system"][0].update(url="http://127.0.0.1:8081/price"), "UK carbon-intensity feeds only"),
        (lambda c: c["energy"]["power_system"][0].update(url="http://127.0.0.1:8000/intensity"), "share a port"),
    ],
)
def test_plan_refuses_what_it_cannot_serve(tmp_path, change, match):
    clab = copy_lab(tmp_path)
    edit_power(clab, "S2", change)
    with pytest.raises(LabError, match=match) as ei:
        sites.plan(load_topology(clab))
    assert "S2" in str(ei.value)


def test_bad_figures_file_names_it(tmp_path):
    clab = copy_lab(tmp_path)
    f = clab.parent / "cats-3site/S1/figures.yml"
    f.write_text("mms: {substation: {GRIDLD0/GGIO1.AnIn3: high}}\n")
    with pytest.raises(LabError, match=r"figures.yml: mms.substation"):
        sites.plan(load_topology(clab))


@pytest.mark.parametrize("ref", ["GRID/MMXU1.TotW", "GRIDLD0/MMXU.TotW", "GRIDLD0/MMXU1", "GRIDLD0MMXU1.TotW", "GRIDLD0/MX1.TotW"])
def test_a_bad_object_reference_is_refused(ref):
    with pytest.raises(ValueError, match="IEDLDn"):
        sites.split_ref(ref)


def test_object_references_and_the_ied_model():
    assert sites.split_ref("GRIDLD0/MMXU1.TotW") == ("GRID", "LD0", "MMXU", "1", "TotW")
    assert sites.da_path("GRIDLD0/GGIO1.AnIn3") == "LD0/GGIO1.AnIn3.mag.f"
    ied, model = sites.ied_model(["GRIDLD0/MMXU1.TotW", CI, GREEN])
    assert ied == "GRID" and [ld["inst"] for ld in model["lds"]] == ["LD0"]
    lns = {(ln.get("class"), ln.get("inst")): [d["name"] for d in ln["dos"]] for ln in model["lds"][0]["lns"]}
    assert lns == {(None, None): ["Mod"], ("MMXU", "1"): ["TotW"], ("GGIO", "1"): ["AnIn3", "AnIn1"]}  # in the order given
    with pytest.raises(ValueError, match="one IED"):
        sites.ied_model(["GRIDLD0/MMXU1.TotW", "PLANTLD0/MMXU1.TotW"])


@pytest.mark.parametrize("now", [1764639000.0, 1764639059.9, 1764640799.0])
def test_the_uk_feed_is_fresh_and_parses_to_the_figure(now):
    (ci,) = grid.parse(sites.uk_feed("intensity", 123.0, now), "uk-ci", now, "uk-carbon")
    assert (ci.name, ci.value, ci.unit) == ("carbon_intensity", 123.0, "gCO2eq/kWh") and 0 <= now - ci.ts < 60
    (gs,) = grid.parse(sites.uk_feed("generation", 0.37, now), "uk-gen", now, "uk-carbon")
    assert gs.name == "green_share" and gs.value == pytest.approx(0.37) and 0 <= now - gs.ts < 60
    with pytest.raises(ValueError):
        sites.uk_feed("price", 1.0, now)


def test_listening_ports_of_a_proc_net_table():
    text = (
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        "   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n"
        "   1: 0100007F:D431 0100007F:1F40 01 00000000:00000000 00:00000000 00000000     0        0 2 1\n"
        "   2: 00000000:2766 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1\n"
    )
    assert sites.listening_ports(text) == {8000, 10086}
    assert sites.listening_ports("header only\n") == set()


def _docs(root: Path) -> list[tuple[str, dict]]:
    return [(f.parent.name, json.loads(f.read_text())) for f in sorted(root.rglob("index.json"))]


def _power(root: Path, chassis: str) -> dict:
    got = {}
    for kind, doc in _docs(root):
        parse = {"EnvironmentMetrics": redfish.parse_environment, "PowerSubsystem": redfish.parse_power_subsystem, "Power": redfish.parse_power}.get(kind)
        if parse and (kind != "Power" or chassis in doc["@odata.id"]):
            for r in parse(doc, "bmc", 0.0):
                got.setdefault(r.name, r.value)  # the reader's order: EnvironmentMetrics first
    return got


@pytest.mark.parametrize("site, chassis, watts", [("S1", "1U", 400), ("S2", "Blade1", 350), ("S3", "1U", 380)])
def test_each_sites_mockup_holds_its_figures(site, chassis, watts):
    got = _power(ROOT / "containerlab/cats-3site" / site / "redfish/bmc", chassis)
    assert got["power"] == watts and got["capacity"] == 2000


def test_set_power_and_set_figure_rewrite_the_lab_copies(tmp_path):
    s = sites.Sites(load_topology(CLAB), {n: f"ns-{n}" for n in ("S1", "S2", "S3")}, tmp_path)
    for node in ("S1", "S2"):  # what start() lays out, without the processes
        shutil.copytree(s.plans[node].redfish[0].mockup, tmp_path / sites.SITES_DIR / node / "redfish/bmc")
        s._write_values(node, {"mms": s.plans[node].figures.get("mms", {}), "grid": s.plans[node].figures.get("grid", {})})
    s.set_power("S2", 700)
    assert _power(tmp_path / sites.SITES_DIR / "S2/redfish/bmc", "Blade1")["power"] == 700
    assert _power(ROOT / "containerlab/cats-3site/S2/redfish/bmc", "Blade1")["power"] == 350  # the shipped one untouched
    s.set_figure("S1", "mms", "substation", CI, 600)
    assert s.values("S1")["mms"]["substation"][CI] == 600 and s.values("S1")["mms"]["substation"][GREEN] == 10
    s.set_figure("S2", "grid", "uk-ci", "carbon_intensity", 310)
    assert s.values("S2")["grid"]["uk-ci"] == {"carbon_intensity": 310}
    for bad in [("S1", "mms", "substation", "GRIDLD0/GGIO1.AnIn9"), ("S2", "grid", "uk-ci", "price"), ("S1", "grid", "uk-ci", "carbon_intensity")]:
        with pytest.raises(LabError, match="no .* figure"):
            s.set_figure(*bad, 1.0)
    with pytest.raises(LabError, match="not a compute site"):
        s.set_power("HE", 1.0)
    assert s.stop() == 0 and not (tmp_path / sites.SITES_DIR).exists()


def free_port() -> int:
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


@pytest.fixture
def helper(tmp_path):
    """The MMS + feed helper process on free localhost ports."""
    mp, gp = free_port(), free_port()
    vals = tmp_path / "values.json"
    vals.write_text(
        json.dumps({"mms": {"substation": {CI: 450.0, GREEN: 10.0}}, "grid": {"uk-ci": {"carbon_intensity": 300.0}, "uk-gen": {"green_share": 0.3}}})
    )
    spec = {
        "values": str(vals),
        "mms": [{"reader": "substation", "bind": f"127.0.0.1:{mp}", "refs": [CI, GREEN]}],
        "grid": [{"host": "127.0.0.1", "port": gp, "paths": [["/intensity", "uk-ci", "intensity"], ["/generation", "uk-gen", "generation"]]}],
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    p = subprocess.Popen([sys.executable, "-m", "pyfrr_pwr.lab.sites", "serve", str(tmp_path / "spec.json")], stderr=subprocess.PIPE)

    def listening():
        text = "".join(Path(f"/proc/{p.pid}/net/{t}").read_text() for t in ("tcp", "tcp6"))
        return {mp, gp} <= sites.listening_ports(text)

    try:
        wait_for(lambda: p.poll() is not None or listening(), 20, "the helper to listen")
        assert p.poll() is None, p.stderr.read().decode()
        yield mp, gp, vals
    finally:
        p.terminate()
        assert p.wait(10) == 0  # SIGTERM: a clean exit


def set_values(vals: Path, fn):
    d = json.loads(vals.read_text())
    fn(d)
    tmp = vals.with_suffix(".tmp")
    tmp.write_text(json.dumps(d))
    tmp.replace(vals)


def test_the_helper_serves_mms_and_the_feed_and_follows_the_values_file(helper):
    mp, gp, vals = helper
    pts = (Point("carbon_intensity", CI, "gCO2eq/kWh"), Point("green_share", GREEN, "%"))
    mms = MmsSource("substation", f"127.0.0.1:{mp}", pts, timeout=3)
    ci = GridSource("uk-ci", f"http://127.0.0.1:{gp}/intensity", "uk-carbon", timeout=3)
    gen = GridSource("uk-gen", f"http://127.0.0.1:{gp}/generation", "uk-carbon", timeout=3)
    try:
        got = {r.name: r for r in mms.read()}
        assert got["carbon_intensity"].value == 450.0 and got["green_share"].value == pytest.approx(0.1)
        assert abs(got["carbon_intensity"].ts - time.time()) < 60  # no t from the IED: the reader's clock
        ((r,), (g,)) = ci.read(), gen.read()
        assert (r.name, r.value) == ("carbon_intensity", 300.0) and g.value == pytest.approx(0.3)
        set_values(vals, lambda d: (d["mms"]["substation"].update({CI: 600.0}), d["grid"]["uk-ci"].update(carbon_intensity=42.0)))
        wait_for(lambda: {x.name: x.value for x in mms.read()}["carbon_intensity"] == 600.0, 10, "the MMS value to follow the file")
        assert ci.read()[0].value == 42.0
    finally:
        mms.close()


def test_the_helper_answers_404_for_what_it_does_not_serve(helper):
    import requests

    _, gp, _ = helper
    assert requests.get(f"http://127.0.0.1:{gp}/price", timeout=3).status_code == 404
