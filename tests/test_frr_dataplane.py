"""LSPs that traffic follows, on real FRR and real kernel forwarding (issue 7
sec. 2, 3): fig-2-0 in namespaces, host hTEh1 (10.20.101.2) behind TEh1 and
hTEt1 (10.20.201.2) behind TEt1. Which routers a stream crosses is read from
the per-interface TX counters of every router of the lab. Needs root and
FRR: marked ``frr``.

The head-end's two links carry fake hwmon power readings (the one thing
that cannot exist here): the link the IGP's path takes out of TEh1 is made
dear, so the power-shortest path leaves through the other one; the
re-optimisation test swaps the figures. Every port of the lab has the
same POWER (``uniform``), so with both of TEh1's ports alike a path's
PWR is its hop count times one PWRLINK and TEh1 has equal-PWR paths to TEt1
through R1 and through R2 (draft sec. 2.1.5; the generated figures give
every equal-PWR set one member): the ``--ecmp`` test.
"""

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from helpers import wait_for

from pyfrr_pwr.cli.agentctl import agent_request
from pyfrr_pwr.lab.runner import Lab
from pyfrr_pwr.proto.control import AgentError

pytestmark = [pytest.mark.frr, pytest.mark.srv6_kernel]  # traffic follows SRv6 LSPs

ROOT = Path(__file__).resolve().parents[1]  # (not conftest's: bench/ imports this module)

LAB = os.environ.get("PYFRR_PWR_TEST_LAB", "h11dp")  # another name lets two runs coexist
N = 1500  # packets per probe stream
HOST_SRC, HOST_DST = "hTEh1", "10.20.201.2"
UNIT_W = 120 / 8  # TEh1's card: 120 W over eight 10G ports (tools/gen_topologies.py)


def _write(p, watts):
    p.write_text(f"{int(watts * 1e6)}\n")


def build_lab(d, name, uniform=False):
    """fig-2-0 under ``name`` in directory ``d``, up; ``lab.hw`` the fake
    hwmon files of TEh1's two ports. ``uniform``: every port has the same
    POWER, so equal hop counts are equal PWR."""
    shutil.copytree(ROOT / "containerlab/fig-2-0", d / "fig-2-0")
    shutil.copy(ROOT / "containerlab/fig-2-0.clab.yml", d / "fig-2-0.clab.yml")
    hw = {"eth1": d / "teh1_eth1", "eth2": d / "teh1_eth2"}
    for f in hw.values():
        _write(f, UNIT_W)
    for pf in (d / "fig-2-0").glob("*/power.yml"):
        cfg = yaml.safe_load(pf.read_text())
        a = cfg.setdefault("agent", {})  # keeps the lab's signalling key
        if uniform:
            for port, pc in cfg["ports"].items():
                # POWER = W per port / available bandwidth (sec. 2.1.1): the same at every port
                # (static figures: nothing measured moves it), except that R1-ABR1 has half the
                # bandwidth at half the power: the same POWER, so the same PWR through R1 and
                # through R2, but half the bottleneck: UCMP weights 128 vs 256
                half = (pf.parent.name, port) in (("R1", "eth2"), ("ABR1", "eth1"))
                pc.update(power_w=UNIT_W / 2 if half else UNIT_W, available="2.5G" if half else "5G")
        a["lsp"] = {"holddown": 0, "margin": 0.02, "reoptimize_period": 0.2, "wtr": 1}  # a 10x port power moves the path PWR by ~7 %
        if pf.parent.name == "TEh1":
            a.update(interval=0.1, min_interval=0.3)
            for port, f in hw.items():
                cfg["ports"][port].update(power_w=UNIT_W, power_reader={"type": "hwmon", "path": str(f)})
        if pf.parent.name == "TEt4":  # a tail-end without SRv6
            a["srv6"] = {"enabled": False}
        pf.write_text(yaml.safe_dump(cfg))
    lab = Lab(d / "fig-2-0.clab.yml", name=name)
    lab.down(quiet=True)
    lab.up(wait=True, timeout=120)
    lab.hw = hw
    return lab


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = build_lab(tmp_path_factory.mktemp("h1fig20"), LAB, uniform=True)
    try:
        yield lab
    finally:
        lab.down(quiet=True)
        assert f"clab-{LAB}-" not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


# -- helpers ------------------------------------------------------------------------


def rid(lab, name):
    return lab.topo.resolve(name).router_id


def ask(lab, node, req, timeout=60):
    return agent_request(str(lab.nodes[node].agent_socket), req, timeout=timeout)


def routers(lab):
    return [n for n in lab.nodes.values() if n.frr]


def counters(lab) -> dict:
    out = {}
    for n in routers(lab):
        r = lab.exec(n.name, ["ip", "-j", "-s", "link", "show"], capture_output=True, text=True, check=True)
        for link in json.loads(r.stdout):
            if link["ifname"].startswith("eth"):
                out[(n.name, link["ifname"])] = link["stats64"]["tx"]["packets"]
    return out


def send(lab, n=N):
    """A one-way UDP stream from the host behind TEh1 to the host behind TEt1."""
    # one flow (fixed ports): the IGP's equal-cost split hashes on them
    code = f"import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(('0.0.0.0',40000))\nfor i in range({n}):\n  s.sendto(b'x'*64,('{HOST_DST}',9))\n  time.sleep(0.0002)\n"
    lab.exec(HOST_SRC, ["python3", "-c", code], check=True)


def crossed(lab) -> set:
    """(router, interface) pairs that sent the whole stream: OSPF hellos and
    the odd ICMP error stay far below N on every other interface."""
    a = counters(lab)
    send(lab)
    return settled(lab, a, N)


def settled(lab, a: dict, n: int, deadline: float = 5.0) -> set:
    """The interfaces whose TX counters grew by ``n`` or more since ``a``,
    once two readings in a row agree (the last packets of a stream may
    still be in flight, or counted late, when the sender returns); the
    last reading's set at the deadline."""
    b = settled_counters(lab, a, n, deadline)
    return {k for k in b if b[k] - a.get(k, 0) >= n}


def settled_counters(lab, a: dict, n: int, deadline: float = 5.0) -> dict:
    """The TX counters once the set of interfaces that grew by ``n`` since
    ``a`` is the same in two readings in a row (or at the deadline)."""
    end = time.monotonic() + deadline
    prev = None
    while True:
        b = counters(lab)
        got = {k for k in b if b[k] - a.get(k, 0) >= n}
        if got == prev or time.monotonic() >= end:
            return b
        prev = got


def expected(lab, route) -> set:
    """The interfaces of ``route`` (router IDs), and the tail's host port."""
    names = [lab.topo.name_of(r) for r in route]
    out = set()
    for u, v in zip(names, names[1:]):
        ifs = [l.a[1] if l.a[0] == u else l.b[1] for l in lab.topo.links if {l.a[0], l.b[0]} == {u, v}]
        assert len(ifs) == 1, f"{u}-{v}: {ifs}"
        out.add((u, ifs[0]))
    out.add((names[-1], next(l.a[1] if l.a[0] == names[-1] else l.b[1] for l in lab.topo.links if {l.a[0], l.b[0]} == {names[-1], "hTEt1"})))
    return out


def leftovers(lab) -> dict:
    """Every LSP trace on every router: encap routes and binding SIDs of
    protocol 240, reservations."""
    out = {}
    for n in routers(lab):
        v4 = lab.exec(n.name, ["ip", "-4", "route", "show", "proto", "240"], capture_output=True, text=True).stdout.strip()
        v6 = [l for l in lab.exec(n.name, ["ip", "-6", "route", "show", "proto", "240"], capture_output=True, text=True).stdout.splitlines() if "B6" in l]
        try:
            res = ask(lab, n.name, {"cmd": "reservations"}, timeout=10)
        except AgentError:
            res = {}
        if v4 or v6 or res:
            out[n.name] = {"encap": v4, "bindings": v6, "reservations": sorted(res)}
    return out


def igp_path(lab):
    assert not leftovers(lab)
    return crossed(lab)


def reserve(lab, **kw):
    return ask(lab, "TEh1", {"cmd": "reserve", "to": rid(lab, "TEt1"), "bw": 1e6, **kw})


def wait_choice_via(lab, first_hop):
    want = rid(lab, first_hop)
    wait_for(
        lambda: ask(lab, "TEh1", {"cmd": "path", "to": rid(lab, "TEt1")})["best"]["head_path"][1] == want,
        180,
        f"TEh1's choice to leave through {first_hop}",
        step=0.5,
    )


# -- tests ----------------------------------------------------------------------------


PORT_TO = {"eth1": "R1", "eth2": "R2"}  # TEh1's ports


def make_dear(lab, port):
    """TEh1's link on ``port`` ten times the power, the other one normal:
    the power-shortest path leaves through the other one."""
    for p, f in lab.hw.items():
        _write(f, UNIT_W * (10 if p == port else 1))
    other = next(p for p in PORT_TO if p != port)
    wait_choice_via(lab, PORT_TO[other])
    return other


def test_traffic_follows_the_chosen_interarea_path_not_the_igp_and_the_igp_after_release(lab):
    igp = wait_for(lambda: (p := crossed(lab)) and len(p) >= 5 and p, 60, "the IGP to carry the stream")
    (igp_port,) = [i for n, i in igp if n == "TEh1"]
    lab.igp, lab.igp_port = igp, igp_port
    pwr_port = make_dear(lab, igp_port)  # the PWR path is not the IGP's
    r = reserve(lab)
    route = r["route"]
    assert route[0] == rid(lab, "TEh1") and route[-1] == rid(lab, "TEt1") and route[1] == rid(lab, PORT_TO[pwr_port])
    lsp = r["lsp"]
    assert lsp["state"] == "up" and lsp["prefixes"] == ["10.20.201.0/24"]
    (leg,) = lsp["legs"]
    segs = leg["segs"]["10.20.201.0/24"]
    assert leg["binding"] and leg["binding"] in segs and len(segs) <= 8  # the head's list ends at the first ABR
    on_path = crossed(lab)
    assert on_path == expected(lab, route), "the stream must cross exactly the routers of the chosen path"
    assert on_path != igp
    # binding SIDs at the ABRs that expanded a segment, and nowhere else
    chain = r["path"]["best"]["abr_chain"]
    held = {n for n, v in leftovers(lab).items() if v["bindings"]}
    assert held == {lab.topo.name_of(a) for a in chain}
    shown = ask(lab, "TEh1", {"cmd": "lsps"})["lsps"]
    assert [l["id"] for l in shown] == [r["id"]] and shown[0]["legs"][0]["route"] == route
    assert shown[0]["pwr_setup"] == pytest.approx(r["path"]["best"]["pwr"])
    ask(lab, "TEh1", {"cmd": "release", "id": r["id"]})
    assert not leftovers(lab), "release leaves nothing on any router"
    assert crossed(lab) == igp


def test_reoptimisation_moves_the_lsp_make_before_break(lab):
    port = make_dear(lab, lab.igp_port)
    r = reserve(lab)
    before = r["route"]
    assert crossed(lab) == expected(lab, before)
    for p, f in lab.hw.items():  # now the LSP's first link is the dear one
        _write(f, UNIT_W * (10 if p == port else 1))
    seen = []

    def moved():
        seen[:] = [ask(lab, "TEh1", {"cmd": "lsps"})]
        lsp = seen[0]["lsps"][0]
        return lsp["stats"].get("reoptimized") and lsp["state"] == "up" and lsp

    released = False
    try:
        try:
            lsp = wait_for(moved, 60, "the LSP to move", step=0.3)
        except AssertionError:
            best = ask(lab, "TEh1", {"cmd": "path", "to": rid(lab, "TEt1")})
            raise AssertionError(f"LSP did not move: {seen} best now {best['best']['head_path']} {best['best']['pwr']}") from None
        (leg,) = lsp["legs"]
        after = leg["route"]
        assert after != before and after[1] == rid(lab, PORT_TO[lab.igp_port])
        assert lsp["id"] == r["id"]  # the same LSP, on a new path
        assert crossed(lab) == expected(lab, after)
        # the old path's reservations and binding SIDs are gone
        assert set(leftovers(lab)) == {lab.topo.name_of(x) for x in after}
        ask(lab, "TEh1", {"cmd": "release", "id": r["id"]})
        released = True
        assert not leftovers(lab)
    finally:
        if not released:  # a failure here must not leave an LSP for the next tests
            ask(lab, "TEh1", {"cmd": "release", "id": r["id"]})


def test_a_backup_is_pre_installed_at_a_worse_metric_and_released_with_the_lsp(lab):
    r = reserve(lab, backup=True)
    seen = []

    def installed():
        seen[:] = [ask(lab, "TEh1", {"cmd": "lsps"})]
        l = seen[0]["lsps"][0]
        return l["backup"] and l["backup"]["installed"] and l

    try:
        lsp = wait_for(installed, 60, "the backup to be installed")
    except AssertionError:
        raise AssertionError(f"no backup: {seen}") from None
    assert lsp["backup_disjoint"] in ("node", "link")
    prim, back = (next(g for g in lsp["legs"] if g["role"] == role) for role in ("primary", "backup"))
    assert prim["route"][1] != back["route"][1]  # leaves on the other link
    # end to end, per segment (second seed sec. 4.2): TEt1 hangs off R3 alone, so no backup
    # avoids R3-TEt1, and the report says so; the head-end's own segment shares nothing
    segs = lsp["backup_segments"]
    assert segs[0]["from"] == rid(lab, "TEh1") and segs[-1]["to"] == rid(lab, "TEt1") and segs[0]["disjoint"] in ("node", "link")
    assert sorted([rid(lab, "R3"), rid(lab, "TEt1")]) in segs[-1]["shared_links"] and lsp["backup_end_to_end"] == "none"
    routes = lab.exec("TEh1", ["ip", "-4", "route", "show", "10.20.201.0/24", "proto", "240"], capture_output=True, text=True).stdout
    assert "metric 10" in routes and "metric 15" in routes
    assert crossed(lab) == expected(lab, prim["route"])  # the primary carries the traffic
    ask(lab, "TEh1", {"cmd": "release", "id": r["id"]})
    assert not leftovers(lab)


def _ifname(lab, u, v):
    """``u``'s interface on its link to ``v`` (router names)."""
    (i,) = [l.a[1] if l.a[0] == u else l.b[1] for l in lab.topo.links if {l.a[0], l.b[0]} == {u, v}]
    return i


NFT = "h11drop"  # our nft table


def _silent_drop(lab, node, ifname):
    """A remote failure without carrier loss: ``node`` forwards nothing
    IPv6 in or out of ``ifname`` (the SRv6 traffic and the probes), its
    own OSPF packets still pass (FORWARD hook only): OSPF never notices."""
    lab.exec(node, ["nft", "add", "table", "inet", NFT], check=True)
    lab.exec(node, ["nft", "add", "chain", "inet", NFT, "filt", "{ type filter hook forward priority 0 ; }"], check=True)
    for d in ("oifname", "iifname"):
        lab.exec(node, ["nft", "add", "rule", "inet", NFT, "filt", d, ifname, "meta", "nfproto", "ipv6", "drop"], check=True)


def _repair(lab, node):
    lab.exec(node, ["nft", "delete", "table", "inet", NFT], check=False)


def test_a_remote_failure_without_carrier_loss_moves_traffic_to_the_backup_and_repair_back(lab):
    """Issue 7 sec. 4: the head-end's liveness probes over the primary's own
    SID list stop coming back when a link two hops away silently drops
    everything (nft, carrier up, OSPF unaware): the traffic moves to the
    pre-installed backup (per-interface counters), and back to the primary
    once the link forwards again (after wait-to-restore)."""
    make_dear(lab, lab.igp_port)
    r = reserve(lab, backup=True)
    seen = []

    def watched():
        seen[:] = [ask(lab, "TEh1", {"cmd": "lsps"})]
        l = seen[0]["lsps"][0]
        live = l.get("liveness") or {}
        ok = l["backup"] and l["backup"]["installed"] and all((live.get(w) or {}).get("state") == "up" for w in ("primary", "backup"))
        return ok and l

    try:
        lsp = wait_for(watched, 60, "the backup installed and both paths' probes answered", step=0.3)
    except AssertionError:
        raise AssertionError(f"not protected: {seen}") from None
    assert lsp["backup_disjoint"] in ("node", "link") and "backup_srlg" in lsp and "backup_trap" in lsp
    prim, back = (next(g for g in lsp["legs"] if g["role"] == role) for role in ("primary", "backup"))
    names = [lab.topo.name_of(x) for x in prim["route"]]
    assert crossed(lab) == expected(lab, prim["route"])
    p_port, b_port = _ifname(lab, "TEh1", names[1]), _ifname(lab, "TEh1", lab.topo.name_of(back["route"][1]))
    assert p_port != b_port
    node, dead = names[1], _ifname(lab, names[1], names[2])  # the primary's second link, remote from the head-end
    _silent_drop(lab, node, dead)
    try:
        wait_for(lambda: ask(lab, "TEh1", {"cmd": "lsps"})["lsps"][0]["active"] == "backup", 10, "the switch to the backup", step=0.05)
        c = crossed(lab)
        assert ("TEh1", b_port) in c and ("TEh1", p_port) not in c, c
        assert ("TEt1", next(i for n, i in expected(lab, prim["route"]) if n == "TEt1")) in c  # delivered
    finally:
        _repair(lab, node)
    wait_for(lambda: ask(lab, "TEh1", {"cmd": "lsps"})["lsps"][0]["active"] == "primary", 30, "the switch back after repair", step=0.1)
    assert crossed(lab) == expected(lab, prim["route"])
    shown = ask(lab, "TEh1", {"cmd": "lsps"})["lsps"][0]
    assert shown["stats"].get("switch_to_backup") == 1 and shown["stats"].get("revert") == 1
    ask(lab, "TEh1", {"cmd": "release", "id": r["id"]})
    assert not leftovers(lab)
    assert NFT not in lab.exec(node, ["nft", "list", "tables"], capture_output=True, text=True).stdout
    assert ask(lab, "TEh1", {"cmd": "lsps"})["liveness"]["probers"] == 0


FLOWS, PER_FLOW = 400, 5  # 2000 packets over 400 UDP flows (destination ports)


def send_flows(lab, flows=FLOWS, per=PER_FLOW):
    """Many flows from the host behind TEh1 to the host behind TEt1: one
    destination port each, so an L4 hash spreads them over a multipath
    route's nexthops."""
    code = (
        "import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
        f"for r in range({per}):\n for i in range({flows}):\n  s.sendto(b'x'*64,('{HOST_DST}',20000+i))\n  time.sleep(0.0002)\n"
    )
    lab.exec(HOST_SRC, ["python3", "-c", code], check=True)


def test_ecmp_spreads_flows_over_equal_pwr_legs_by_ucmp_weight_and_release_leaves_nothing(lab):
    """Draft sec. 2.1.5, issue 7 sec. 4: ``--ecmp`` installs the equal-PWR
    set as one weighted multipath route, each nexthop its own SID list and
    its weight from the leg's available bandwidth (UCMP). Traffic of many
    flows crosses every leg's routers, split roughly by the weights."""
    for f in lab.hw.values():  # both of TEh1's ports alike: paths through R1 and R2 cost the same
        _write(f, UNIT_W)
    to, both = rid(lab, "TEt1"), {rid(lab, "R1"), rid(lab, "R2")}
    seen = []

    def equal_pwr():
        seen[:] = [ask(lab, "TEh1", {"cmd": "path", "to": to})]
        return {c["head_path"][1] for c in seen[0]["ecmp"]} >= both

    try:
        wait_for(equal_pwr, 180, "equal-PWR paths through R1 and R2", step=0.5)
    except AssertionError:
        raise AssertionError(f"no equal-PWR set: {[(c['head_path'], c['abr_chain'], c['pwr']) for c in seen[0]['ecmp']]}") from None
    # the kernel spreads IPv4 flows by L4 ports only with policy 1 (Netlink.enable_seg6 sets it: make sure)
    sysctl = "net.ipv4.fib_multipath_hash_policy"
    before = lab.exec("TEh1", ["sysctl", "-n", sysctl], capture_output=True, text=True, check=True).stdout.strip()
    lab.exec("TEh1", ["sysctl", "-qw", f"{sysctl}=1"], check=True)
    r = reserve(lab, ecmp=True)
    try:
        lsp = r["lsp"]
        legs = lsp["legs"]
        assert lsp["ecmp"] and lsp["state"] == "up" and len(legs) >= 2, lsp
        assert {g["route"][1] for g in legs} == both
        assert all(1 <= g["weight"] <= 256 for g in legs) and max(g["weight"] for g in legs) == 256
        kernel = lab.exec("TEh1", ["ip", "-4", "route", "show", "10.20.201.0/24", "proto", "240"], capture_output=True, text=True).stdout
        assert kernel.count("nexthop") == len(legs) and kernel.count("encap seg6") == len(legs), kernel
        for g in legs:  # each nexthop its own SID list, at its weight
            assert f"weight {g['weight']}" in kernel and all(x in kernel for x in g["segs"]["10.20.201.0/24"]), (g, kernel)
        a = counters(lab)
        send_flows(lab)
        n = FLOWS * PER_FLOW
        b = settled_counters(lab, a, n // 20)
        d = {k: b[k] - a.get(k, 0) for k in b}
        tail_port = next(i for u, i in expected(lab, legs[0]["route"]) if u == "TEt1")
        assert d.get(("TEt1", tail_port), 0) >= 0.98 * n  # delivered
        total = sum(g["weight"] for g in legs)
        for g in legs:  # every leg's routers carry at least a good part of its share
            share = g["weight"] / total
            for k in expected(lab, g["route"]):
                assert d.get(k, 0) >= 0.4 * share * n, (g["route"], k, d.get(k, 0), share)
        via_r1 = sum(g["weight"] for g in legs if g["route"][1] == rid(lab, "R1")) / total
        port = {v: k for k, v in PORT_TO.items()}
        p1, p2 = d.get(("TEh1", port["R1"]), 0), d.get(("TEh1", port["R2"]), 0)
        assert p1 + p2 >= 0.98 * n
        print(f"ECMP: {len(legs)} legs, weights {[g['weight'] for g in legs]}, TEh1 ports {p1}:{p2}, hash policy was {before}")
        assert abs(p1 / (p1 + p2) - via_r1) <= 0.12, f"UCMP split {p1}:{p2}, weights give {via_r1:.2f} through R1"
    finally:
        ask(lab, "TEh1", {"cmd": "release", "id": r["id"]})
        lab.exec("TEh1", ["sysctl", "-qw", f"{sysctl}={before}"], check=False)
    assert not leftovers(lab), "release leaves nothing on any router"


@pytest.mark.parametrize(
    "kw, why",
    [
        ({"prefixes": ["10.99.0.0/24"]}, "10.99.0.0/24 is not a prefix this tail-end serves"),
        ({"bw": 1.2e12}, "meets the constraints"),  # 9.6 Tb/s: fits no link
        ({"to": "TEt4"}, "runs no SRv6"),  # the tail cannot give its SIDs
    ],
)
def test_a_failed_setup_names_what_failed_and_leaves_nothing(lab, kw, why):
    if kw.get("to"):
        kw = {**kw, "to": rid(lab, kw["to"])}
    with pytest.raises(AgentError, match=why):
        reserve(lab, **kw)
    assert not leftovers(lab)
    assert ask(lab, "TEh1", {"cmd": "lsps"})["lsps"] == []


def test_a_link_down_at_setup_fails_cleanly(lab):
    """TEt1's only link goes down as the LSP is set up (before any TED
    heard of it): whichever hop finds out first refuses, the rest unwinds."""
    r3 = next(l.a[1] if l.a[0] == "R3" else l.b[1] for l in lab.topo.links if {l.a[0], l.b[0]} == {"R3", "TEt1"})
    lab.exec("R3", ["ip", "link", "set", r3, "down"], check=True)
    try:
        with pytest.raises(AgentError, match="LSP to|no path|no inter-area path|no link"):
            reserve(lab)
        wait_for(lambda: not leftovers(lab), 30, "nothing left on any router")
    finally:
        lab.exec("R3", ["ip", "link", "set", r3, "up"], check=True)
    wait_for(lambda: ask(lab, "TEh1", {"cmd": "path", "to": rid(lab, "TEt1")}), 90, "TEt1 to be reachable again", step=1)


def test_a_crashed_head_end_leaks_nothing(lab):
    make_dear(lab, lab.igp_port)
    r = wait_for(lambda: reserve(lab), 60, "an LSP to come up", step=2)
    held = {n for n, v in leftovers(lab).items() if v["bindings"]}
    assert held
    lab.stop_process("TEh1", "agent", signal.SIGKILL)  # no release, no more refreshes
    t0 = time.monotonic()
    # soft state: every hop drops its booking and binding SID (agent.reservation_hold)
    wait_for(lambda: set(leftovers(lab)) <= {"TEh1"}, 60, "the reservations and binding SIDs to expire")
    assert time.monotonic() - t0 < 45
    # the head's encap route survived its agent; the next agent removes it
    lab.start_agent("TEh1")
    lab.wait_ready(90)
    wait_for(lambda: not leftovers(lab), 60, "the restarted agent to remove what nobody maintains")
    p = crossed(lab)  # delivered again, by the IGP (no route of ours is left)
    assert ("TEt1", next(i for n, i in expected(lab, r["route"]) if n == "TEt1")) in p
    assert r["id"]
