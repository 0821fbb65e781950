"""The netlink shell against real kernels: four routers h7-a..h7-d in
network namespaces, a host behind the head-end (h7-src) and one behind the
tail (h7-dst), static IPv6 routes to each other's locators, no FRR.

    h7-src -- a ------ b          explicit path a-b-c-d, not the IGP's a-d
              | \\      |
              |  \\     |          links: a-b, b-c, c-d, a-d, b-d
              |   `--- d -- h7-dst
              |       /
              c ----- (c-d)

The proof a packet took the chosen routers: the per-SID counters of the
End.X SIDs on the path count exactly the packets sent, those off the path
count none, and the per-interface TX counters agree.
"""

import socket
import subprocess
import threading
import time

import networkx as nx
import pytest
from helpers import netrig
from pyroute2 import netns as pnetns

from pyfrr_pwr.dataplane import lsp as L
from pyfrr_pwr.dataplane import sidlist, sids
from pyfrr_pwr.dataplane.netlink import EncapRoute, Netlink, NetlinkError, Nexthop, SidRoute

ROUTERS = "abcd"
NS = {n: f"h7-{n}" for n in (*ROUTERS, "src", "dst")}
RID = {n: f"10.0.0.{i}" for i, n in enumerate(ROUTERS, 1)}
# (router, ifname, peer router, peer ifname, link number)
LINKS = [("a", "ab", "b", "ba", 12), ("b", "bc", "c", "cb", 23), ("c", "cd", "d", "dc", 34), ("a", "ad", "d", "da", 14), ("b", "bd", "d", "db", 24)]
PREFIX = "192.168.4.0/24"
DST = ("192.168.4.2", 9000)
N = 200


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True).stdout


def ip(ns, *args, check=True):
    return sh("ip", "-n", NS[ns], *args, check=check)


def addr(n, link):
    """IPv4 and IPv6 addresses of router ``n`` on a link."""
    u, _, v, _, num = link
    i = ROUTERS.index(n) + 1
    return f"10.{num // 10}.{num % 10}.{i}", f"fd01:{num}::{i}"


def remove_namespaces():
    have = set(sh("ip", "netns", "list").split())
    for name in NS.values():
        if name in have:
            sh("ip", "netns", "del", name, check=False)


def static_routes():
    """Each router: a route to every other locator along the unit-cost
    shortest path (ties broken by router order)."""
    G = igp_graph()
    for n in ROUTERS:
        for m in ROUTERS:
            if m == n:
                continue
            path = nx.shortest_path(nx.DiGraph(G), RID[n], RID[m])
            nxt = ROUTERS[int(path[1].split(".")[-1]) - 1]
            link = next(l for l in LINKS if {l[0], l[2]} == {n, nxt})
            ip(n, "-6", "route", "replace", str(sids.default_locator(RID[m])), "via", addr(nxt, link)[1])


def igp_graph():
    G = nx.MultiDiGraph()
    for l in LINKS:
        u, _, v, _, _ = l
        G.add_edge(RID[u], RID[v], key=addr(u, l)[0], weight=1)
        G.add_edge(RID[v], RID[u], key=addr(v, l)[0], weight=1)
    return G


def plans():
    out = {}
    for n in ROUTERS:
        adjs = []
        for l in LINKS:
            for me, ifn, peer in ((l[0], l[1], l[2]), (l[2], l[3], l[0])):
                if me == n:
                    adjs.append(sids.Adjacency(ifn, addr(peer, l)[1], addr(n, l)[0]))
        pfx = [sids.Dx4Prefix(PREFIX, DST[0])] if n == "d" else []
        out[n] = sids.SidPlan.build(RID[n], adjacencies=adjs, prefixes=pfx)
    return out


@pytest.fixture(scope="module")
def lab():
    remove_namespaces()  # leftovers of an interrupted run (our names only)
    try:
        netrig.wire(NS, LINKS, addr, (("src", "a", "192.168.1.1", "192.168.1"), ("dst", "d", "192.168.4.1", "192.168.4")))
        p = plans()
        for n in ROUTERS:
            with Netlink(NS[n]) as nl:
                assert nl.ensure_sid_device(p[n].address)  # the always-up veth pair sr0/sr0p
                assert not nl.ensure_sid_device(p[n].address)  # idempotent
                nl.enable_seg6()
        static_routes()
        yield p
    finally:
        remove_namespaces()
        assert not set(sh("ip", "netns", "list").split()) & set(NS.values())


@pytest.fixture
def nls(lab):
    """A Netlink per router with the routers' SIDs installed; removes
    exactly what it installed afterwards."""
    out = {n: Netlink(NS[n]) for n in ROUTERS}
    try:
        for n in ROUTERS:
            for s in lab[n].local_sids():
                out[n].add_sid(s)
        yield out
    finally:
        for nl in out.values():
            nl.remove_all()
            nl.close()


def table(lab):
    return sidlist.SidTable.of(lab.values())


def edges(*names):
    """TED edges along routers (a, b, ...): keys are local IPv4 addresses."""
    out = []
    for u, v in zip(names, names[1:]):
        link = next(l for l in LINKS if {l[0], l[2]} == {u, v})
        out.append((RID[u], RID[v], addr(u, link)[0]))
    return out


def ns_socket(ns, *args):
    """A socket opened inside a namespace (setns is per thread)."""
    box = {}

    def run():
        pnetns.setns(NS[ns], flags=0)
        box["s"] = socket.socket(*args)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    return box["s"]


def send(n=N, flows=1):
    """UDP from h7-src to h7-dst over ``flows`` source ports; the count received."""
    rx = ns_socket("dst", socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
    rx.bind(("0.0.0.0", DST[1]))
    rx.settimeout(1.0)
    txs = [ns_socket("src", socket.AF_INET, socket.SOCK_DGRAM) for _ in range(flows)]
    got = 0
    try:
        for i, tx in enumerate(txs):
            tx.bind(("192.168.1.2", 20000 + i))
        for i in range(n):
            txs[i % flows].sendto(b"pwr %d" % i, DST)
            if i % 20 == 19:
                time.sleep(0.002)
        while got < n:
            try:
                rx.recv(64)
            except TimeoutError:
                break
            got += 1
    finally:
        rx.close()
        for tx in txs:
            tx.close()
    return got


def warm_up():
    """Resolve neighbours first, so the counted run loses nothing to ARP/ND."""
    send(5)


def counters(nls):
    return {n: nls[n].sid_counters() for n in ROUTERS}


def delta(before, after, n, sid):
    return after[n][sid].packets - before[n].get(sid, after[n][sid].__class__(0, 0, 0)).packets


def tx(nls, pairs):
    return {(n, i): nls[n].link_counters(i)["tx_packets"] for n, i in pairs}


def route_state(n):
    return ip(n, "-d", "-4", "route", "show", "table", "all") + ip(n, "-d", "-6", "route", "show", "table", "all")


ALL_IFS = [(l[0], l[1]) for l in LINKS] + [(l[2], l[3]) for l in LINKS] + [("d", "hd")]


@pytest.mark.frr
def test_sysctls(lab):
    with Netlink(NS["src"]) as host:
        missing = {k for k, _, _ in host.check_sysctls()}
    assert {"net.ipv6.conf.all.seg6_enabled", "net.ipv6.conf.all.forwarding", "net.ipv4.ip_forward", "net.ipv6.conf.eth0.seg6_enabled"} <= missing
    for n in ROUTERS:
        with Netlink(NS[n]) as nl:
            assert nl.check_sysctls() == []


@pytest.mark.frr
@pytest.mark.srv6_kernel
def test_explicit_path_not_the_shortest_and_clean_removal(lab):
    before = {n: route_state(n) for n in ROUTERS}
    assert all("fd01:" in b and "local" in b and "seg6" not in b for b in before.values())
    nls = {n: Netlink(NS[n]) for n in ROUTERS}
    try:
        for n in ROUTERS:
            for s in lab[n].local_sids():
                nls[n].add_sid(s)
        path = edges("a", "b", "c", "d")
        assert nx.shortest_path(nx.DiGraph(igp_graph()), RID["a"], RID["d"]) == [RID["a"], RID["d"]]  # the IGP would go direct
        sl = sidlist.build(path, table(lab), PREFIX)
        assert sl.depth == 4
        nls["a"].add_encap(PREFIX, sl.segs, nls["a"].ifname_of(sl.first_hop[2]))
        warm_up()
        c0, t0 = counters(nls), tx(nls, ALL_IFS)
        assert send() == N
        c1, t1 = counters(nls), tx(nls, ALL_IFS)
        on = [lab["a"].end_x(ifname="ab"), lab["b"].end_x(ifname="bc"), lab["c"].end_x(ifname="cd"), lab["d"].dx4(PREFIX)]
        for n, s in zip("abcd", on):
            assert delta(c0, c1, n, s.sid) == N, f"{s.describe()} at {n}"
        for n, ifn in (("a", "ad"), ("b", "bd"), ("b", "ba"), ("c", "cb")):
            assert delta(c0, c1, n, lab[n].end_x(ifname=ifn).sid) == 0
        for hop in (("a", "ab"), ("b", "bc"), ("c", "cd"), ("d", "hd")):
            assert t1[hop] - t0[hop] >= N, hop
        for hop in (("a", "ad"), ("b", "bd"), ("d", "da"), ("d", "db"), ("d", "dc")):
            assert t1[hop] - t0[hop] < 10, hop  # at most neighbour discovery
        # the kernel shows it as we meant it, in SRH order
        shown = ip("a", "-4", "route", "show", PREFIX)
        assert f"encap seg6 mode encap segs 4 [ {' '.join(sl.segs)} ]" in shown and "proto 240" in shown and "metric 10" in shown
    finally:
        removed = sum(nl.remove_all() for nl in nls.values())
        for nl in nls.values():
            nl.close()
    assert removed == sum(len(lab[n].local_sids()) for n in ROUTERS) + 1
    for n in ROUTERS:
        assert route_state(n) == before[n], f"leftovers in {NS[n]}"


@pytest.mark.frr
@pytest.mark.srv6_kernel
def test_weighted_multipath_with_a_sid_list_per_nexthop(lab, nls):
    t = table(lab)
    long = sidlist.build(edges("a", "b", "c", "d"), t, PREFIX)
    short = sidlist.build(edges("a", "d"), t, PREFIX)
    nls["a"].add_multipath(PREFIX, [Nexthop(long.segs, "ab", 3), Nexthop(short.segs, "ad", 1)])
    shown = ip("a", "-4", "route", "show", PREFIX)
    assert shown.count("nexthop") == 2 and shown.count("encap seg6 mode encap") == 2
    assert f"segs 4 [ {' '.join(long.segs)} ] dev ab weight 3" in shown
    assert f"segs 2 [ {' '.join(short.segs)} ] dev ad weight 1" in shown
    with Netlink(NS["a"]) as fresh:
        (found,) = [e for e in fresh.find_installed() if isinstance(e, EncapRoute)]
    assert found.nexthops == (Nexthop(long.segs, "ab", 3), Nexthop(short.segs, "ad", 1))
    warm_up()
    c0 = counters(nls)
    assert send(400, flows=400) == 400
    c1 = counters(nls)
    via_b = delta(c0, c1, "a", lab["a"].end_x(ifname="ab").sid)
    via_d = delta(c0, c1, "a", lab["a"].end_x(ifname="ad").sid)
    assert via_b + via_d == 400
    assert via_b > via_d > 40, (via_b, via_d)  # 3:1 over 400 flows


@pytest.mark.frr
@pytest.mark.srv6_kernel
def test_binding_sid_at_an_abr_expands_the_rest(lab, nls):
    sl = sidlist.build(edges("a", "b", "c", "d"), table(lab), PREFIX, lsp_id=42, max_depth=3, abrs={RID["b"]})
    (bi,) = sl.bindings
    assert bi.router == RID["b"] and len(sl.segs) == 3 and len(bi.segs) == 3
    bsid = lab["b"].binding(RID["a"], 42, bi.segs)
    assert bsid.sid == bi.sid
    nls["b"].add_sid(bsid)
    nls["a"].add_encap(PREFIX, sl.segs, "ab")
    # the binding SID reads back in path order
    (got,) = [e for e in nls["b"].find_installed() if isinstance(e, SidRoute) and e.sid.behaviour == "End.B6.Encaps"]
    assert got.sid.segs == bi.segs
    warm_up()
    c0 = counters(nls)
    assert send() == N
    c1 = counters(nls)
    assert delta(c0, c1, "b", bsid.sid) == N
    assert delta(c0, c1, "c", lab["c"].end_x(ifname="cd").sid) == N
    assert delta(c0, c1, "d", lab["d"].dt6.sid) == N
    assert delta(c0, c1, "d", lab["d"].dx4(PREFIX).sid) == N


@pytest.mark.frr
@pytest.mark.srv6_kernel
def test_compressed_list_follows_the_same_links(lab, nls):
    sl = sidlist.build(edges("a", "b", "c", "d"), table(lab), PREFIX, igp=igp_graph(), compress=True)
    assert sl.segs == (lab["b"].end_x(ifname="bc").sid, lab["d"].dx4(PREFIX).sid)
    nls["a"].add_encap(PREFIX, sl.segs, "ab")
    warm_up()
    c0, t0 = counters(nls), tx(nls, ALL_IFS)
    assert send() == N
    c1, t1 = counters(nls), tx(nls, ALL_IFS)
    assert delta(c0, c1, "a", lab["a"].end_x(ifname="ab").sid) == 0
    assert delta(c0, c1, "b", lab["b"].end_x(ifname="bc").sid) == N
    assert delta(c0, c1, "c", lab["c"].end_x(ifname="cd").sid) == 0
    for hop in (("a", "ab"), ("b", "bc"), ("c", "cd")):
        assert t1[hop] - t0[hop] >= N, hop
    assert t1[("a", "ad")] - t0[("a", "ad")] < 10


@pytest.mark.frr
@pytest.mark.srv6_kernel
def test_backup_route_and_reinstall_after_link_event(lab, nls):
    t = table(lab)
    primary = sidlist.build(edges("a", "b", "c", "d"), t, PREFIX)
    backup = sidlist.build(edges("a", "d"), t, PREFIX)
    nls["a"].add_encap(PREFIX, primary.segs, "ab", metric=10)
    nls["a"].add_backup(PREFIX, backup.segs, "ad")
    xab, xad = lab["a"].end_x(ifname="ab").sid, lab["a"].end_x(ifname="ad").sid
    try:
        warm_up()
        c0 = counters(nls)
        assert send() == N
        c1 = counters(nls)
        assert delta(c0, c1, "a", xab) == N and delta(c0, c1, "a", xad) == 0
        ip("a", "link", "set", "dev", "ab", "down")  # flushes End.X(ab) and the primary route
        lost = nls["a"].missing("ab")
        assert {type(e).__name__ for e in lost} == {"SidRoute", "EncapRoute"} and len(lost) == 2
        assert nls["a"].missing() == lost  # nothing else of ours went
        c1 = counters(nls)
        assert send() == N  # over the backup, metric 15
        c2 = counters(nls)
        assert delta(c1, c2, "a", xad) == N
        ip("a", "link", "set", "dev", "ab", "up")
        back = nls["a"].reinstall_after_link_event("ab")
        assert sorted(type(e).__name__ for e in back) == ["EncapRoute", "SidRoute"] and nls["a"].missing() == []
        static_routes()  # the fixture's locator routes through ab went too
        warm_up()
        c2 = counters(nls)
        assert send() == N
        c3 = counters(nls)
        assert delta(c2, c3, "a", xab) == N and delta(c2, c3, "a", xad) == 0
    finally:
        ip("a", "link", "set", "dev", "ab", "up")
        static_routes()


@pytest.mark.frr
@pytest.mark.srv6_kernel
def test_restart_finds_its_routes_and_removes_only_them(lab):
    t = table(lab)
    sl = sidlist.build(edges("a", "b", "c", "d"), t, PREFIX)
    first = Netlink(NS["a"])
    try:
        for s in lab["a"].local_sids():
            first.add_sid(s)
        first.add_encap(PREFIX, sl.segs, "ab")
        mine = first.installed()
    finally:
        first.close()  # the agent dies, its routes stay
    ip("a", "route", "add", "192.168.77.0/24", "dev", "ad", "proto", "static", "metric", "10")
    ip("a", "-6", "route", "add", "fd00:a00:1:99::/128", "encap", "seg6local", "action", "End", "dev", "sr0", "proto", "static")
    try:
        with Netlink(NS["a"]) as again:
            found = again.find_installed()
            strip = lambda e: (
                e
                if isinstance(e, EncapRoute)
                else SidRoute(sids.LocalSid(e.sid.sid, e.sid.behaviour, e.sid.dev, e.sid.nh6, e.sid.nh4, e.sid.table, e.sid.segs), e.metric, e.counted)
            )  # noqa: E731
            assert sorted(map(repr, found)) == sorted(repr(strip(e)) for e in mine)
            with pytest.raises(NetlinkError, match=r"route 192.168.77.0/24 metric 10 table 254 in h7-a belongs to protocol 4; not replacing it"):
                again.add_encap("192.168.77.0/24", sl.segs, "ab", metric=10)
            again.adopt(found)
            assert again.remove_all() == len(found)
            assert again.find_installed() == []
        assert "192.168.77.0/24" in ip("a", "route", "show") and "fd00:a00:1:99::" in ip("a", "-6", "route", "show")
    finally:
        ip("a", "route", "del", "192.168.77.0/24", check=False)
        ip("a", "-6", "route", "del", "fd00:a00:1:99::/128", check=False)


@pytest.mark.frr
@pytest.mark.srv6_kernel
def test_lsp_state_machine_drives_the_kernel(lab, nls):
    """Set up, make-before-break onto another path, release: the LSP's
    actions carried out by Netlink.execute, traffic checked each time."""
    t = table(lab)
    head = nls["a"]
    p1 = L.LspPath(tuple(edges("a", "b", "c", "d")), pwr=1.0)
    p2 = L.LspPath(tuple(edges("a", "d")), pwr=0.5)
    lsp_ = L.Lsp(3, RID["a"], RID["d"], (PREFIX,), 1e6)
    log = []

    def run(ev):
        acts = lsp_.handle(ev)
        for a in acts:
            log.append(type(a).__name__)
            if isinstance(a, L.Signal):  # signalling: here it always succeeds
                run(L.SignallingSucceeded(ev.now, a.sig, sidlist.build(a.path, t, PREFIX).segs))
            else:
                head.execute(a)

    run(L.SetupRequested(0.0, (p1,)))
    assert lsp_.state is L.State.UP and log == ["Signal", "InstallEncap"]
    warm_up()
    c0 = counters(nls)
    assert send() == N
    c1 = counters(nls)
    assert delta(c0, c1, "b", lab["b"].end_x(ifname="bc").sid) == N
    log.clear()
    run(L.PwrChanged(60.0, (p2,), current_pwr=1.0))
    assert log == ["Signal", "InstallEncap", "Release"] and lsp_.primary[0].path == p2
    c1 = counters(nls)
    assert send() == N
    c2 = counters(nls)
    assert delta(c1, c2, "a", lab["a"].end_x(ifname="ad").sid) == N and delta(c1, c2, "b", lab["b"].end_x(ifname="bc").sid) == 0
    run(L.ReleaseRequested(70.0))
    assert PREFIX not in ip("a", "-4", "route", "show")
    assert not [e for e in head.installed() if isinstance(e, EncapRoute)]


@pytest.fixture
def one_ns():
    """A namespace of its own (prefix h11) with two veth ends up."""
    name = "h11-nl"
    sh("ip", "netns", "del", name, check=False)
    sh("ip", "netns", "add", name)
    try:
        for a, b, v4 in (("x1", "y1", "10.99.1.1/24"), ("x2", "y2", "10.99.2.1/24")):
            sh("ip", "-n", name, "link", "add", a, "type", "veth", "peer", "name", b)
            for d in (a, b):
                sh("ip", "-n", name, "link", "set", d, "up")
            sh("ip", "-n", name, "addr", "add", v4, "dev", a)
        yield name
    finally:
        sh("ip", "netns", "del", name, check=False)


@pytest.mark.frr
@pytest.mark.srv6_kernel
def test_replace_of_our_own_route_skips_the_claim_dump_and_address_cache_follows_moves(one_ns):
    """The failover fast path: a replace of a key we hold asks the kernel
    once (no dump), a key we do not hold is still claimed (someone else's
    route is refused), and ``ifname_of``'s cache is cleared by
    ``forget_addresses`` (an address that moved is found on its new link)."""
    segs = ("fd00:a00:2::1", "fd00:a00:3::1")
    with Netlink(one_ns) as nl:
        dumps = []
        real = nl._dump
        nl._dump = lambda fam: dumps.append(fam) or real(fam)
        assert nl.ifname_of("10.99.1.1") == "x1"
        nl.add_encap("192.168.9.0/24", segs, "x1")
        assert dumps == []  # a key nobody holds: created with NLM_F_EXCL, no claim dump
        nl.add_encap("192.168.9.0/24", segs[::-1], "x2")  # a Switch: replace
        assert dumps == []
        assert "x2" in sh("ip", "-n", one_ns, "route", "show", "192.168.9.0/24")
        sh("ip", "-n", one_ns, "route", "add", "192.168.8.0/24", "dev", "x1", "proto", "static", "metric", "10")
        with pytest.raises(NetlinkError, match="belongs to protocol 4"):
            nl.add_encap("192.168.8.0/24", segs, "x1")
        assert dumps == [socket.AF_INET]  # a key someone holds (EEXIST): claimed, and refused
        sh("ip", "-n", one_ns, "addr", "del", "10.99.1.1/24", "dev", "x1")
        sh("ip", "-n", one_ns, "addr", "add", "10.99.1.1/24", "dev", "x2")
        assert nl.ifname_of("10.99.1.1") == "x1"  # cached until told
        nl.forget_addresses()
        assert nl.ifname_of("10.99.1.1") == "x2"
        nl.add_local("fd00:99::1", "x1")  # End.DT6's table holds no local route by itself
        mine = [l for l in sh("ip", "-n", one_ns, "-6", "route", "show", "table", "all").splitlines() if "fd00:99::1" in l]
        assert len(mine) == 1 and mine[0].startswith("local fd00:99::1 dev x1 proto 240") and "table" not in mine[0]  # main
        assert nl.remove_all() == 2
        assert "fd00:99::1" not in sh("ip", "-n", one_ns, "-6", "route", "show", "table", "all")
