"""Inter-area paths on real FRR (draft sec. 2, 2.2): fig-2-0 in namespaces,
23 routers with ospfd -a and an agent each. ABR agents leak reachability
vectors; head-end agents answer `path` requests. Checked against the central
oracle (tests/helpers/oracle.py) on the same topology files. Needs root and
FRR: marked ``frr`` (``pytest -m "not frr"`` leaves it out)."""

import itertools
import os
import shutil
import subprocess
import time

import pytest
import yaml
from conftest import ROOT
from helpers import wait_for
from helpers.oracle import HEADS, TAILS, oracle

from pyfrr_pwr.cli.agentctl import agent_request
from pyfrr_pwr.files.topology import load_topology
from pyfrr_pwr.lab.runner import Lab
from pyfrr_pwr.offline.pipeline import build_teds

pytestmark = pytest.mark.frr

LAB = os.environ.get("PYFRR_PWR_TEST_LAB", "pwtest20")  # another name lets two runs coexist
R6_UNIT_W = 155 / 8  # R6's card: 155 W over eight 10G ports (tools/gen_topologies.py)


def set_r6_port_power(d, **port):
    """A port-level power figure on R6's port towards ABR4 (no max_power_w:
    only the consumed ratio counts, so more power means a dearer link)."""
    pf = d / "fig-2-0/R6/power.yml"
    cfg = yaml.safe_load(pf.read_text())
    cfg["ports"]["eth1"].update(port)  # eth1: R6's port towards ABR4
    pf.write_text(yaml.safe_dump(cfg))


def copy_fig20(d):
    shutil.copytree(ROOT / "containerlab/fig-2-0", d / "fig-2-0")
    shutil.copy(ROOT / "containerlab/fig-2-0.clab.yml", d / "fig-2-0.clab.yml")
    return d / "fig-2-0.clab.yml"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    d = tmp_path_factory.mktemp("fig20")
    clab = copy_fig20(d)
    hw = d / "power1_input"
    hw.write_text(f"{int(R6_UNIT_W * 1e6)}\n")
    set_r6_port_power(d, power_w=R6_UNIT_W, power_reader={"type": "hwmon", "path": str(hw)})
    pf = d / "fig-2-0/R6/power.yml"
    cfg = yaml.safe_load(pf.read_text())
    cfg["agent"].update(interval=0.1, min_interval=0.5)  # keeps the lab's signalling key
    pf.write_text(yaml.safe_dump(cfg))
    lab = Lab(clab, name=LAB)
    lab.down(quiet=True)
    lab.up(wait=True, timeout=90)
    lab.hwmon, lab.dir, lab.clab = hw, d, clab
    try:
        yield lab
    finally:
        lab.down(quiet=True)
        assert f"clab-{LAB}-" not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


def rid(lab, name):
    return lab.topo.resolve(name).router_id


def ask(lab, head, tail, **kw):
    return agent_request(str(lab.nodes[head].agent_socket), {"cmd": "path", "to": rid(lab, tail), **kw})


ABRS = ("ABR1", "ABR2", "ABR3", "ABR4", "ABR5", "ABR6")


def _activity(lab, head="TEh1"):
    """What moves while a change travels: the head-end's TED changes and
    views, every ABR's TED changes and finished vector rounds."""
    out = []
    for n in (head, *ABRS):
        st = agent_request(str(lab.nodes[n].agent_socket), {"cmd": "status"})["stats"]
        out += [st.get("ted_changes", 0), st.get("views_published", 0), st.get("vector_rounds", 0)]
    return out


def wait_settled(lab, before, quiet=0.5, timeout=30.0, step=0.05):
    """Return once the head-end's TED moved past ``before`` (its
    ``ted_changes``) and nothing in ``_activity`` changed for ``quiet`` s:
    the change was flooded and every ABR's recomputation is out. Raises
    after ``timeout``: a deadline, not a guess of how long it takes."""
    end = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < end:
        a = _activity(lab)
        if a != last:
            last, since = a, time.monotonic()
        elif a[0] > before and time.monotonic() - since >= quiet:
            return
        time.sleep(step)
    raise AssertionError(f"the lab did not settle in {timeout} s after a reservation (TEh1's TED changes {before} -> {last and last[0]})")


def central(topo_file, h, t):
    topo = load_topology(topo_file)
    teds = build_teds(topo)
    order = ["0.0.0.1", "0.0.0.0", "0.0.0.2"] if h.startswith("TEh") else ["0.0.0.2", "0.0.0.0", "0.0.0.1"]
    return oracle(teds, topo.resolve(h).router_id, topo.resolve(t).router_id, order)


def test_every_head_tail_pair_gets_the_central_optimum(lab):
    for h, t in list(itertools.product(HEADS, TAILS)) + [(t, h) for h, t in itertools.product(HEADS, TAILS)]:
        want = central(lab.clab, h, t)
        res = wait_for(
            lambda h=h, t=t, want=want: (r := ask(lab, h, t)) and abs(r["best"]["pwr"] - want) <= 1e-5 * want and r,
            60,
            f"{h} -> {t} to reach the optimum {want:.4g}",
            step=0.5,
        )
        b = res["best"]
        assert b["head_path"][0] == rid(lab, h) and b["head_path"][-1] == b["abr_chain"][0]
        assert len(b["abr_chain"]) == 2  # {ABR of the head's area, ABR of the tail's area}
        assert res["runners_up"] and res["runners_up"][0]["pwr"] >= b["pwr"]


def test_a_power_change_in_area_2_moves_the_choice_in_area_1_only_when_it_should(lab):
    before = ask(lab, "TEh1", "TEt4")["best"]
    assert before["abr_chain"][1] == rid(lab, "ABR4")  # via ABR4-R6
    r6 = str(lab.nodes["R6"].agent_socket)
    st = agent_request(r6, {"cmd": "status"})["stats"]
    orig, supp = st.get("originations", 0), st.get("suppressed", 0)
    lab.hwmon.write_text(f"{int(R6_UNIT_W * 1.02 * 1e6)}\n")  # +2 %: inside the band
    # the agent read the new figure and decided not to send it: its
    # "suppressed" counter moves (a change inside its band), not "originations"
    wait_for(lambda: agent_request(r6, {"cmd": "status"})["stats"].get("suppressed", 0) > supp, 10, "R6's agent to suppress the +2 % change")
    assert agent_request(r6, {"cmd": "status"})["stats"].get("originations", 0) == orig
    assert ask(lab, "TEh1", "TEt4")["best"] == before
    # ten times the power on R6's port towards ABR4: what should the choice be?
    d = lab.dir / "expected"
    d.mkdir()
    clab = copy_fig20(d)
    set_r6_port_power(d, power_w=R6_UNIT_W * 10)
    want = central(clab, "TEh1", "TEt4")
    assert want > before["pwr"]
    lab.hwmon.write_text(f"{int(R6_UNIT_W * 10 * 1e6)}\n")
    after = wait_for(
        lambda: (r := ask(lab, "TEh1", "TEt4")["best"]) and abs(r["pwr"] - want) <= 1e-5 * want and r, 60, f"TEh1's choice to move to {want:.4g}", step=0.5
    )
    assert after["abr_chain"] != before["abr_chain"]
    # pairs that never used that link keep their choice
    assert ask(lab, "TEh1", "TEt1")["best"]["pwr"] == pytest.approx(central(lab.clab, "TEh1", "TEt1"), rel=1e-5)
    lab.hwmon.write_text(f"{int(R6_UNIT_W * 1e6)}\n")
    wait_for(lambda: abs(ask(lab, "TEh1", "TEt4")["best"]["pwr"] - before["pwr"]) <= 1e-5 * before["pwr"], 60, "the original choice to return", step=0.5)


def test_unknown_tail_end_fails_with_a_reason(lab):
    from pyfrr_pwr.proto.control import AgentError

    with pytest.raises(AgentError, match="advertises a path to 192.0.2.1"):
        agent_request(str(lab.nodes["TEh2"].agent_socket), {"cmd": "path", "to": "192.0.2.1"})


def test_reservations_take_bandwidth_until_requests_fail_clearly(lab):
    """sec. 2.2: a reserved path's bandwidth is taken (the links it crosses
    re-advertise less, the ABRs recompute), later requests move elsewhere,
    and once no path has the bandwidth they fail with a reason."""
    from pyfrr_pwr.proto.control import AgentError

    sock = str(lab.nodes["TEh1"].agent_socket)
    first = ask(lab, "TEh1", "TEt4")["best"]
    ids, routes = [], []
    reason = None
    for _ in range(12):
        before = _activity(lab)[0]
        try:
            r = agent_request(sock, {"cmd": "reserve", "to": rid(lab, "TEt4"), "bw": 1.25e8}, timeout=30)  # 1 Gb/s
        except AgentError as exc:
            reason = str(exc)
            break
        ids.append(r["id"])
        routes.append(tuple(r["route"]))
        assert r["route"][0] == rid(lab, "TEh1") and r["route"][-1] == rid(lab, "TEt4")
        wait_settled(lab, before)  # flooding and the ABRs' recomputation
    assert ids and reason, "bandwidth never ran out"
    assert "no inter-area path" in reason and "min_bandwidth=1 Gb/s" in reason
    assert len(set(routes)) > 1  # later reservations went elsewhere
    with pytest.raises(AgentError, match="no reservation"):
        agent_request(sock, {"cmd": "release", "id": "10.20.255.1/999"})
    for i in ids:
        agent_request(sock, {"cmd": "release", "id": i}, timeout=30)
    lab.first_choice = first
    # nothing stays: no router of the lab holds a booking any more
    wait_for(
        lambda: all(not agent_request(str(lab.nodes[n].agent_socket), {"cmd": "reservations"}) for n in lab.nodes if lab.nodes[n].power is not None),
        30,
        "every booking to be gone",
        step=0.5,
    )


def test_released_bandwidth_brings_the_unreserved_choice_back(lab):
    """Once every booking is gone the head-end's choice is the unreserved
    one again, to the PWR. The defect this was marked for (issue 10): the
    releases arrive one by one, an ABR re-originates its vector for an
    intermediate value, and the final value, inside the same band, was
    suppressed for ever (sec. 2.2 banding); a suppressed change now goes
    out after ``core.VECTOR_REFRESH_S``."""
    first = lab.first_choice
    wait_for(lambda: abs(ask(lab, "TEh1", "TEt4")["best"]["pwr"] - first["pwr"]) <= 1e-5 * first["pwr"], 60, "the unreserved choice to return", step=0.5)
