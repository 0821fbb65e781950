"""Integration on real FRR 8.4.4: fig-2-1-7 in network namespaces, ospfd -a
and a pyfrr-pwr agent on every router. Needs root and FRR (make test
installs it); CI runs it, nothing here is skipped. Marked ``frr``:
``pytest -m "not frr"`` runs everything else, unprivileged.

The lab is a copy of containerlab/fig-2-1-7 whose router G reads the power
of its port towards H (eth2, the G-H link, PWRLINK 0.2) from a fake hwmon
sysfs file, so a test can change a router's power as a sensor would.
"""

import json
import os
import signal
import subprocess
import sys

import pytest
from conftest import ROOT
from helpers import fig217, wait_for
from helpers.fig217 import GBPS, NAME, RID

from pyfrr_pwr.cli.agentctl import agent_request
from pyfrr_pwr.lab.runner import Lab

pytestmark = pytest.mark.frr

LAB = os.environ.get("PYFRR_PWR_TEST_LAB", "pwrtest")  # another name lets two runs coexist


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    clab, hwmon = fig217.prepare(tmp_path_factory.mktemp("fig217"))
    lab = Lab(clab, name=LAB)
    lab.down(quiet=True)  # a crashed earlier run
    lab.up(wait=True, timeout=60)
    lab.hwmon = hwmon
    try:
        wait_for(lambda: len(ted_links(lab, "X", "0.0.0.1")) == 16, 30, "X's TED to hold all 16 link ends of area 1")
        yield lab
    finally:
        lab.down(quiet=True)
        assert not [ns for ns in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split() if ns.startswith(f"clab-{LAB}-")]


def agent(lab, node, **req):
    return agent_request(str(lab.nodes[node].agent_socket), req)


def ted_links(lab, node, area):
    return agent(lab, node, cmd="ted", area=area).get(area, {}).get("links", [])


def lsdb(lab, node):
    r = lab.exec(node, [sys.executable, "-m", "pyfrr_pwr.cli", "lsdb", "--json"], capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_lab_is_up_and_converged(lab):
    st = lab.status()
    assert set(st) == set("ABCDEGHX") | {"hE", "hX"}  # the routers and the hosts behind E and X
    routers = {n: s for n, s in st.items() if not n.startswith("h")}
    for node, s in routers.items():
        assert s["up"] and all(s["processes"].values()), (node, s)
        assert s["ospf_full"] == s["ospf_expected"] > 0, (node, s)


def test_every_ted_holds_every_link_as_its_originator_computed_it(lab):
    advertised = {}
    for n in "ABCDEGHX":
        for l in agent(lab, n, cmd="links"):
            if l["advertised"]:
                advertised[(RID[n], l["neighbor"], l["address"])] = l
    assert len(advertised) == 20  # ten links, both ends
    assert {l["link_speed"] for l in advertised.values()} == {10e9}  # veths negotiate 10G
    for reader in "ABCDEGHX":
        areas = agent(lab, reader, cmd="ted")
        seen = {(l["from"], l["to"], l["local"]): l for a in areas.values() for l in a["links"]}
        mine = {k for k in advertised if k[0] == RID[reader]}
        # area 0 and area 1 routers see their own areas' links
        for key, l in seen.items():
            assert key in advertised, key
            assert l["power_consumed"] == pytest.approx(advertised[key]["power_consumed"], rel=1e-6)
            assert l["avail_bw"] == pytest.approx(advertised[key]["avail_bw"], rel=1e-6)
        assert mine <= set(seen)


def test_remote_router_lsdb_through_our_api_client(lab):
    # read on X, which originated none of these, with our own client
    rows = [r for r in lsdb(lab, "X") if r["type"] == 10 and "pwr" in r]
    links = {(r["adv_router"], t["link_id"]): t for r in rows for t in r["pwr"] if t["tlv"] == "link"}
    assert len([k for k in links if k[0] != RID["X"]]) == 14
    g_to_h = links[(RID["G"], RID["H"])]
    assert g_to_h["pwr_consumed"] * GBPS == pytest.approx(0.2, rel=1e-6)
    assert g_to_h["avail_bw"] == pytest.approx(1.25e9)
    eps = {t["router_id"] for r in rows for t in r["pwr"] if t["tlv"] == "te-endpoint"}
    assert eps == {RID["E"], RID["H"], RID["X"]}


def test_draft_path_b_d_g_h_x_is_chosen(lab):
    res = agent(lab, "B", cmd="paths", to=RID["X"], k=3)
    assert res["area"] == "0.0.0.1"
    best = res["paths"][0]
    assert [NAME[n] for n in best["nodes"]] == ["B", "D", "G", "H", "X"]
    assert best["pwr_w_per_gbps"] == pytest.approx(0.43, rel=1e-6)


def test_vtysh_on_a_remote_router_lists_the_lsas(lab):
    out = lab.exec("H", ["vtysh", "-c", "show ip ospf database opaque-area"], capture_output=True, text=True).stdout
    assert "Opaque-Type 200" in out
    for n in "BDEGX":
        assert f"Advertising Router: {RID[n]}" in out, n


def test_frr_ospfclient_and_our_client_see_the_same_lsdb(lab):
    def both():
        theirs = lab.exec("X", [sys.executable, str(ROOT / "tests/helpers/frr_ospfclient_dump.py")], capture_output=True, text=True, timeout=30)
        assert theirs.returncode == 0, theirs.stderr[-2000:]
        t = {(a, ty, lsid, adv, seq, body) for a, ty, lsid, adv, seq, ln, body in json.loads(theirs.stdout)}
        ours = {(r["area"], r["type"], r["lsid"], r["adv_router"], r["seq"], r["body"]) for r in lsdb(lab, "X")}
        return t, ours

    # an LSA may be replaced between the two reads (ABRs re-originate their
    # vectors as they converge): read both until they agree, with a deadline
    t, ours = wait_for(lambda: (r := both()) and r[0] == r[1] and r, 30, "both clients to report the same LSDB", step=0.5)
    assert len(t) >= 21  # 16 link ends, 5 node LSAs, plus B's and C's vectors
    assert {x[1] for x in t} == {10}


def g_h_on_x(lab):
    (l,) = [l for l in ted_links(lab, "X", "0.0.0.1") if l["from"] == RID["G"] and l["to"] == RID["H"]]
    return l


def test_power_change_reaches_a_remote_ted_and_inside_the_band_sends_nothing(lab):
    before = g_h_on_x(lab)
    st = agent(lab, "G", cmd="status")["stats"]
    orig, supp = st.get("originations", 0), st.get("suppressed", 0)
    lab.hwmon.write_text("2040000\n")  # +2 %: inside the band's hysteresis
    # G's agent read the new figure and kept it to itself: "suppressed" (a
    # change inside its band) moves, "originations" does not
    wait_for(lambda: agent(lab, "G", cmd="status")["stats"].get("suppressed", 0) > supp, 10, "G's agent to suppress the +2 % change")
    assert agent(lab, "G", cmd="status")["stats"].get("originations", 0) == orig
    assert g_h_on_x(lab)["generation"] == before["generation"]
    lab.hwmon.write_text("20000000\n")  # 20 W: POWER 2.0 W per Gb/s on G's end
    after = wait_for(lambda: (l := g_h_on_x(lab))["generation"] != before["generation"] and l, 10, "the new G-H value at X")
    assert after["power_consumed"] * GBPS == pytest.approx(2.0, rel=1e-6)
    assert after["pwrlink"] * GBPS == pytest.approx(1.1, rel=1e-6)  # mean of 2.0 and H's 0.2
    res = wait_for(
        lambda: (r := agent(lab, "B", cmd="paths", to=RID["X"], k=1))["paths"][0]["nodes"] == [RID["B"], RID["E"], RID["X"]] and r,
        10,
        "B's best path to move to B-E-X",
    )
    assert res["paths"][0]["pwr_w_per_gbps"] == pytest.approx(0.8, rel=1e-6)
    lab.hwmon.write_text("2000000\n")
    wait_for(lambda: g_h_on_x(lab)["power_consumed"] * GBPS == pytest.approx(0.2, rel=1e-6), 10, "G-H back to 0.2")


def test_ospfd_restart_agent_reconnects_and_reoriginates(lab):
    gen_before = g_h_on_x(lab)["generation"]
    connects = agent(lab, "G", cmd="status")["api_stats"]["connects"]
    assert lab.stop_process("G", "ospfd", signal.SIGKILL)
    wait_for(lambda: not agent(lab, "G", cmd="status")["connected"], 10, "G's agent to notice ospfd is gone")
    lab.restart_daemon("G", "ospfd")
    wait_for(lambda: agent(lab, "G", cmd="status")["api_stats"]["connects"] > connects, 20, "G's agent to reconnect")
    after = wait_for(lambda: (l := g_h_on_x(lab))["generation"] > gen_before and l, 40, "G's re-originated G-H LSA at X")
    assert after["power_consumed"] * GBPS == pytest.approx(0.2, rel=1e-6)
    wait_for(lambda: len(ted_links(lab, "X", "0.0.0.1")) == 16, 40, "16 link ends again at X")


def test_killed_agent_is_flushed_and_returns_on_restart(lab):
    assert lab.stop_process("G", "agent", signal.SIGKILL)

    def g_links_at_x():
        return [l for l in ted_links(lab, "X", "0.0.0.1") if l["from"] == RID["G"]]

    wait_for(lambda: not g_links_at_x(), 20, "G's LSAs to be flushed from X's TED")

    def g_lsas_in_x_lsdb():  # flushed LSAs stay at MaxAge until acknowledged
        out = lab.exec("X", ["vtysh", "-c", "show ip ospf database opaque-area adv-router " + RID["G"]], capture_output=True, text=True).stdout
        return [blk for blk in out.split("LS age:")[1:] if "Opaque-Type 200" in blk and not blk.strip().startswith("3600")]

    wait_for(lambda: not g_lsas_in_x_lsdb(), 20, "G's opaque LSAs to leave X's LSDB (or reach MaxAge)")
    lab.start_agent("G")
    wait_for(lambda: len(g_links_at_x()) == 3, 30, "G's three links to return at X")
