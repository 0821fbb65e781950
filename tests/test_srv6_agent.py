"""The agent's own SRv6 SIDs (issue 7 sec. 1-2): the plan (pure), how they
are flooded (advertise, node LSA, TED, SidTable), and one real-kernel test
of the shell (``agent.srv6``) in namespaces named h13-*."""

import ipaddress
import subprocess

import pytest
from helpers import wait_for

from pyfrr_pwr.agent import sidplan
from pyfrr_pwr.agent.advertise import Advertiser, Session
from pyfrr_pwr.agent.core import AgentCore
from pyfrr_pwr.agent.srv6 import Srv6Node
from pyfrr_pwr.dataplane import sidlist, sids
from pyfrr_pwr.files.power import load_power
from pyfrr_pwr.model import advert
from pyfrr_pwr.model.ted import TED
from pyfrr_pwr.proto import ospfapi as api
from pyfrr_pwr.proto import wire

# ---------------------------------------------------------------- sidplan


def test_settings_defaults_and_errors():
    s = sidplan.settings(None)
    assert s.enabled and s.locator is None and s.sid_dev == "sr0" and s.neighbors == {}
    s = sidplan.settings({"locator": "fd00:1::/48", "neighbors": {"eth1": "fd01::2"}, "prefixes": [{"prefix": "10.9.0.0/24", "nh4": "10.9.0.2"}]})
    assert s.locator == "fd00:1::/48" and s.neighbors == {"eth1": "fd01::2"} and s.prefixes[0].prefix == "10.9.0.0/24"
    for bad, what in (
        ({"nope": 1}, "unknown key"),
        ({"enabled": "yes"}, "enabled"),
        ({"locator": "fd00::1/48"}, "locator"),
        ({"neighbors": {"eth1": "fe80::1"}}, "neighbors.eth1"),
        ({"prefixes": [{"prefix": "10.0.0.1/24", "nh4": "1.1.1.1"}]}, r"prefixes\[0\]"),
        ({"period": 0}, "period"),
        ([], "mapping"),
    ):
        with pytest.raises(sids.SidError, match=what):
            sidplan.settings(bad)


@pytest.mark.parametrize(
    "own,neigh,want",
    [
        (["fd01:20:14::2/64"], [], "fd01:20:14::1"),  # the labs' P::1 / P::2
        (["fd01:20:14::1/64", "fe80::1/64"], [], "fd01:20:14::2"),
        (["fd01::4/127"], [], "fd01::5"),
        (["fd01::10/64"], [], None),  # cannot be told
        (["fd01::10/64"], ["fe80::2", "fd02::1", "fd01::22"], "fd01::22"),  # the neighbour table, in our prefix
        ([], [], None),
        (["fe80::1/64"], [], None),
    ],
)
def test_neighbour_ipv6(own, neigh, want):
    assert sidplan.neighbour_ipv6(own, neigh) == want


def test_attached_prefixes_and_dx4_next_hops():
    got = sidplan.attached_prefixes(
        {"eth1": ["10.1.0.0/31"], "h1": ["10.20.1.1/24"], "h2": ["10.30.0.0/31"], "h3": ["10.40.0.1/32"], "lo": ["127.0.0.1/8"], "sr0": ["10.5.0.1/30"]},
        exclude={"eth1", "sr0"},
    )
    assert [(p.prefix, p.nh4) for p in got] == [("10.20.1.0/24", "0.0.0.0"), ("10.30.0.0/31", "10.30.0.1"), ("10.40.0.1/32", "10.40.0.1")]
    (p,) = sidplan.attached_prefixes({"x": ["10.5.0.1/30"]})
    assert p.nh4 == "10.5.0.2"


def test_plan_from_agent_state():
    s = sidplan.settings({"neighbors": {"eth2": "fd01:3::9"}})
    links = {"eth1": "10.1.0.0", "eth2": "10.1.1.0", "eth3": "10.1.2.0"}
    attached = sidplan.attached_prefixes({"h1": ["10.20.1.1/24"]})
    r = sidplan.plan("10.0.0.2", s, links, {"eth1": "fd01:1::2", "eth2": "fd01:2::2"}, attached, te_tail=True)
    p = r.plan
    assert p.locator == sids.default_locator("10.0.0.2")
    assert {a.ifname: a.nh6 for a in p.adjacencies} == {"eth1": "fd01:1::2", "eth2": "fd01:3::9"}  # the setting wins
    assert r.problems == ("eth3: no global IPv6 address of the neighbour known: no End.X SID",)
    assert [x.prefix for x in p.prefixes] == ["10.20.1.0/24"]
    beh = sorted(x.behaviour for x in p.local_sids())
    assert beh == ["End", "End.DT6", "End.DX4", "End.X", "End.X"]
    # not a tail-end: no End.DX4; configured prefixes win over attached ones
    assert sidplan.plan("10.0.0.2", s, links, {}, attached).plan.prefixes == ()
    s2 = sidplan.settings({"prefixes": [{"prefix": "192.0.2.0/24", "nh4": "10.20.1.2"}]})
    assert [x.prefix for x in sidplan.plan("10.0.0.2", s2, {}, {}, attached, te_tail=True).plan.prefixes] == ["192.0.2.0/24"]
    # a LAN: two adjacencies share a local address -> indexed apart
    lan = sidplan.plan("10.0.0.2", sidplan.Srv6Settings(neighbors={"a": "fd01::2", "b": "fd01::3"}), {"a": "10.1.0.1", "b": "10.1.0.1"})
    assert sorted(a.index for a in lan.plan.adjacencies) == [0, 1]
    assert sidplan.plan(None, s, links).plan is None
    assert sidplan.plan("10.0.0.2", sidplan.Srv6Settings(enabled=False), links).problems == ("disabled in agent.srv6",)
    bad = sidplan.plan("10.0.0.2", sidplan.Srv6Settings(prefixes=(sids.Dx4Prefix("10.0.0.0/24", "1.1.1.1"), sids.Dx4Prefix("10.0.0.0/24", "1.1.1.2"))), {})
    assert bad.plan is None and "listed twice" in bad.problems[-1]


# ------------------------------------------------ flooding: advert, advertiser, TED, SidTable


def _plan(rid, adjs, prefixes=()):
    return sids.SidPlan.build(rid, adjacencies=adjs, prefixes=prefixes)


def test_node_tlvs_and_link_tlv_carry_the_sids():
    p = _plan("10.0.0.4", [sids.Adjacency("eth1", "fd01::1", "10.1.0.1")], [sids.Dx4Prefix("10.20.1.0/24", "0.0.0.0")])
    a = p.advertised()
    (t,) = advert.node_tlvs(None, "10.0.0.4", {"0.0.0.0"}, a)
    assert t == wire.SRv6Locator("10.0.0.4", "fd00:a00:4::/48", p.node.sid, (("10.20.1.0/24", p.dx4("10.20.1.0/24").sid),))
    assert advert.node_tlvs(None, "10.0.0.4", {"0.0.0.0"}) == []
    body = wire.encode([t], "experimental")
    assert wire.decode(body, "experimental") == [t]


@pytest.fixture
def cfg(tmp_path):
    p = tmp_path / "power.yml"
    p.write_text("ports:\n  eth1: {speed: 10G, power_w: 2.0}\nte_endpoint: {tail: true}\n")
    return load_power(p)


def test_advertiser_floods_end_x_and_locator_once_installed(cfg):
    from collections import Counter

    ids = iter(range(1, 100))
    stats = Counter()
    adv = Advertiser(cfg, 200, "draft", 0.0, stats, lambda: next(ids))
    s = Session("10.0.0.1", {"eth1": "10.1.0.0"}, {"10.1.0.0": "0.0.0.0"}, {("10.1.0.0", "10.1.0.1"): ("10.0.0.2", api.NsmState.FULL)}, {"0.0.0.0"})
    reqs = adv.evaluate(0.0, s, lambda i: 1e8, lambda i: 0.0, {}, {})
    first = [wire.decode(r.body) for r in reqs if isinstance(r, api.OriginateRequest)]
    assert all(t.end_x is None for b in first for t in b if isinstance(t, wire.LinkTLV))
    assert not any(isinstance(t, wire.SRv6Locator) for b in first for t in b)
    p = _plan("10.0.0.1", [sids.Adjacency("eth1", "fd01::2", "10.1.0.0")], [sids.Dx4Prefix("10.20.1.0/24", "0.0.0.0")])
    adv.srv6 = p.advertised()
    reqs = adv.evaluate(1.0, s, lambda i: 1e8, lambda i: 0.0, {}, {})
    bodies = [wire.decode(r.body) for r in reqs if isinstance(r, api.OriginateRequest)]
    links = [t for b in bodies for t in b if isinstance(t, wire.LinkTLV)]
    locs = [t for b in bodies for t in b if isinstance(t, wire.SRv6Locator)]
    assert [l.end_x for l in links] == [p.end_x("10.1.0.0").sid]  # re-originated at once
    assert locs and locs[0].end_sid == p.node.sid and dict(locs[0].dx4) == {"10.20.1.0/24": p.dx4("10.20.1.0/24").sid}
    assert any(isinstance(r, api.DeleteRequest) for r in reqs)  # make-before-break
    assert adv.evaluate(2.0, s, lambda i: 1e8, lambda i: 0.0, {}, {}) == []  # nothing new


def test_ted_learns_sids_and_builds_a_sid_list(cfg):
    ted = TED("0.0.0.0")
    pa = _plan("10.0.0.1", [sids.Adjacency("e1", "fd01::2", "10.1.0.0")])
    pb = _plan("10.0.0.2", [sids.Adjacency("e1", "fd01::1", "10.1.0.1")], [sids.Dx4Prefix("10.20.1.0/24", "0.0.0.0")])
    for p, (rid, nbr, loc, rem) in ((pa, ("10.0.0.1", "10.0.0.2", "10.1.0.0", "10.1.0.1")), (pb, ("10.0.0.2", "10.0.0.1", "10.1.0.1", "10.1.0.0"))):
        a = p.advertised()
        link = wire.LinkTLV(nbr, local_addrs=(loc,), remote_addrs=(rem,), pwr_consumed=1.0, pwr_available=1.0, end_x=a["end_x"][loc])
        assert ted.apply(rid, "200.0.0.1", wire.encode([link]))
        assert ted.apply(rid, "200.0.0.2", wire.encode(advert.node_tlvs(None, rid, {"0.0.0.0"}, a)))
    assert ted.srv6()["10.0.0.2"] == (str(pb.locator), pb.node.sid, {"10.20.1.0/24": pb.dx4("10.20.1.0/24").sid})
    assert ted.end_x() == {("10.0.0.1", "10.1.0.0"): pa.end_x("10.1.0.0").sid, ("10.0.0.2", "10.1.0.1"): pb.end_x("10.1.0.1").sid}
    t = sidlist.SidTable.of(ted.sid_adverts())
    assert t.end_x_of("10.0.0.1", "10.1.0.0") == pa.end_x("10.1.0.0").sid and t.dx4_of("10.0.0.2", "10.20.1.0/24") == pb.dx4("10.20.1.0/24").sid
    # the core's table adds End.DT6 (derived from the locator)
    core = AgentCore(cfg)
    core.teds["0.0.0.0"] = ted
    ct = core.sid_table()
    assert ct.dt6_of("10.0.0.2") == pb.dt6.sid and ct.end_x == t.end_x
    # built once per TED generation: every LSP set-up and probe reads it
    assert core.sid_table() is ct and core.sid_table("0.0.0.0") is not ct
    pc = _plan("10.0.0.2", [sids.Adjacency("e1", "fd01::1", "10.1.0.1")], [sids.Dx4Prefix("10.20.2.0/24", "0.0.0.0")])
    assert ted.apply("10.0.0.2", "200.0.0.2", wire.encode(advert.node_tlvs(None, "10.0.0.2", {"0.0.0.0"}, pc.advertised())))
    assert core.sid_table().dx4_of("10.0.0.2", "10.20.2.0/24") == pc.dx4("10.20.2.0/24").sid
    core.teds["0.0.0.1"] = TED("0.0.0.1")
    assert core.sid_table("0.0.0.1").end_x == {}
    del core.teds["0.0.0.1"]
    assert core.sid_table().dx4_of("10.0.0.2", "10.20.2.0/24") == pc.dx4("10.20.2.0/24").sid
    sl = sidlist.build([("10.0.0.1", "10.0.0.2", "10.1.0.0")], ct, "10.20.1.0/24")
    assert list(sl.segs) == [pa.end_x("10.1.0.0").sid, pb.dx4("10.20.1.0/24").sid]
    # core.set_srv6: flood once, then nothing while unchanged
    assert core.set_srv6(None, {"enabled": False}, 0.0) == []
    core.set_srv6(pa.advertised(), {"enabled": True}, 0.0)
    assert core.adv.srv6 == pa.advertised() and core.srv6_status == {"enabled": True}


class _FakeIpr:
    def link_lookup(self, ifname):
        return []


class _FakeNl:
    def __init__(self, netns=None):
        self.ipr = _FakeIpr()

    def check_sysctls(self, ifnames, failover=True):
        return [("net.ipv6.conf.all.seg6_enabled", "1", None)]

    def close(self):
        pass


def test_a_node_without_seg6_runs_without_srv6():
    n = Srv6Node(sidplan.Srv6Settings(), ["eth1"], netlink=_FakeNl)
    assert n.start("10.0.0.1") is False
    st = n.status()
    assert not st["enabled"] and "no IPv6 / seg6 support" in st["disabled"] and st["stats"]["srv6_disabled"] == 1
    assert n.advertised() is None and n.sync() is False and n.stop() == 0
    n = Srv6Node(sidplan.Srv6Settings(enabled=False), ["eth1"], netlink=_FakeNl)
    assert n.start("10.0.0.1") is False and n.status()["disabled"] == "disabled in agent.srv6"


# ------------------------------------------------------------- real kernel

NS_A, NS_B = "h13-s6a", "h13-s6b"


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True).stdout


def _cleanup():
    have = set(sh("ip", "netns", "list").split())
    for n in (NS_A, NS_B):
        if n in have:
            sh("ip", "netns", "del", n, check=False)


def _add_end_sid(ns, dev):
    """iproute2 adding one seg6local End route (the kernel's own answer to: SRv6 here?)."""
    return subprocess.run(
        ["ip", "-n", ns, "-6", "route", "add", "fd00:a00:1:99::/128", "encap", "seg6local", "action", "End", "dev", dev], capture_output=True, text=True
    )


def _routes(ns):
    return [l for l in sh("ip", "-n", ns, "-6", "route", "show", "table", "254").splitlines() if "seg6local" in l]


@pytest.mark.frr
@pytest.mark.srv6_kernel
def test_srv6_shell_installs_and_removes_exactly_its_sids():
    from pyfrr_pwr.dataplane.netlink import Netlink

    _cleanup()
    try:
        for n in (NS_A, NS_B):
            sh("ip", "netns", "add", n)
            sh("ip", "netns", "exec", n, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0")
            sh("ip", "-n", n, "link", "set", "lo", "up")
        sh("ip", "link", "add", "eth1", "netns", NS_A, "type", "veth", "peer", "name", "eth1", "netns", NS_B)
        sh("ip", "link", "add", "h1", "netns", NS_A, "type", "veth", "peer", "name", "eth0", "netns", NS_B)
        for ns, a4, a6 in ((NS_A, "10.1.0.0/31", "fd01:1::1/64"), (NS_B, "10.1.0.1/31", "fd01:1::2/64")):
            sh("ip", "-n", ns, "addr", "add", a4, "dev", "eth1")
            sh("ip", "-n", ns, "addr", "add", a6, "dev", "eth1")
            sh("ip", "-n", ns, "link", "set", "eth1", "up")
        sh("ip", "-n", NS_A, "addr", "add", "10.20.1.1/24", "dev", "h1")
        sh("ip", "-n", NS_A, "link", "set", "h1", "up")
        sh("ip", "-n", NS_B, "link", "set", "eth0", "up")
        rid = "10.0.0.1"
        loc = sids.default_locator(rid)
        with Netlink(NS_A) as nl:
            nl.ensure_sid_device(sids.node_address(loc), loc.prefixlen)
        # someone else's seg6local route: must survive
        sh("ip", "-n", NS_A, "-6", "route", "add", "fd00:a00:1:99::/128", "encap", "seg6local", "action", "End", "dev", "sr0", "proto", "static")

        node = Srv6Node(sidplan.Srv6Settings(), ["eth1"], te_tail=True, netns=NS_A, name="h13")
        assert node.start(rid), node.status()
        st = node.status()
        assert st["enabled"] and st["locator"] == str(loc) and st["sids_installed"] == 4, st
        p = node.plan
        want = {s.sid for s in p.local_sids()}
        assert {s.sid for s in node.installed()} == want
        routes = _routes(NS_A)
        assert any(f"{p.end_x('10.1.0.0').sid} " in r and "End.X nh6 fd01:1::2" in r for r in routes), routes
        assert any(f"{p.dx4('10.20.1.0/24').sid} " in r and "End.DX4" in r for r in routes), routes
        a = node.advertised()
        assert a["end_x"] == {"10.1.0.0": p.end_x("10.1.0.0").sid} and list(a["dx4"]) == ["10.20.1.0/24"]
        # link event: admin-down flushes the End.X SID, sync puts it back after link-up
        sh("ip", "-n", NS_A, "link", "set", "eth1", "down")
        wait_for(lambda: not any("End.X" in r for r in _routes(NS_A)), 5, "the kernel to flush End.X", step=0.01)
        assert node.sync() is False  # the advertisement does not flap
        sh("ip", "-n", NS_A, "link", "set", "eth1", "up")

        def reinstalled():  # sync puts it back once the kernel accepts routes on eth1 again
            node.sync()
            return any("End.X" in r for r in _routes(NS_A))

        wait_for(reinstalled, 5, "End.X reinstalled", step=0.01)
        assert node.status()["stats"].get("srv6_reinstalled", 0) >= 1
        # a restarted agent adopts the SIDs of the one before
        assert node.stop() == 4
        left = _routes(NS_A)
        assert len(left) == 1 and "fd00:a00:1:99::" in left[0], left
        node2 = Srv6Node(sidplan.Srv6Settings(), ["eth1"], te_tail=True, netns=NS_A)
        assert node2.start(rid) and node2.stop() == 4
        assert len(_routes(NS_A)) == 1
        # no SID device: runs without SRv6
        node3 = Srv6Node(sidplan.Srv6Settings(sid_dev="nosuch"), ["eth1"], netns=NS_A)
        assert node3.start(rid) is False and "no SID device nosuch" in node3.status()["disabled"]
        assert ipaddress.IPv6Network(st["locator"]) == loc
    finally:
        _cleanup()
        assert not set(sh("ip", "netns", "list").split()) & {NS_A, NS_B}


def test_status_and_show_ted_report_srv6(cfg):
    from pyfrr_pwr.agent import control
    from pyfrr_pwr.proto import control as msg

    core = AgentCore(cfg)
    assert control.answer(core, msg.Status()).result["srv6"] is None  # not started
    core.set_srv6(None, {"enabled": False, "disabled": "no SID device sr0", "sids_installed": 0, "problems": []}, 0.0)
    st = control.answer(core, msg.Status()).result["srv6"]
    assert st["disabled"] == "no SID device sr0" and st["sids_installed"] == 0
    p = _plan("10.0.0.2", [], [sids.Dx4Prefix("10.20.1.0/24", "0.0.0.0")])
    core.ted("0.0.0.0").apply("10.0.0.2", "200.0.0.1", wire.encode(advert.node_tlvs(None, "10.0.0.2", {"0.0.0.0"}, p.advertised())))
    (a,) = core.show_ted()["0.0.0.0"]["srv6"]
    assert a["locator"] == str(p.locator) and a["dx4"] == {"10.20.1.0/24": p.dx4("10.20.1.0/24").sid}


def test_head_end_lsp_plan_and_fake_install(cfg):
    from pyfrr_pwr.agent import lsps

    core = AgentCore(cfg)
    ted = core.ted("0.0.0.0")
    rids = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    addrs = {("10.0.0.1", "10.0.0.2"): ("10.1.0.0", "10.1.0.1"), ("10.0.0.2", "10.0.0.3"): ("10.1.1.0", "10.1.1.1")}
    ends: dict = {r: [] for r in rids}
    for (u, v), (au, av) in addrs.items():
        ends[u].append((v, au, av))
        ends[v].append((u, av, au))
    plans = {}
    for r in rids:
        pf = [sids.Dx4Prefix("10.20.3.0/24", "0.0.0.0")] if r == "10.0.0.3" else []
        plans[r] = p = _plan(r, [sids.Adjacency(f"e{i}", f"fd01::{i + 1}", loc) for i, (_, loc, _) in enumerate(ends[r])], pf)
        a = p.advertised()
        for i, (nbr, loc, rem) in enumerate(ends[r]):
            t = wire.LinkTLV(nbr, local_addrs=(loc,), remote_addrs=(rem,), pwr_consumed=1.0, pwr_available=1.0, end_x=a["end_x"][loc])
            ted.apply(r, f"200.0.{i}.1", wire.encode([t]))
        ted.apply(r, "200.1.0.1", wire.encode(advert.node_tlvs(None, r, {"0.0.0.0"}, a)))
    table = core.sid_table()
    lsp = lsps.plan_lsp("10.0.0.1/1", rids, core.teds, table)
    assert lsp.prefixes == ("10.20.3.0/24",)  # the tail's TE prefix by default
    assert lsp.segs == (plans["10.0.0.1"].end_x("10.1.0.0").sid, plans["10.0.0.2"].end_x("10.1.1.0").sid, plans["10.0.0.3"].dx4("10.20.3.0/24").sid)
    with pytest.raises(lsps.LspError, match="no single area"):
        lsps.plan_lsp("x", ["10.0.0.1", "10.9.9.9"], core.teds, table)
    with pytest.raises(lsps.LspError, match="End.DX4"):
        lsps.plan_lsp("x", rids, core.teds, table, prefixes=["192.0.2.0/24"])

    class Nl:
        def __init__(self):
            self.routes = {}

        def ifname_of(self, a):
            return {"10.1.0.0": "eth1"}[a]

        def add_encap(self, p, segs, dev):
            self.routes[p] = (tuple(segs), dev)

        def remove_encap(self, p):
            return self.routes.pop(p, None) is not None

    nl = Nl()
    he = lsps.HeadEnds(nl)
    he.setup(lsp, table)
    assert nl.routes == {"10.20.3.0/24": (lsp.segs, "eth1")}
    assert he.show()[0]["installed"] == ["10.20.3.0/24"]
    assert he.release("10.0.0.1/1") == 1 and nl.routes == {} and he.show() == []


@pytest.mark.frr
def test_a_kernel_without_srv6_tunnels_is_named_not_left_to_each_sid():
    """Some kernels have IPv6's seg6 sysctls but no SRv6 lightweight tunnels
    (CONFIG_IPV6_SEG6_LWTUNNEL unset): every SID and encap route is refused
    with EOPNOTSUPP. The shell then runs without SRv6 and says that once,
    and a route refused so says which kernel option is missing; on a kernel
    with them, the same shell starts."""
    from pyfrr_pwr.dataplane.netlink import NO_SEG6_LWT, Netlink, NetlinkError

    _cleanup()
    try:
        sh("ip", "netns", "add", NS_A)
        sh("ip", "-n", NS_A, "link", "set", "lo", "up")
        sh("ip", "link", "add", "eth1", "netns", NS_A, "type", "veth", "peer", "name", "p1", "netns", NS_A)
        sh("ip", "-n", NS_A, "addr", "add", "10.1.0.0/31", "dev", "eth1")
        for d in ("eth1", "p1"):
            sh("ip", "-n", NS_A, "link", "set", d, "up")
        rid = "10.0.0.1"
        loc = sids.default_locator(rid)
        with Netlink(NS_A) as nl:
            nl.ensure_sid_device(sids.node_address(loc), loc.prefixlen)
        probe = _add_end_sid(NS_A, "sr0")
        node = Srv6Node(sidplan.Srv6Settings(), ["eth1"], netns=NS_A, name="h13")
        started = node.start(rid)
        if probe.returncode == 0:
            assert started and node.status()["sids_installed"] >= 1, node.status()
            node.stop()
            return
        assert "not supported" in probe.stderr, probe.stderr
        assert started is False and node.status()["disabled"] == NO_SEG6_LWT, node.status()
        assert node.installed() == []
        with Netlink(NS_A) as nl, pytest.raises(NetlinkError, match="CONFIG_IPV6_SEG6_LWTUNNEL"):
            nl.add_sid(node.plan.node)
    finally:
        _cleanup()


@pytest.mark.frr
def test_the_seg6_probe_answers_what_the_kernel_does_and_leaves_no_namespace():
    """``seg6_lwtunnels`` (the ``srv6_kernel`` marker's and an operator's
    question: does this kernel install SRv6 routes?) agrees with iproute2
    adding a seg6local route, and removes the namespace it probed in."""
    from pyfrr_pwr.dataplane.netlink import seg6_lwtunnels

    before = sh("ip", "netns", "list")
    got = seg6_lwtunnels()
    assert sh("ip", "netns", "list") == before
    _cleanup()
    try:
        sh("ip", "netns", "add", NS_A)
        sh("ip", "-n", NS_A, "link", "set", "lo", "up")
        r = _add_end_sid(NS_A, "lo")
        assert got == (r.returncode == 0), r.stderr
    finally:
        _cleanup()
