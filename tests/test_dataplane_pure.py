"""The data plane's pure cores: SID plans, SID lists (pinning, compression,
binding-SID splitting), the LSP state machine and transit soft state."""

import ipaddress
import itertools
import math

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from pyfrr_pwr.dataplane import lsp as L
from pyfrr_pwr.dataplane import sidlist, sids
from pyfrr_pwr.dataplane.sidlist import SidListError, SidTable
from pyfrr_pwr.dataplane.sids import SidError, SidPlan
from pyfrr_pwr.dataplane.softstate import SoftState
from pyfrr_pwr.model.ted import TED
from pyfrr_pwr.paths.ksp import k_shortest_paths
from pyfrr_pwr.proto import wire

# -- SID plans ------------------------------------------------------------------


def test_default_locator_carries_the_router_id():
    assert str(sids.default_locator("10.0.0.2")) == "fd00:a00:2::/48"
    assert str(sids.default_locator("192.168.255.1")) == "fd00:c0a8:ff01::/48"
    assert str(sids.default_locator("10.0.0.2", block="5f00::/16")) == "5f00:a00:2::/48"
    # deterministic and distinct per router ID
    assert sids.default_locator("10.0.0.2") == sids.default_locator("10.0.0.2") != sids.default_locator("10.0.0.3")


def test_sid_numbering():
    loc = "fd00:a00:1::/48"
    assert sids.node_address(loc) == "fd00:a00:1::1"
    assert sids.end_sid(loc) == "fd00:a00:1:1::"
    assert sids.dt6_sid(loc) == "fd00:a00:1:6::"
    assert sids.end_x_sid(loc, "10.1.2.1") == "fd00:a00:1:2::a01:201"
    assert sids.end_x_sid(loc, "10.1.2.1", index=3) == "fd00:a00:1:2:3:0:a01:201"
    assert sids.dx4_sid(loc, "192.168.4.0/24") == "fd00:a00:1:4:0:18:c0a8:400"
    assert sids.dx4_sid(loc, "192.168.4.2/32") == "fd00:a00:1:4:0:20:c0a8:402"
    assert sids.binding_sid(loc, "10.0.0.9", 7) == "fd00:a00:1:b6:a00:9:0:7"
    # a shorter configured locator leaves zero bits before the function
    assert sids.end_sid("2001:db8::/32") == "2001:db8:0:1::"


def test_configured_locator_overrides_the_derived_one():
    p = SidPlan.build("10.0.0.1", locator="2001:db8:77::/48")
    assert str(p.locator) == "2001:db8:77::/48" and p.configured
    assert p.node.sid == "2001:db8:77:1::"
    assert not SidPlan.build("10.0.0.1").configured


@pytest.mark.parametrize(
    "locator, words",
    [
        ("fd00:1::/64", "must be /16 to /48"),
        ("fd00:1::1/48", "zero host bits"),
        ("fe80::/16", "not global or unique-local"),
        ("ff02::/16", "not global or unique-local"),
        ("10.0.0.0/8", "not an IPv6 prefix"),
        ("fd00::/8", "must be /16 to /48"),
    ],
)
def test_bad_locators_are_named(locator, words):
    with pytest.raises(SidError, match=words) as e:
        SidPlan.build("10.0.0.1", locator=locator)
    assert locator.split("/")[0] in str(e.value) or "fd00" in str(e.value) or locator in str(e.value)


def test_plan_validation_names_what_is_wrong():
    with pytest.raises(SidError, match="router ID 'ten' is not a dotted-quad"):
        SidPlan.build("ten")
    with pytest.raises(SidError, match="router ID 0.0.0.0"):
        SidPlan.build("0.0.0.0")
    with pytest.raises(SidError, match="adjacency eth1: End.X next hop fe80::2 is link-local"):
        SidPlan.build("10.0.0.1", adjacencies=[dict(ifname="eth1", nh6="fe80::2", local="10.1.2.1")])
    with pytest.raises(SidError, match="adjacency eth1: local address '10.1.2' is not an IPv4 address"):
        SidPlan.build("10.0.0.1", adjacencies=[dict(ifname="eth1", nh6="fd01::2", local="10.1.2")])
    with pytest.raises(SidError, match="adjacency interface name 'a very long interface' is not"):
        SidPlan.build("10.0.0.1", adjacencies=[dict(ifname="a very long interface", nh6="fd01::2", local="10.1.2.1")])
    with pytest.raises(SidError, match="adjacencies eth1 and eth2 share local address 10.1.2.1 and index 0"):
        SidPlan.build("10.0.0.1", adjacencies=[dict(ifname="eth1", nh6="fd01::2", local="10.1.2.1"), dict(ifname="eth2", nh6="fd01::3", local="10.1.2.1")])
    with pytest.raises(SidError, match="prefix 192.0.2.0/24 is listed twice"):
        SidPlan.build("10.0.0.1", prefixes=[dict(prefix="192.0.2.0/24", nh4="192.0.2.1"), dict(prefix="192.0.2.0/24", nh4="192.0.2.2")])
    with pytest.raises(SidError, match="End.DX4 prefix '192.0.2.1/24' is not an IPv4 prefix with zero host bits"):
        SidPlan.build("10.0.0.1", prefixes=[dict(prefix="192.0.2.1/24", nh4="192.0.2.1")])
    with pytest.raises(SidError, match="LSP ID -1 must be a 32-bit"):
        SidPlan.build("10.0.0.1").binding("10.0.0.2", -1, ["fd00::1"])
    # a LAN: two adjacencies on one address are fine with distinct indexes
    p = SidPlan.build(
        "10.0.0.1", adjacencies=[dict(ifname="eth1", nh6="fd01::2", local="10.1.2.1"), dict(ifname="eth1", nh6="fd01::3", local="10.1.2.1", index=1)]
    )
    assert len({s.sid for s in p.local_sids()}) == len(p.local_sids())


def plan_a():
    return SidPlan.build(
        "10.0.0.1",
        adjacencies=[dict(ifname="ab", nh6="fd01:12::2", local="10.1.2.1"), dict(ifname="ad", nh6="fd01:14::4", local="10.1.4.1")],
        prefixes=[dict(prefix="192.168.1.0/24", nh4="192.168.1.2")],
    )


def test_local_sids_and_lookups():
    p = plan_a()
    got = {(s.behaviour, s.dev, s.nh6, s.nh4) for s in p.local_sids()}
    assert got == {
        ("End", "sr0", None, None),
        ("End.DT6", "sr0", None, None),
        ("End.X", "ab", "fd01:12::2", None),
        ("End.X", "ad", "fd01:14::4", None),
        ("End.DX4", "sr0", None, "192.168.1.2"),
    }
    assert p.end_x("10.1.2.1") == p.end_x(ifname="ab") == p.end_x(nh6="fd01:12:0::2")
    assert p.end_x(ifname="ab").sid == "fd00:a00:1:2::a01:201"
    with pytest.raises(SidError, match="router 10.0.0.1 has no adjacency with ifname eth9"):
        p.end_x(ifname="eth9")
    with pytest.raises(SidError, match="serves no prefix 10.9.0.0/16"):
        p.dx4("10.9.0.0/16")
    b = p.binding("10.0.0.7", 12, ["fd00::1", "fd00::2"])
    assert (b.behaviour, b.segs, b.key) == ("End.B6.Encaps", ("fd00::1", "fd00::2"), ("10.0.0.7", 12))
    assert sids.decode_sid(b.sid, p.locator) == ("End.B6.Encaps", {"head": "10.0.0.7", "lsp_id": 12})
    adv = p.advertised()
    assert adv["end_x"] == {"10.1.2.1": "fd00:a00:1:2::a01:201", "10.1.4.1": "fd00:a00:1:2::a01:401"}
    t = SidTable.of([adv])
    assert t.end_x_of("10.0.0.1", "10.1.4.1") == "fd00:a00:1:2::a01:401"
    assert t.owner("fd00:a00:1:2::a01:401") == "10.0.0.1"


@given(
    plen=st.sampled_from([16, 24, 32, 40, 48]),
    base=st.integers(0, 2**128 - 1),
    local=st.integers(1, 2**32 - 1),
    index=st.integers(0, 0xFFFF),
    plen4=st.integers(0, 32),
    head=st.integers(1, 2**32 - 1),
    lsp_id=st.integers(0, 2**32 - 1),
)
def test_decode_inverts_encode(plen, base, local, index, plen4, head, lsp_id):
    value = (0xFD00 << 112) | (base >> 16) & ~((1 << (128 - plen)) - 1) & ((1 << 112) - 1)
    loc = ipaddress.IPv6Network((value, plen))
    local = str(ipaddress.IPv4Address(local))
    prefix = str(ipaddress.IPv4Network((local, plen4), strict=False))
    head = str(ipaddress.IPv4Address(head))
    assert sids.decode_sid(sids.end_sid(loc), loc) == ("End", {})
    assert sids.decode_sid(sids.dt6_sid(loc), loc) == ("End.DT6", {})
    assert sids.decode_sid(sids.end_x_sid(loc, local, index), loc) == ("End.X", {"index": index, "local": local})
    assert sids.decode_sid(sids.dx4_sid(loc, prefix), loc) == ("End.DX4", {"prefix": prefix})
    assert sids.decode_sid(sids.binding_sid(loc, head, lsp_id), loc) == ("End.B6.Encaps", {"head": head, "lsp_id": lsp_id})
    with pytest.raises(SidError):
        sids.decode_sid(sids.node_address(loc), loc)  # function 0: not a SID


def test_decode_refuses_foreign_sids():
    with pytest.raises(SidError, match="not in locator fd00:a00:1::/48"):
        sids.decode_sid("fd00:a00:2:1::", "fd00:a00:1::/48")
    with pytest.raises(SidError, match="unknown function 0x99"):
        sids.decode_sid("fd00:a00:1:99::", "fd00:a00:1::/48")


# -- SID lists --------------------------------------------------------------------

R = {n: f"10.0.0.{i}" for i, n in enumerate("abcdefghij", 1)}


def rid_index(rid):
    return int(rid.split(".")[-1])


class Net:
    """A graph of routers 10.0.0.i with links keyed by local IPv4 addresses,
    plans for each router and a tail prefix at each."""

    def __init__(self, links, weights=None):
        self.G = nx.MultiDiGraph()
        self.adj = {}
        n = 0
        for (u, v), w in zip(links, weights or [1] * len(links)):
            n += 1
            ku, kv = f"10.{n}.{rid_index(u)}.1", f"10.{n}.{rid_index(v)}.2"
            self.G.add_edge(u, v, key=ku, weight=w)
            self.G.add_edge(v, u, key=kv, weight=w)
            self.adj.setdefault(u, []).append(sids.Adjacency(f"e{n}", f"fd01:{n:x}::2", ku))
            self.adj.setdefault(v, []).append(sids.Adjacency(f"e{n}", f"fd01:{n:x}::1", kv))
        self.plans = {
            r: SidPlan.build(r, adjacencies=self.adj.get(r, ()), prefixes=[sids.Dx4Prefix(f"192.168.{rid_index(r)}.0/24", f"192.168.{rid_index(r)}.2")])
            for r in self.G.nodes
        }
        self.table = SidTable.of(self.plans.values())

    def prefix(self, r):
        return f"192.168.{rid_index(r)}.0/24"

    def path(self, *names):
        """Edges along routers (first parallel link when several)."""
        rs = [R[n] if n in R else n for n in names]
        return [(u, v, next(iter(self.G[u][v]))) for u, v in zip(rs, rs[1:])]


def line(n):
    names = "abcdefghij"[:n]
    return Net([(R[x], R[y]) for x, y in zip(names, names[1:])])


def test_each_hop_is_pinned_by_its_end_x_sid_and_the_tail_decapsulates():
    net = line(4)
    p = net.path("a", "b", "c", "d")
    sl = sidlist.build(p, net.table, net.prefix(R["d"]))
    assert sl.segs == (*(net.plans[u].end_x(k).sid for u, _, k in p), net.plans[R["d"]].dx4(net.prefix(R["d"])).sid)
    assert sl.depth == 4 and sl.bindings == () and sl.first_hop == p[0] and sl.expands_at is None


def test_parallel_links_get_their_own_sids():
    net = Net([(R["a"], R["b"]), (R["a"], R["b"])])
    keys = list(net.G[R["a"]][R["b"]])
    assert len(keys) == 2
    s1 = sidlist.build([(R["a"], R["b"], keys[0])], net.table, net.prefix(R["b"])).segs
    s2 = sidlist.build([(R["a"], R["b"], keys[1])], net.table, net.prefix(R["b"])).segs
    assert s1[0] != s2[0] and s1[1] == s2[1]


def test_missing_sids_are_named():
    net = line(3)
    del net.table.end_x[(R["b"], net.path("b", "c")[0][2])]
    with pytest.raises(SidListError, match=r"^no End.X SID advertised by 10.0.0.2 for link 10.2.2.1$"):
        sidlist.build(net.path("a", "b", "c"), net.table, net.prefix(R["c"]))
    with pytest.raises(SidListError, match="no End.DX4 SID advertised by 10.0.0.2 for 10.9.0.0/16"):
        sidlist.build(net.path("a", "b"), net.table, "10.9.0.0/16")
    with pytest.raises(SidListError, match="path breaks at edge 1"):
        sidlist.build([net.path("a", "b")[0], net.path("a", "b")[0]], net.table, net.prefix(R["b"]))
    with pytest.raises(SidListError, match="empty path"):
        sidlist.build([], net.table, net.prefix(R["b"]))
    with pytest.raises(SidListError, match="compress=True needs the IGP graph"):
        sidlist.build(net.path("a", "b"), net.table, net.prefix(R["b"]), compress=True)


def test_from_a_ted_graph_and_ksp_path():
    """The interface the agent will use: TED graph -> ksp.Path -> SID list."""

    def link(nbr, local, remote):
        return wire.LinkTLV(link_id=nbr, local_addrs=(local,), remote_addrs=(remote,), avail_bw=1e9, max_bw=1.25e9, pwr_consumed=1.0)

    t = TED("0.0.0.0")
    ends = [("10.0.0.1", "10.0.0.2", "10.1.2.1", "10.1.2.2"), ("10.0.0.2", "10.0.0.3", "10.2.3.2", "10.2.3.3")]
    for i, (u, v, lu, lv) in enumerate(ends):
        t.apply(u, f"200.0.0.{i}", wire.encode([link(v, lu, lv)]))
        t.apply(v, f"200.0.1.{i}", wire.encode([link(u, lv, lu)]))
    G = t.graph()
    path = k_shortest_paths(G, "10.0.0.1", "10.0.0.3", 1)[0]
    plans = [
        SidPlan.build("10.0.0.1", adjacencies=[dict(ifname="ab", nh6="fd01:12::2", local="10.1.2.1")]),
        SidPlan.build("10.0.0.2", adjacencies=[dict(ifname="bc", nh6="fd01:23::3", local="10.2.3.2")]),
        SidPlan.build("10.0.0.3", prefixes=[dict(prefix="192.168.3.0/24", nh4="192.168.3.2")]),
    ]
    sl = sidlist.build(path, SidTable.of(plans), "192.168.3.0/24")
    assert sl.segs == ("fd00:a00:1:2::a01:201", "fd00:a00:2:2::a02:302", "fd00:a00:3:4:0:18:c0a8:300")


def test_a_table_derived_from_the_graph_matches_the_plans():
    net = line(4)
    d = SidTable.derived(net.G, {R["d"]: [net.prefix(R["d"])]})
    assert d.end_x == net.table.end_x and d.locators == net.table.locators and d.dt6 == net.table.dt6
    assert d.dx4 == {k: v for k, v in net.table.dx4.items() if k[0] == R["d"]}


def test_compression_drops_runs_the_igp_agrees_with():
    # the netlink tests' square a-b-c-d-a with a diagonal b-d: b->c->d is not
    # the IGP's way from b to d, and a->c ties over b and over d
    net = Net([(R["a"], R["b"]), (R["b"], R["c"]), (R["c"], R["d"]), (R["b"], R["d"]), (R["a"], R["d"])])
    p = net.path("a", "b", "c", "d")
    full = sidlist.build(p, net.table, net.prefix(R["d"]))
    comp = sidlist.build(p, net.table, net.prefix(R["d"]), igp=net.G, compress=True)
    xb = net.plans[R["b"]].end_x(p[1][2]).sid
    assert full.depth == 4
    assert comp.segs == (xb, full.segs[-1])  # a->b and c->d are the IGP's
    # without a-d, a->b->c is the IGP's unique way: only c's End.X is left
    net1 = Net([(R["a"], R["b"]), (R["b"], R["c"]), (R["c"], R["d"]), (R["b"], R["d"])])
    p1 = net1.path("a", "b", "c", "d")
    assert sidlist.build(p1, net1.table, net1.prefix(R["d"]), igp=net1.G, compress=True).segs == (net1.plans[R["c"]].end_x(p1[2][2]).sid, full.segs[-1])
    # equal-cost alternatives keep an End.X SID: a-b-c and a-e-c tie, so b's stays
    net2 = Net([(R["a"], R["b"]), (R["b"], R["c"]), (R["a"], R["e"]), (R["e"], R["c"])])
    p2 = net2.path("a", "b", "c")
    assert sidlist.build(p2, net2.table, net2.prefix(R["c"]), igp=net2.G, compress=True).segs == (
        net2.plans[R["b"]].end_x(p2[1][2]).sid,
        net2.table.dx4_of(R["c"], net2.prefix(R["c"])),
    )
    # parallel links of equal cost tie too: nothing is dropped
    net3 = Net([(R["a"], R["b"]), (R["a"], R["b"])])
    p3 = net3.path("a", "b")
    assert sidlist.build(p3, net3.table, net3.prefix(R["b"]), igp=net3.G, compress=True).depth == 2


def test_too_deep_splits_at_an_abr_into_a_binding_sid():
    net = line(7)  # a..g, 6 hops: 7 segments
    p = net.path(*"abcdefg")
    T, head = R["g"], R["a"]
    X = [net.plans[u].end_x(k).sid for u, _, k in p]
    DX4 = net.table.dx4_of(T, net.prefix(T))
    DT6 = net.table.dt6_of(T)
    sl = sidlist.build(p, net.table, net.prefix(T), lsp_id=5, max_depth=4, abrs={R["c"], R["d"], R["e"]})
    # the head reaches the farthest ABR its 4 segments allow: c (2 hops + B + DX4)
    Bc = sids.binding_sid(net.plans[R["c"]].locator, head, 5)
    Be = sids.binding_sid(net.plans[R["e"]].locator, head, 5)
    assert sl.segs == (X[0], X[1], Bc, DX4)
    assert [b.router for b in sl.bindings] == [R["c"], R["e"]]
    assert sl.bindings[0].segs == (X[2], X[3], Be, DT6) and sl.bindings[0].sid == Bc
    assert sl.bindings[1].segs == (X[4], X[5], DT6) and sl.bindings[1].edges == tuple(p[4:])
    # the ABR's plan names the same SID
    assert net.plans[R["c"]].binding(head, 5, sl.bindings[0].segs).sid == Bc
    # without ABRs in reach the error says so
    with pytest.raises(SidListError, match=r"SID list from 10.0.0.1 needs 7 segments \(max depth 4\) and there is no ABR further on the path to split at"):
        sidlist.build(p, net.table, net.prefix(T), lsp_id=5, max_depth=4)
    with pytest.raises(SidListError, match="no ABR on the path within reach to split at"):
        sidlist.build(p, net.table, net.prefix(T), lsp_id=5, max_depth=4, abrs={R["f"]})
    with pytest.raises(SidListError, match="a binding SID at 10.0.0.3 needs the LSP ID"):
        sidlist.build(p, net.table, net.prefix(T), max_depth=4, abrs={R["c"]})
    # deep enough: no split even with ABRs about
    assert sidlist.build(p, net.table, net.prefix(T), lsp_id=5, abrs={R["c"]}).bindings == ()


def test_inter_area_head_end_list_ends_at_the_abr_that_expands():
    net = line(5)
    T = R["e"]
    head_part = net.path("a", "b", "c")  # c is the ABR; c-d-e is its area
    sl = sidlist.build(head_part, net.table, net.prefix(T), tail=T, lsp_id=9)
    Bc = sids.binding_sid(net.plans[R["c"]].locator, R["a"], 9)
    assert sl.segs[-2:] == (Bc, net.table.dx4_of(T, net.prefix(T))) and sl.expands_at == R["c"]
    # the ABR expands its own segment into its binding SID's list
    abr = sidlist.build(net.path("c", "d", "e"), net.table, net.prefix(T), head=R["a"], lsp_id=9, binding=True)
    assert abr.segs[-1] == net.table.dt6_of(T) and abr.bindings == ()


# Forwarding simulator: the oracle for pinning, compression and splitting.


def all_igp_shortest(G, u, w):
    """Every least-cost edge path u -> w (brute force over simple paths)."""
    if u == w:
        return [[]]
    best, paths = math.inf, []
    for nodes in nx.all_simple_paths(nx.DiGraph(G), u, w):
        for keys in itertools.product(*[list(G[a][b]) for a, b in zip(nodes, nodes[1:])]):
            es = [(a, b, k) for (a, b), k in zip(zip(nodes, nodes[1:]), keys)]
            c = sum(G[a][b][k]["weight"] for a, b, k in es)
            if c < best - 1e-9:
                best, paths = c, [es]
            elif abs(c - best) <= 1e-9:
                paths.append(es)
    return paths


def simulate(net, segs, start, bindings):
    """Links a packet crosses: each segment is routed by the IGP (which must
    be unambiguous) to its owner, which executes it."""
    by_sid = {b.sid: b for b in bindings}
    at, crossed = start, []
    for s in segs:
        owner = net.table.owner(s)
        ways = all_igp_shortest(net.G, at, owner)
        assert len(ways) == 1, f"segment {s}: the IGP has {len(ways)} ways from {at} to {owner}"
        crossed += ways[0]
        at = owner
        behaviour, f = sids.decode_sid(s, net.table.locators[owner])
        if behaviour == "End.X":
            (edge,) = [(at, v, k) for v, ks in net.G[at].items() for k in ks if k == f["local"]]
            crossed.append(edge)
            at = edge[1]
        elif behaviour == "End.B6.Encaps":
            sub, at = simulate(net, by_sid[s].segs, at, bindings)
            crossed += sub
        elif behaviour == "End.DT6":
            return crossed, at  # this layer ends; the inner header carries on
        elif behaviour == "End.DX4":
            return crossed, at
    return crossed, at


@st.composite
def nets_and_paths(draw):
    n = draw(st.integers(3, 6))
    names = list(R.values())[:n]
    pairs = [(names[i], names[i + 1]) for i in range(n - 1)]  # connected
    pairs += draw(st.lists(st.sampled_from([(a, b) for a, b in itertools.combinations(names, 2)]), max_size=4))
    weights = draw(st.lists(st.integers(1, 3), min_size=len(pairs), max_size=len(pairs)))
    net = Net(pairs, weights)
    # a random simple path from names[0]
    path, at, seen = [], names[0], {names[0]}
    for _ in range(draw(st.integers(1, n - 1))):
        choices = [(at, v, k) for v, ks in net.G[at].items() for k in ks if v not in seen]
        if not choices:
            break
        e = draw(st.sampled_from(sorted(choices)))
        path.append(e)
        at = e[1]
        seen.add(at)
    abrs = draw(st.sets(st.sampled_from(names)))
    return net, path, abrs


@settings(max_examples=150, deadline=None)
@given(nets_and_paths(), st.booleans(), st.integers(2, 8))
def test_the_packet_crosses_exactly_the_chosen_links(npa, compress, max_depth):
    net, path, abrs = npa
    tail = path[-1][1]
    try:
        sl = sidlist.build(path, net.table, net.prefix(tail), lsp_id=1, max_depth=max_depth, abrs=abrs, igp=net.G, compress=compress)
    except SidListError as exc:
        assert "max depth" in str(exc)
        assert max_depth < len(path) + 1 or compress  # a pinned list that fits never fails
        return
    assert sl.depth <= max_depth and all(len(b.segs) <= max_depth for b in sl.bindings)
    assert {b.router for b in sl.bindings} <= abrs
    crossed, end = simulate(net, sl.segs, path[0][0], sl.bindings)
    assert crossed == list(path) and end == tail
    assert sl.segs[-1] == net.table.dx4_of(tail, net.prefix(tail))
    if not compress:
        assert sum(len(b.segs) - 1 for b in sl.bindings) + sl.depth - 1 - len(sl.bindings) == len(path)


# -- the LSP state machine ------------------------------------------------------------

A, B, C, D = "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"
P_ABD = L.LspPath(((A, B, "10.1.2.1"), (B, D, "10.2.4.2")), pwr=1.0)
P_ACD = L.LspPath(((A, C, "10.1.3.1"), (C, D, "10.3.4.3")), pwr=0.5)
P_AD = L.LspPath(((A, D, "10.1.4.1"),), pwr=0.9)
SEGS = {
    P_ABD: ("fd00:a00:1:2::a01:201", "fd00:a00:2:2::a02:402", "fd00:a00:4:4:0:18:c0a8:400"),
    P_ACD: ("fd00:a00:1:2::a01:301", "fd00:a00:3:2::a03:403", "fd00:a00:4:4:0:18:c0a8:400"),
    P_AD: ("fd00:a00:1:2::a01:401", "fd00:a00:4:4:0:18:c0a8:400"),
}
SEGS_BY_EDGES = {p.edges: s for p, s in SEGS.items()}
PFX = ("192.168.4.0/24",)


def kinds(actions):
    return [type(a).__name__ for a in actions]


def answer(lsp_, actions, now, ok=True):
    """Answer every Signal in ``actions``; returns the actions that caused."""
    out = []
    for a in actions:
        if isinstance(a, L.Signal):
            ev = L.SignallingSucceeded(now, a.sig, SEGS_BY_EDGES[a.path.edges]) if ok else L.SignallingFailed(now, a.sig, "refused")
            out += lsp_.handle(ev)
    return out


def up(primary=(P_ABD,), backup=None, config=None, bandwidth=1000.0):
    lsp_ = L.Lsp(7, A, D, PFX, bandwidth, config)
    acts = lsp_.handle(L.SetupRequested(0.0, tuple(primary), backup))
    done = answer(lsp_, acts, 0.1)
    assert lsp_.state is L.State.UP
    return lsp_, acts, done


def test_setup_signals_then_installs():
    lsp_ = L.Lsp(7, A, D, PFX, 1000.0)
    assert lsp_.state is L.State.DOWN and lsp_.next_deadline() is None
    acts = lsp_.handle(L.SetupRequested(0.0, (P_ABD,)))
    assert kinds(acts) == ["Signal"] and acts[0].path == P_ABD and acts[0].bandwidth == 1000.0 and acts[0].role == "primary"
    assert lsp_.state is L.State.SETTING_UP and lsp_.next_deadline() == 3.0
    done = lsp_.handle(L.SignallingSucceeded(0.2, acts[0].sig, SEGS[P_ABD]))
    assert kinds(done) == ["InstallEncap"]
    (ie,) = done
    assert ie.prefixes == PFX and ie.metric == 10 and ie.legs == (L.EncapLeg(SEGS[P_ABD], 1, P_ABD.first_hop),)
    assert lsp_.state is L.State.UP and lsp_.active == "primary"


def test_refresh_timer():
    lsp_, _, _ = up(backup=P_ACD)
    assert lsp_.next_deadline() == pytest.approx(5.1)
    assert lsp_.handle(L.Tick(5.0)) == []
    r = lsp_.handle(L.Tick(5.1))
    assert kinds(r) == ["Refresh", "Refresh"] and {a.path for a in r} == {P_ABD, P_ACD}
    assert lsp_.next_deadline() == pytest.approx(10.1)


def test_backup_installed_at_a_worse_metric_and_switched_to_on_liveness_loss():
    lsp_, acts, done = up(backup=P_ACD)
    assert kinds(acts) == ["Signal", "Signal"] and acts[1].role == "backup"
    assert kinds(done) == ["InstallEncap", "InstallBackup"]
    assert done[1].metric == 15 and done[1].leg.segs == SEGS[P_ACD]
    sw = lsp_.handle(L.LivenessLost(1.0))
    assert kinds(sw) == ["Switch"] and sw[0].to == "backup" and sw[0].metric == 10 and sw[0].legs[0].segs == SEGS[P_ACD]
    assert lsp_.active == "backup"
    # restored: back only after wait-to-restore
    assert lsp_.handle(L.LivenessRestored(2.0)) == []
    assert lsp_.handle(L.Tick(6.9)) == [] or True
    back = [a for a in lsp_.handle(L.Tick(7.0)) if not isinstance(a, L.Refresh)]
    assert kinds(back) == ["Switch"] and back[0].to == "primary" and back[0].legs[0].segs == SEGS[P_ABD]
    assert lsp_.active == "primary"


def test_flapping_primary_stays_on_backup_during_wtr():
    lsp_, _, _ = up(backup=P_ACD)
    lsp_.handle(L.LivenessLost(1.0))
    lsp_.handle(L.LivenessRestored(2.0))
    lsp_.handle(L.LivenessLost(3.0))  # flaps again before wtr ran out
    assert [a for a in lsp_.handle(L.Tick(7.5)) if not isinstance(a, L.Refresh)] == []
    assert lsp_.active == "backup"


def test_without_backup_liveness_loss_falls_back_to_the_igp():
    lsp_, _, _ = up()
    acts = lsp_.handle(L.LivenessLost(1.0))
    assert kinds(acts) == ["RemoveEncap"] and lsp_.active == "igp"
    lsp_.handle(L.LivenessRestored(1.5))
    back = [a for a in lsp_.handle(L.Tick(6.5)) if not isinstance(a, L.Refresh)]
    assert kinds(back) == ["InstallEncap"] and lsp_.active == "primary"


def test_make_before_break():
    lsp_, _, _ = up()
    old_sig = lsp_.primary[0].sig
    acts = lsp_.handle(L.PwrChanged(40.0, (P_ACD,), current_pwr=1.0))
    assert kinds(acts) == ["Signal"] and lsp_.state is L.State.REOPTIMIZING
    # the old path still carries traffic and is still refreshed
    assert lsp_.active == "primary" and lsp_.primary[0].sig == old_sig
    done = answer(lsp_, acts, 40.2)
    assert kinds(done) == ["InstallEncap", "Release"]  # install the new one before releasing the old
    assert done[0].legs[0].segs == SEGS[P_ACD] and done[1].sig == old_sig and done[1].path == P_ABD
    assert lsp_.state is L.State.UP and lsp_.primary[0].path == P_ACD and lsp_.primary_pwr == 0.5


def test_failed_reoptimisation_keeps_the_old_path():
    lsp_, _, _ = up()
    acts = lsp_.handle(L.PwrChanged(40.0, (P_ACD,), current_pwr=1.0))
    out = answer(lsp_, acts, 40.1, ok=False)
    assert kinds(out) == ["Release"] and out[0].path == P_ACD
    assert lsp_.state is L.State.UP and lsp_.primary[0].path == P_ABD
    # and the hold-down applies to the failure too
    assert lsp_.handle(L.PwrChanged(41.0, (P_ACD,), current_pwr=1.0)) == []


def test_hysteresis_margin_and_holddown():
    lsp_, _, _ = up()  # pwr 1.0, up at 0.1
    # within the margin (0.8 > 1.0 * 0.75): no move
    assert lsp_.handle(L.PwrChanged(100.0, (L.LspPath(P_ACD.edges, 0.8),), 1.0)) == []
    assert lsp_.stats["within_margin"] == 1
    # better by the margin but inside the hold-down after a re-optimisation
    acts = lsp_.handle(L.PwrChanged(100.0, (P_ACD,), 1.0))
    answer(lsp_, acts, 100.1)
    assert lsp_.primary[0].path == P_ACD
    assert lsp_.handle(L.PwrChanged(110.0, (L.LspPath(P_AD.edges, 0.1),), 0.5)) == []
    assert lsp_.stats["held_down"] == 1
    assert kinds(lsp_.handle(L.PwrChanged(131.0, (L.LspPath(P_AD.edges, 0.1),), 0.5))) == ["Signal"]


def test_same_path_is_no_reoptimisation():
    lsp_, _, _ = up()
    assert lsp_.handle(L.PwrChanged(100.0, (L.LspPath(P_ABD.edges, 0.01),), 5.0)) == []
    assert lsp_.primary_pwr == 5.0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0.5, 2.0), st.floats(0.5, 2.0)), min_size=1, max_size=40), st.sampled_from([1.1, 1.25, 1.5]))
def test_banding_cannot_flap_an_lsp(values, ratio):
    """Two paths whose banded PWRs sit within a band step of each other:
    with the margin wider than a band step, the LSP never moves."""
    margin = 1 - 1 / ratio + 0.01
    cfg = L.LspConfig(margin=margin, holddown=0.0)
    band = lambda x: ratio ** round(math.log(x, ratio))  # noqa: E731
    lsp_, _, _ = up(config=cfg)
    now = 1.0
    for x, y in values:
        bx = band(x)
        by = max(bx / ratio, min(bx * ratio, band(y)))  # the other path is one band away at most
        cur, other = (bx, by) if lsp_.primary[0].path.edges == P_ABD.edges else (by, bx)
        alt = P_ACD.edges if lsp_.primary[0].path.edges == P_ABD.edges else P_ABD.edges
        acts = lsp_.handle(L.PwrChanged(now, (L.LspPath(alt, other),), cur))
        assert acts == [], f"moved from {cur} to {other} with margin {margin}"
        now += 1.0
    assert lsp_.stats["reoptimized"] == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.1, 10.0), min_size=2, max_size=40), st.floats(0.05, 0.5))
def test_no_move_back_and_forth_within_the_margin(pwrs, margin):
    """Whatever the PWR sequence, a move A->B->A needs B's PWR to be beaten
    by the margin twice: consecutive moves each gain at least the margin."""
    cfg = L.LspConfig(margin=margin, holddown=0.0)
    lsp_, _, _ = up(config=cfg)
    now, moves = 1.0, []
    for p in pwrs:
        cur_edges = lsp_.primary[0].path.edges
        alt = P_ACD.edges if cur_edges == P_ABD.edges else P_ABD.edges
        acts = lsp_.handle(L.PwrChanged(now, (L.LspPath(alt, p),), lsp_.primary_pwr))
        if acts:
            moves.append((lsp_.primary_pwr, p))
            answer(lsp_, acts, now + 0.1)
        now += 1.0
    for cur, new in moves:
        assert new < cur * (1 - margin)


def test_setup_failure_releases_and_retries_with_backoff():
    lsp_ = L.Lsp(7, A, D, PFX, 10.0)
    acts = lsp_.handle(L.SetupRequested(0.0, (P_ABD, P_ACD)))
    assert kinds(acts) == ["Signal", "Signal"] and acts[0].bandwidth == acts[1].bandwidth == 5.0
    assert lsp_.handle(L.SignallingSucceeded(0.1, acts[0].sig, SEGS[P_ABD])) == []
    out = lsp_.handle(L.SignallingFailed(0.2, acts[1].sig, "no bandwidth"))
    assert kinds(out) == ["Release", "Release"] and lsp_.state is L.State.DOWN
    assert lsp_.next_deadline() == pytest.approx(1.2)
    assert kinds(lsp_.handle(L.Tick(1.2))) == ["Recompute"]
    assert lsp_.next_deadline() == pytest.approx(3.2)  # backoff doubles


def test_setup_timeout_and_a_late_success_is_released():
    lsp_ = L.Lsp(7, A, D, PFX)
    (sig,) = lsp_.handle(L.SetupRequested(0.0, (P_ABD,)))
    out = lsp_.handle(L.Tick(3.0))
    assert kinds(out) == ["Release"] and lsp_.state is L.State.DOWN
    late = lsp_.handle(L.SignallingSucceeded(3.5, sig.sig, SEGS[P_ABD]))
    assert kinds(late) == ["Release"] and late[0].sig == sig.sig
    assert lsp_.handle(L.SignallingSucceeded(3.6, sig.sig, SEGS[P_ABD])) == []  # once


def test_equal_pwr_legs_share_one_weighted_route():
    a = L.LspPath(P_ABD.edges, 1.0, weight=3)
    b = L.LspPath(P_ACD.edges, 1.0, weight=1)
    lsp_, acts, done = up(primary=(a, b), bandwidth=400.0)
    assert [x.bandwidth for x in acts] == [300.0, 100.0]
    assert kinds(done) == ["InstallEncap"]
    assert [(l.segs, l.weight) for l in done[0].legs] == [(SEGS[P_ABD], 3), (SEGS[P_ACD], 1)]


def test_link_down_on_the_primary_switches_and_forces_a_move():
    lsp_, _, _ = up(backup=P_AD)
    acts = lsp_.handle(L.LinkDown(2.0, (B, D, "10.2.4.2")))
    assert kinds(acts) == ["Switch", "Recompute"] and lsp_.active == "backup" and lsp_.primary_broken
    # a new path within the margin and inside the hold-down still moves it
    mv = lsp_.handle(L.PwrChanged(2.5, (L.LspPath(P_ACD.edges, 0.99),), math.inf))
    assert kinds(mv) == ["Signal"]
    done = answer(lsp_, mv, 2.6)
    assert kinds(done) == ["InstallEncap", "Release"] and lsp_.active == "primary" and not lsp_.primary_broken


def test_a_reoptimisation_in_flight_cannot_undo_a_switch_to_the_backup():
    """Second seed sec. 4.2 vs. draft sec. 2.2: a TED change started a
    re-optimisation, then the prober lost the primary. The switch to the
    backup comes first (it is due now), and the attempt, whose path was
    chosen before the failure was known, is dropped: its late answer must
    not move traffic off the working backup (the 2.4 s failover outlier)."""
    lsp_, _, _ = up(backup=P_ACD, config=L.LspConfig(holddown=0.0))
    mv = lsp_.handle(L.PwrChanged(40.0, (L.LspPath(P_AD.edges, 0.1),), 1.0))
    assert kinds(mv) == ["Signal"] and lsp_.state is L.State.REOPTIMIZING
    sw = lsp_.handle(L.LivenessLost(40.1))
    assert kinds(sw)[0] == "Switch" and sw[0].to == "backup" and lsp_.active == "backup"
    assert [a.sig for a in sw if isinstance(a, L.Release)] == [mv[0].sig]  # the attempt goes
    assert lsp_.state is L.State.UP
    late = answer(lsp_, mv, 40.3)
    assert kinds(late) == ["Release"] and lsp_.active == "backup" and lsp_.primary[0].path == P_ABD


def test_no_reoptimisation_moves_the_lsp_while_a_liveness_switch_settles():
    """After a switch to the backup the head-end's view may not know the
    failure yet (it settles 0.3-0.7 s after the TEDs, docs/dataplane.md):
    for ``switch_hold`` s a better path is not signalled; then the LSP asks
    for the best path again (Recompute) and moves as usual."""
    cfg = L.LspConfig(holddown=0.0, switch_hold=1.0)
    lsp_, _, _ = up(backup=P_AD, config=cfg)
    assert kinds(lsp_.handle(L.LivenessLost(40.0))) == ["Switch"]
    better = (L.LspPath(P_ACD.edges, 0.1),)
    assert lsp_.handle(L.PwrChanged(40.2, better, 1.0)) == [] and lsp_.stats["reopt_deferred"] == 1
    assert lsp_.active == "backup" and lsp_.next_deadline() <= 41.0
    assert kinds([a for a in lsp_.handle(L.Tick(41.0)) if not isinstance(a, L.Refresh)]) == ["Recompute"]
    assert lsp_.next_deadline() != pytest.approx(41.0)
    mv = lsp_.handle(L.PwrChanged(41.1, better, 1.0))
    assert kinds(mv) == ["Signal"]
    assert kinds(answer(lsp_, mv, 41.2)) == ["InstallEncap", "Release"] and lsp_.active == "primary"
    # a broken primary (its link down in the TED) is not held back
    lsp_, _, _ = up(backup=P_AD, config=cfg)
    lsp_.handle(L.LivenessLost(40.0))
    lsp_.handle(L.LinkDown(40.1, (B, D, "10.2.4.2")))
    assert kinds(lsp_.handle(L.PwrChanged(40.2, better, math.inf))) == ["Signal"]


def test_link_down_on_the_backup_removes_it():
    lsp_, _, _ = up(backup=P_AD)
    acts = lsp_.handle(L.LinkDown(2.0, P_AD.edges[0]))
    assert kinds(acts) == ["RemoveBackup", "Release", "Recompute"] and lsp_.backup is None


def test_release_removes_routes_then_releases_and_ends():
    lsp_, _, _ = up(backup=P_ACD)
    acts = lsp_.handle(L.ReleaseRequested(9.0))
    assert kinds(acts) == ["RemoveEncap", "RemoveBackup", "Release", "Release"]
    assert lsp_.state is L.State.RELEASING
    lsp_.handle(L.Released(9.1, acts[2].sig))
    assert lsp_.state is L.State.RELEASING
    lsp_.handle(L.Released(9.2, acts[3].sig))
    assert lsp_.state is L.State.GONE
    assert lsp_.handle(L.PwrChanged(10.0, (P_AD,))) == []


def test_release_times_out_and_releases_in_flight_signalling():
    lsp_, _, _ = up()
    mv = lsp_.handle(L.PwrChanged(40.0, (P_ACD,), 1.0))
    acts = lsp_.handle(L.ReleaseRequested(41.0))
    assert kinds(acts) == ["RemoveEncap", "Release", "Release"]
    lsp_.handle(L.Tick(44.0))
    assert lsp_.state is L.State.GONE
    # the in-flight one answered after all: released again
    assert kinds(lsp_.handle(L.SignallingSucceeded(45.0, mv[0].sig, SEGS[P_ACD]))) == ["Release"]


def test_signal_ids_start_above_the_base():
    lsp_ = L.Lsp(7, A, D, PFX, sig_base=1 << 20)
    (sig,) = lsp_.handle(L.SetupRequested(0.0, (P_ABD,)))
    assert sig.sig == (1 << 20) + 1


def test_config_validation():
    with pytest.raises(ValueError, match="margin"):
        L.LspConfig(margin=1.0)
    with pytest.raises(ValueError, match="primary metric 20 must be below backup metric 15"):
        L.LspConfig(primary_metric=20)
    with pytest.raises(ValueError, match="path breaks"):
        L.LspPath(((A, B, "x"), (C, D, "y")), 1.0)


class LspMachine(RuleBasedStateMachine):
    """Random events: what is installed never uses a released leg, a leg is
    released only after the route stopped using it, and after a release
    every reserved leg has been released."""

    def __init__(self):
        super().__init__()
        self.lsp = L.Lsp(1, A, D, PFX, 100.0, L.LspConfig(holddown=0.0, wtr=1.0))
        self.now = 0.0
        self.pending = {}  # sig -> path
        self.reserved = set()
        self.released = set()
        self.route = None  # segs of the metric-10 route
        self.segs_of = {}  # segs -> sig
        self.hold = None  # (until, the primary's segs) after a liveness switch off the primary

    def run(self, ev):
        for a in self.lsp.handle(ev):
            if isinstance(a, L.Signal):
                self.pending[a.sig] = a.path
            elif isinstance(a, L.Release):
                self.released.add(a.sig)
                self.reserved.discard(a.sig)
                assert a.sig not in {self.segs_of.get(s) for s in (self.route or ())}, "released a leg the route still uses"
            elif isinstance(a, (L.InstallEncap, L.Switch)):
                self.route = tuple(l.segs for l in a.legs)
                if isinstance(a, L.InstallEncap) and self.hold and self.now < self.hold[0] and not self.lsp.primary_broken:
                    # second seed sec. 4.2 vs. draft sec. 2.2: only the old primary (a revert) may come back
                    assert self.route == self.hold[1], "a re-optimisation moved traffic while a liveness switch settled"
                for s in self.route:
                    assert self.segs_of[s] in self.reserved, "installed a leg that is not reserved"
            elif isinstance(a, L.RemoveEncap):
                self.route = None

    def tick(self, dt):
        self.now += dt
        return self.now

    @rule(paths=st.sampled_from([(P_ABD,), (P_ACD,), (P_AD,), (P_ABD, P_ACD)]), backup=st.sampled_from([None, P_AD, P_ACD]))
    def setup(self, paths, backup):
        self.hold = None  # an explicit move ("move now") is not a re-optimisation
        self.run(L.SetupRequested(self.tick(0.1), paths, backup))

    @precondition(lambda self: self.pending)
    @rule(data=st.data(), ok=st.booleans())
    def answer(self, data, ok):
        sig = data.draw(st.sampled_from(sorted(self.pending)))
        self.pending.pop(sig)
        if ok:
            segs = tuple(f"fd00::{sig:x}:{i}" for i in range(2))
            self.segs_of[segs] = sig
            self.reserved.add(sig)
            self.run(L.SignallingSucceeded(self.tick(0.1), sig, segs))
        else:
            self.run(L.SignallingFailed(self.tick(0.1), sig, "no"))

    @rule(p=st.sampled_from([P_ABD, P_ACD, P_AD]), pwr=st.floats(0.0, 2.0))
    def pwr(self, p, pwr):
        self.run(L.PwrChanged(self.tick(0.5), (L.LspPath(p.edges, pwr),), self.lsp.primary_pwr))

    @rule(which=st.sampled_from(["primary", "backup"]), lost=st.booleans())
    def liveness(self, which, lost):
        m = self.lsp
        switch = lost and which == "primary" and m.primary_alive and m.state in (L.State.UP, L.State.REOPTIMIZING)
        self.run((L.LivenessLost if lost else L.LivenessRestored)(self.tick(0.1), which))
        if switch:
            self.hold = (self.now + m.config.switch_hold, tuple(l.segs for l in m.primary))

    @rule(link=st.sampled_from([P_ABD.edges[1], P_ACD.edges[0], P_AD.edges[0]]))
    def link_down(self, link):
        self.run(L.LinkDown(self.tick(0.1), link))

    @rule(dt=st.floats(0.1, 6.0))
    def tick_(self, dt):
        self.run(L.Tick(self.tick(dt)))

    @rule()
    def release(self):
        self.run(L.ReleaseRequested(self.tick(0.1)))
        # a released LSP holds nothing: every reserved leg went (now or as its answer comes)
        for sig in list(self.pending):
            self.pending.pop(sig)
            segs = (f"fd00::{sig:x}:late",)
            self.segs_of[segs] = sig
            self.reserved.add(sig)
            self.run(L.SignallingSucceeded(self.tick(0.1), sig, segs))
        assert self.reserved == set(), f"still reserved after release: {self.reserved}"
        assert self.route is None

    @invariant()
    def state_is_consistent(self):
        s = self.lsp.state
        if s in (L.State.DOWN, L.State.SETTING_UP, L.State.GONE, L.State.RELEASING):
            assert self.route is None
        if self.lsp.active in ("primary", "backup"):
            assert self.route is not None


TestLspMachine = LspMachine.TestCase
TestLspMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)


# -- soft state -------------------------------------------------------------------


def test_bookings_expire_unless_refreshed():
    s = SoftState()  # hold 15 s
    s.book(0.0, "x", "eth1", 100.0)
    s.book(1.0, "y", "eth1", 50.0)
    assert s.reserved("eth1") == 150.0 and s.next_expiry() == 15.0
    assert s.refresh(5.0, "x") and s.next_expiry() == 16.0
    assert s.expire(15.9) == []
    (gone,) = s.expire(16.0)
    assert gone.key == "y" and s.reserved("eth1") == 100.0
    assert [b.key for b in s.expire(20.0)] == ["x"] and s.reserved("eth1") == 0.0 and len(s) == 0
    assert not s.refresh(21.0, "x")


def test_release_rebook_and_shared_explicit():
    s = SoftState(hold=10.0)
    s.book(0.0, ("h", 1, 1), "eth1", 100.0, share=("h", 1))
    s.book(0.0, ("h", 1, 1), "eth2", 100.0, share=("h", 1))  # re-booked on another link
    assert s.reserved("eth1") == 0.0 and s.reserved("eth2") == 100.0
    # make-before-break: the new instance shares eth2 with the old one
    s.book(1.0, ("h", 1, 2), "eth2", 120.0, share=("h", 1))
    assert s.reserved("eth2") == 120.0
    s.release(("h", 1, 2))
    assert s.reserved("eth2") == 100.0
    assert s.release("nothing") is None
    with pytest.raises(ValueError, match="time ran backwards"):
        s.book(0.5, "z", "eth1", 1.0)
    with pytest.raises(ValueError, match="bandwidth"):
        s.book(2.0, "z", "eth1", -1.0)
    with pytest.raises(ValueError, match="hold time"):
        SoftState(hold=0)


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("book"), st.integers(0, 7), st.sampled_from(["e1", "e2", "e3"]), st.integers(0, 1000), st.integers(0, 2)),
        st.tuples(st.just("refresh"), st.integers(0, 7)),
        st.tuples(st.just("release"), st.integers(0, 7)),
        st.tuples(
            st.just("expire"),
        ),
        st.tuples(st.just("wait"), st.sampled_from([0.0, 1.0, 4.0, 9.0])),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(OPS)
def test_soft_state_against_a_naive_model(ops):
    s = SoftState(hold=10.0)
    model = {}  # key -> (link, bw, expires, share)
    now = 0.0
    for op in ops:
        if op[0] == "wait":
            now += op[1]
        elif op[0] == "book":
            _, k, link, bw, share = op
            s.book(now, k, link, bw, share=share)
            model[k] = (link, float(bw), now + 10.0, share)
        elif op[0] == "refresh":
            ok = s.refresh(now, op[1])
            assert ok == (op[1] in model)
            if ok:
                link, bw, _, share = model[op[1]]
                model[op[1]] = (link, bw, now + 10.0, share)
        elif op[0] == "release":
            b = s.release(op[1])
            assert (b is not None) == (op[1] in model)
            model.pop(op[1], None)
        else:
            gone = {b.key for b in s.expire(now)}
            want = {k for k, v in model.items() if v[2] <= now}
            assert gone == want
            for k in want:
                del model[k]
        # totals: per link, per share the largest booking
        for link in ("e1", "e2", "e3"):
            groups = {}
            for lk, bw, _, share in model.values():
                if lk == link:
                    groups[share] = max(groups.get(share, 0.0), bw)
            assert s.reserved(link) == sum(groups.values())
        assert len(s) == len(model)
        assert s.next_expiry() == (min(v[2] for v in model.values()) if model else None)


@given(st.lists(st.tuples(st.integers(0, 20), st.floats(0, 1e9)), max_size=50))
def test_float_totals_stay_close(books):
    s = SoftState()
    naive = {}
    for k, bw in books:
        s.book(0.0, k, "e", bw)
        naive[k] = bw
    assert math.isclose(s.reserved("e"), sum(naive.values()), rel_tol=1e-9, abs_tol=1e-3)
    for k in list(naive):
        s.release(k)
    assert s.reserved("e") == 0.0 and s.totals() == {}
