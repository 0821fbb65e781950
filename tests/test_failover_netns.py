"""Protection on real kernels: five routers c2-a..c2-e in network
namespaces, SRv6 SIDs installed over netlink, no FRR.

    c2-src -- a ---- b ---- c -- c2-dst      primary   a-b-c   (PWR 2)
              |             |                backup    a-d-e-c (PWR 3,
              d ---------- e                           node-disjoint)

The head-end a holds the LSP (``dataplane.lsp.Lsp``) with its primary at
metric 10 and the node-disjoint backup (``paths.disjoint``) at metric 15,
``ignore_routes_with_linkdown`` set; every router runs the liveness shell
(``agent.liveness``: prober at a, echo responder everywhere) whose probes
ride each path's SID list and come back on the reverse path's End.X SIDs.
The tests play the agents' netlink part (``Netlink.execute``) and check
where the kernel sends packets (per-SID counters), not timings: those are
in bench/test_bench_failover.py, which reuses this rig.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import networkx as nx
import pytest
from helpers import netrig

from pyfrr_pwr.agent import liveness as alv
from pyfrr_pwr.dataplane import liveness as lv
from pyfrr_pwr.dataplane import lsp as L
from pyfrr_pwr.dataplane import sidlist, sids
from pyfrr_pwr.dataplane.netlink import EncapRoute, Netlink, Nexthop
from pyfrr_pwr.paths.disjoint import backup_path

ROUTERS = "abcde"
NS_PREFIX = os.environ.get("PYFRR_PWR_NETNS_PREFIX", "c2")  # namespaces c2-a..c2-e, c2-src, c2-dst (helpers' runs must not collide)
NS = {n: f"{NS_PREFIX}-{n}" for n in (*ROUTERS, "src", "dst")}
RID = {n: f"10.0.0.{i}" for i, n in enumerate(ROUTERS, 1)}
# (router, ifname, peer router, peer ifname, link number)
LINKS = [("a", "ab", "b", "ba", 12), ("b", "bc", "c", "cb", 23), ("a", "ad", "d", "da", 14), ("d", "de", "e", "ed", 45), ("e", "ec", "c", "ce", 35)]
PREFIX = "192.168.3.0/24"
DST = ("192.168.3.2", 9000)
SRC = "192.168.1.2"
NFT_TABLE = "h2drop"
COUNT_TABLE = "h2count"  # counts data packets (> 500 bytes; probes are ~100) entering b and d from a
COUNT_AT = {"b": "ba", "d": "da"}
PAYLOAD = 1000


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True).stdout


def ip(n, *args, check=True):
    return sh("ip", "-n", NS[n], *args, check=check)


def addr(n, link):
    num = link[4]
    i = ROUTERS.index(n) + 1
    return f"10.{num // 10}.{num % 10}.{i}", f"fd01:{num}::{i}"


def link_of(u, v):
    return next(l for l in LINKS if {l[0], l[2]} == {u, v})


def ifname(u, v):
    """u's interface toward v."""
    l = link_of(u, v)
    return l[1] if l[0] == u else l[3]


def ted():
    """The TED graph as model.ted builds it: keys are local IPv4
    addresses, ``remote`` the far end's, weight the PWR."""
    G = nx.MultiDiGraph()
    for l in LINKS:
        u, _, v, _, _ = l
        w = 1.0
        G.add_edge(RID[u], RID[v], key=addr(u, l)[0], remote=addr(v, l)[0], weight=w)
        G.add_edge(RID[v], RID[u], key=addr(v, l)[0], remote=addr(u, l)[0], weight=w)
    return G


def plans():
    out = {}
    for n in ROUTERS:
        adjs = []
        for l in LINKS:
            for me, ifn, peer in ((l[0], l[1], l[2]), (l[2], l[3], l[0])):
                if me == n:
                    adjs.append(sids.Adjacency(ifn, addr(peer, l)[1], addr(n, l)[0]))
        pfx = [sids.Dx4Prefix(PREFIX, DST[0])] if n == "c" else []
        out[n] = sids.SidPlan.build(RID[n], adjacencies=adjs, prefixes=pfx)
    return out


def table(p):
    return sidlist.SidTable.of(p.values())


def edges(*names):
    out = []
    for u, v in zip(names, names[1:]):
        out.append((RID[u], RID[v], addr(u, link_of(u, v))[0]))
    return tuple(out)


def nft(n, script: str):
    """One nft script inside router (or host) n's namespace."""
    sh("ip", "netns", "exec", NS[n], "nft", script)


def remove_namespaces():
    have = set(sh("ip", "netns", "list").split())
    for name in NS.values():
        if name in have:
            sh("ip", "netns", "del", name, check=False)


def build():
    """Create the namespaces, links, addresses, sysctls and SIDs; returns
    (plans, {router: Netlink} with the SIDs installed)."""
    remove_namespaces()
    nls: dict = {}
    try:
        netrig.wire(NS, LINKS, addr, (("src", "a", "192.168.1.1", "192.168.1"), ("dst", "c", "192.168.3.1", "192.168.3")))
        for n, ifn in COUNT_AT.items():
            nft(
                n,
                f"add table netdev {COUNT_TABLE}; add chain netdev {COUNT_TABLE} c {{ type filter hook ingress device {ifn} priority 0; policy accept; }}; add rule netdev {COUNT_TABLE} c meta length > 500 counter",
            )
        p = plans()
        for n in ROUTERS:
            nl = nls[n] = Netlink(NS[n])
            nl.ensure_sid_device(p[n].address)
            nl.enable_seg6(failover=True)
            ip(n, "sr", "tunsrc", "set", p[n].address)
            for s in p[n].local_sids():
                nl.add_sid(s)
        return p, nls
    except BaseException:  # a half-built rig (a kernel refusing SIDs, say) leaves no namespaces behind
        teardown(nls)
        raise


def ns_socket(n, *args):
    """A socket opened inside a namespace (setns is per thread)."""
    return alv.in_netns(NS[n], lambda: socket.socket(*args))


def teardown(nls=None):
    for nl in (nls or {}).values():
        with contextlib.suppress(Exception):
            nl.remove_all()
        nl.close()
    remove_namespaces()
    assert not set(sh("ip", "netns", "list").split()) & set(NS.values())


# -- failures -----------------------------------------------------------------


def link(n, ifn, up: bool):
    ip(n, "link", "set", "dev", ifn, "up" if up else "down")


def silent(n, ifn, on: bool):
    """Drop everything arriving on ``ifn`` at ``n``, carrier untouched."""
    if on:
        nft(n, f"add table netdev {NFT_TABLE}; add chain netdev {NFT_TABLE} c {{ type filter hook ingress device {ifn} priority -500; policy drop; }}")
    else:
        sh("ip", "netns", "exec", NS[n], "nft", "delete", "table", "netdev", NFT_TABLE, check=False)


# -- the head-end's LSP and every router's liveness shell --------------------


REFLECTORS = r"""
import asyncio, socket, sys
sys.path.insert(0, sys.argv[1])
import test_failover_netns as R
from pyfrr_pwr.agent.liveness import LivenessService
from pyfrr_pwr.dataplane import liveness as lv

async def main():
    svcs = []
    for n in sys.argv[3:]:
        s = R.ns_socket(n, socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind(("::", lv.PORT))
        svc = LivenessService(sock=s, key=sys.argv[2].encode())
        await svc.start()
        svcs.append(svc)
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


class Harness:
    """One asyncio loop (a thread) running a LivenessService per router
    (sockets opened in the routers' namespaces) and the head-end a's LSP
    machine, whose kernel actions go to a's Netlink. The tests and benches
    only break and mend links and look."""

    def __init__(
        self, p, nls, *, config=None, lsp_config=None, key=b"h2-test-key", reflectors_apart=False, fast_switch=False, prober_thread=True, exact_delete=True
    ):
        self.p, self.nls = p, nls
        # prober_thread: a's service in a thread of its own, switching from there with the plan
        # the machine's copy gives (agent.liveness.FastSwitch, as agent.lsp_live does): the
        # loop's Switch comes after (docs/protection.md sec. 4c); False: everything on the loop
        self.threaded = prober_thread
        self.exact = exact_delete  # the switch as an exact delete from the prober's thread; False: steps on the kernel thread
        # reflectors_apart: b..e's shells in a process of their own, as on
        # real routers (the head's GIL is then the head's alone)
        self.apart = reflectors_apart
        self.fast = fast_switch
        self._devs = {}
        self._refl = None
        self.G = ted()
        self.table = table(p)
        self.primary = edges("a", "b", "c")
        bk, self.kind = backup_path(self.G, self.primary, RID["a"], RID["c"])
        self.backup = bk.edges
        # a generous grace: on a loaded shared box echoes can be late, and the
        # tests are about behaviour (the bench measures with its own settings)
        self.config = config or lv.ProberConfig(interval=0.02, multiplier=3, up_after=5, grace=0.1)
        self.lsp = L.Lsp(1, RID["a"], RID["c"], [PREFIX], 0.0, lsp_config or L.LspConfig(wtr=0.3, refresh=3600))
        self.prober = lv.Prober(1, self.config)
        self.key = key
        self.events = []  # (time, action name)
        self.loop = asyncio.new_event_loop()
        self.svcs = {}
        self.kx = ThreadPoolExecutor(1, thread_name_prefix="h2-kernel")  # pyroute2's sync API wants no running loop
        self._thread = threading.Thread(target=self.loop.run_forever, name="h2-harness", daemon=True)
        self.fs = alv.FastSwitch(self.kx.submit, nls["a"].registry, self._fast_done, alv.netlink_socket(NS["a"])) if prober_thread else None
        self._ifindex = {}

    def _arm(self):
        """After every event the machine handled: what it would do on
        "primary lost", ready for the prober's thread (as agent.lsp_live)."""
        if self.fs is None or "a" not in self.svcs:
            return
        acts = lv.switch_plan(self.lsp, time.monotonic())
        sessions = self.svcs["a"].primary_sessions(1)
        plan = None
        if acts and sessions:
            pm, bm = self.lsp.config.primary_metric, self.lsp.config.backup_metric
            reg = self.nls["a"].registry
            prim, bk = reg.get((socket.AF_INET, PREFIX, pm)), reg.get((socket.AF_INET, PREFIX, bm))
            a = acts[0]
            if (
                self.exact
                and len(acts) == 1
                and isinstance(a, L.Switch)
                and a.to == "backup"
                and len(a.legs) == 1
                and prim is not None
                and len(prim.nexthops) == 1
                and bk is not None
                and bk.nexthops[0].segs == tuple(a.legs[0].segs)
            ):
                # the backup is installed as the Switch wants it: deleting the primary route, if
                # it is still exactly that, is the switch (agent.lsp_live._exact_deletes)
                dev = prim.nexthops[0].dev
                if dev not in self._ifindex:
                    self._ifindex[dev] = self.kernel(self.nls["a"].ifindex, dev)
                plan = alv.FastPlan(1, "1", sessions, deletes=(self.nls["a"].exact_delete_msg(prim, self._ifindex[dev]),))
            else:
                keys = [(socket.AF_INET, PREFIX, m) for m in (pm, bm)]
                plan = alv.FastPlan(1, "1", sessions, tuple((k, reg.get(k)) for k in keys), tuple(functools.partial(self._exec, a) for a in acts))
        self.fs.arm(1, plan)

    def _fast_done(self, plan, result):
        self.events.append((time.monotonic(), f"fast:{result}"))

    def _exec(self, a):
        """One kernel action on the kernel thread (as the loop would); its
        completion is an event (``done:Switch:backup``: the route is in)."""
        fast = self.fast and isinstance(a, L.Switch) and len(a.legs) == 1
        r = self._fast_switch(a) if fast else self.nls["a"].execute(a)
        self.events.append((time.monotonic(), f"done:{type(a).__name__}:{getattr(a, 'to', '')}"))
        return r

    def _kernel(self, actions, arm=True):
        self._kernel_do(actions)
        if arm:
            self._arm()

    def _kernel_do(self, actions):
        for a in actions:
            if isinstance(a, L.Signal):  # the signalling here is the test's: answer at once
                segs = sidlist.build(a.path.edges, self.table, PREFIX).segs
                self._kernel_do(self.lsp.handle(L.SignallingSucceeded(time.monotonic(), a.sig, segs)))
            elif isinstance(a, (L.Switch, L.InstallEncap, L.InstallBackup, L.RemoveEncap, L.RemoveBackup)):
                self.events.append((time.monotonic(), f"{type(a).__name__}:{getattr(a, 'to', '')}"))
                self.kx.submit(self._exec, a)  # one kernel thread: in order, off the loop

    def _fast_switch(self, a):
        """A Switch as one netlink route replace: the route is ours already
        (no dump to claim it) and the device was resolved at set-up. What
        Netlink.execute would cost with the change proposed for it."""
        nl = self.nls["a"]
        leg = a.legs[0]
        dev = self._devs.get(leg.first_hop[2])
        if dev is None:
            dev = self._devs[leg.first_hop[2]] = (nl.ifname_of(leg.first_hop[2]), nl.ifindex(nl.ifname_of(leg.first_hop[2])))
        for p in a.prefixes:
            nl.ipr.route(
                "replace",
                dst=p,
                priority=a.metric,
                table=nl.table,
                proto=nl.proto,
                scope=253,
                oif=dev[1],
                encap={"type": "seg6", "mode": "encap", "segs": list(reversed(leg.segs))},  # pyroute2 wants SRH order
            )
            nl.registry[(socket.AF_INET, p, a.metric)] = EncapRoute(p, (Nexthop(tuple(leg.segs), dev[0], 1),), a.metric)

    def _fire(self, action):
        """The prober's thread, at a verdict (a's ``fast`` hook)."""
        self.events.append((time.monotonic(), f"verdict:{type(action).__name__}"))
        if self.fs is not None and self.fs.fire(1, action) is not None:
            self.events.append((time.monotonic(), "fast:SwitchToBackup"))

    def _on_liveness(self, action):
        self.events.append((time.monotonic(), type(action).__name__))
        self._kernel(self.lsp.handle(action.event()))

    async def _start(self):
        for n in ROUTERS if not self.apart else "a":
            s = ns_socket(n, socket.AF_INET6, socket.SOCK_DGRAM)
            s.bind(("::", lv.PORT))
            svc = self.svcs[n] = alv.LivenessService(sock=s, key=self.key, threaded=self.threaded and n == "a")
            await svc.start()
        now = time.monotonic()
        self._kernel(self.lsp.handle(L.SetupRequested(now, (L.LspPath(self.primary, 2.0),), L.LspPath(self.backup, 3.0))))
        self.svcs["a"].add(self.prober, self._on_liveness, self._fire)
        pp = lv.probe_path(self.primary, self.table, self.G)
        bp = lv.probe_path(self.backup, self.table, self.G)
        self.svcs["a"].handle(1, lv.SetPaths(now, pp, bp))
        self._arm()
        self._tick = asyncio.create_task(self._lsp_ticks())

    async def _lsp_ticks(self):
        while True:
            self._kernel(self.lsp.handle(L.Tick(time.monotonic())))
            await asyncio.sleep(0.02)

    async def _stop(self):
        self._tick.cancel()
        for svc in self.svcs.values():
            await svc.stop()
            svc.sock.close()

    def busy(self, ms):
        """Keep the harness's event loop busy for ``ms`` (pure Python, as an
        agent's loop is with a failure's flood: LSAs, TED, recomputation)."""

        def spin():
            end = time.monotonic() + ms / 1e3
            n = 0
            while time.monotonic() < end:
                n += sum(range(200))
            return n

        self.loop.call_soon_threadsafe(spin)

    def call(self, coro_or_fn):
        if asyncio.iscoroutine(coro_or_fn):
            return asyncio.run_coroutine_threadsafe(coro_or_fn, self.loop).result(30)

        async def run():
            return coro_or_fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(30)

    def kernel(self, fn, *args):
        """Run a Netlink call on the kernel thread and wait for it."""
        return self.kx.submit(fn, *args).result(30)

    def start(self):
        for n in ROUTERS:
            alv.install_probe_route(NS[n])
        if self.apart:
            self._refl = subprocess.Popen(
                [sys.executable, "-c", REFLECTORS, str(Path(__file__).parent), self.key.decode(), *"bcde"], stdout=subprocess.PIPE, text=True
            )
            assert self._refl.stdout.readline().strip() == "ready"
        self._thread.start()
        self.call(self._start())
        return self

    def stop(self):
        self.call(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.kx.shutdown()
        if self.fs is not None and self.fs.sock is not None:
            self.fs.sock.close()
        if self._refl is not None:
            self._refl.terminate()
            self._refl.wait(10)
        for n in ROUTERS:
            alv.remove_probe_route(NS[n])

    # -- looking ------------------------------------------------------------

    def wait(self, cond, timeout=10.0):
        """Wait for a state (a timeout so a broken build fails instead of hanging)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.call(cond):
                return True
            time.sleep(0.01)
        return False

    def active(self):
        return self.call(lambda: self.lsp.active)

    def state(self, which="primary"):
        return self.call(lambda: self.prober.state(which))

    def mend(self):
        """Every link up, no drop table, SIDs back where admin-down flushed
        them (the routers' agents' job: Netlink.reinstall_missing)."""
        for n in ROUTERS:
            silent(n, "", False)
        for l in LINKS:
            link(l[0], l[1], True)
            link(l[2], l[3], True)
        for n in ROUTERS:
            self.kernel(self.nls[n].reinstall_missing)


def send(n=200, port=DST[1]):
    """UDP from c2-src to c2-dst; the count received."""
    rx = ns_socket("dst", socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
    rx.bind(("0.0.0.0", port))
    rx.settimeout(0.5)
    tx = ns_socket("src", socket.AF_INET, socket.SOCK_DGRAM)
    got = 0
    try:
        for i in range(n):
            tx.sendto(b"h2 %d " % i + bytes(PAYLOAD), (DST[0], port))
            if i % 20 == 19:
                time.sleep(0.002)
        while got < n:
            try:
                rx.recv(2048)
            except TimeoutError:
                break
            got += 1
    finally:
        rx.close()
        tx.close()
    return got


def data_count(n):
    """Data packets (not probes) that entered router n from a."""
    out = json.loads(sh("ip", "netns", "exec", NS[n], "nft", "-j", "list", "chain", "netdev", COUNT_TABLE, "c"))
    for item in out["nftables"]:
        for e in item.get("rule", {}).get("expr", []):
            if "counter" in e:
                return e["counter"]["packets"]
    raise AssertionError(f"no counter at {n}")


def where(h, n=200):
    """Send n packets; how many arrived, and how many entered the primary's
    second router b and the backup's d. First the kernel thread's queue
    drains: a route the LSP machine switched is in the kernel."""
    h.kernel(lambda: None)
    b0, d0 = data_count("b"), data_count("d")
    got = send(n)
    return got, data_count("b") - b0, data_count("d") - d0


@pytest.fixture(scope="module")
def harness():
    p, nls = build()
    h = None
    try:
        h = Harness(p, nls).start()
        assert h.wait(lambda: h.prober.state("primary") is lv.PathState.UP and h.prober.state("backup") is lv.PathState.UP)
        send(5)  # neighbours resolved before anything is counted
        yield h
    finally:
        if h is not None:
            h.stop()
        teardown(nls)


@pytest.fixture
def h(harness):
    harness.mend()
    assert harness.wait(
        lambda: (
            harness.lsp.active == "primary"
            and harness.lsp.backup_installed
            and harness.prober.state() is lv.PathState.UP
            and harness.prober.state("backup") is lv.PathState.UP
        )
    ), harness.lsp.snapshot()
    harness.events.clear()
    yield harness
    harness.mend()


pytestmark = [pytest.mark.frr, pytest.mark.srv6_kernel]  # root and network namespaces (no FRR daemons); SRv6 routes


def test_backup_is_node_disjoint_and_traffic_on_primary(h):
    assert h.kind == "node"
    assert [e[1] for e in h.backup] == [RID["d"], RID["e"], RID["c"]]
    assert h.active() == "primary"
    assert where(h) == (200, 200, 0)


def test_probes_ride_the_paths_both_ways(h):
    """Per-SID counters: probes cross a's and b's End.X SIDs forward and
    c's and b's reverse End.X SIDs back (and the backup's likewise)."""
    rev = [h.p["c"].end_x(ifname="cb").sid, h.p["b"].end_x(ifname="ba").sid, h.p["c"].end_x(ifname="ce").sid, h.p["e"].end_x(ifname="ed").sid]
    owner = dict(zip(rev, "cbce"))
    c0 = {s: h.kernel(lambda s=s: h.nls[owner[s]].sid_counters()[s].packets) for s in rev}
    c1: dict = {}

    def grown():
        c1.update({s: h.kernel(lambda s=s: h.nls[owner[s]].sid_counters()[s].packets) for s in rev})
        return all(c1[s] > c0[s] for s in rev)

    deadline = time.monotonic() + 5.0
    while not grown() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(c1[s] > c0[s] for s in rev), (c0, c1)
    assert h.svcs["c"].stats["echo_tx"] > 0 and not any(k.startswith("drop") for k in h.svcs["c"].stats)


def test_first_hop_down_falls_over_in_the_kernel_then_the_prober_switches(h):
    link("b", "ba", False)  # a's ab loses carrier
    assert h.wait(lambda: h.lsp.active == "backup")
    got, via_b, via_d = where(h)
    assert (got, via_b, via_d) == (200, 0, 200)
    names = [e for _, e in h.events if not e.startswith(("fast:", "verdict:", "done:"))]  # the loop's own
    assert names[:2] == ["SwitchToBackup", "Switch:backup"]
    assert h.wait(lambda: {"fast:SwitchToBackup", "fast:done"} <= {e for _, e in h.events})  # the prober's thread switched too
    link("b", "ba", True)
    h.kernel(h.nls["b"].reinstall_missing, "ba")  # admin-down flushed b's End.X toward a
    assert h.wait(lambda: h.lsp.active == "primary")
    assert "SwitchBack" in [e for _, e in h.events]
    assert where(h) == (200, 200, 0)


def test_first_hop_carrier_loss_needs_no_prober(h):
    """With the prober's verdict held back (a long detection), the kernel
    alone moves traffic to the metric-15 backup: ignore_routes_with_linkdown."""
    h.call(lambda: h.svcs["a"].remove(1))
    try:
        link("b", "ba", False)
        # the kernel flags the route when linkwatch runs: at once, or up to
        # 1 s later if another link event came within the last second
        assert h.wait(lambda: "linkdown" in ip("a", "route", "show", PREFIX, "metric", "10"))
        assert where(h) == (200, 0, 200)
        assert h.active() == "primary"  # nobody switched: the kernel skipped the linkdown route
    finally:
        link("b", "ba", True)
        h.call(lambda: h.svcs["a"].add(h.prober, h._on_liveness, h._fire))


def test_remote_link_down_switches_and_returns(h):
    link("b", "bc", False)  # at b: a sees no carrier change
    assert h.wait(lambda: h.lsp.active == "backup")
    assert where(h) == (200, 0, 200)
    # the prober's thread made the switch (its plan was current), then the machine's own Switch
    assert h.wait(lambda: {"fast:SwitchToBackup", "fast:done", "Switch:backup"} <= {e for _, e in h.events}), h.events
    link("b", "bc", True)
    h.kernel(h.nls["b"].reinstall_missing, "bc")
    assert h.wait(lambda: h.lsp.active == "primary")
    assert where(h) == (200, 200, 0)


def test_silent_remote_failure_switches_and_returns(h):
    silent("c", "cb", True)  # c drops all from b; every carrier stays up
    assert h.wait(lambda: h.lsp.active == "backup")
    got, via_b, via_d = where(h)
    assert got == 200 and via_d == 200
    assert h.wait(lambda: "fast:done" in {e for _, e in h.events}), h.events
    silent("c", "cb", False)
    assert h.wait(lambda: h.lsp.active == "primary")
    assert where(h) == (200, 200, 0)


def test_backup_failure_is_seen_and_primary_stays(h):
    silent("e", "ed", True)
    assert h.wait(lambda: h.prober.state("backup") is lv.PathState.DOWN)
    assert h.active() == "primary"
    assert "BackupDown" in [e for _, e in h.events]
    silent("e", "ed", False)
    assert h.wait(lambda: h.prober.state("backup") is lv.PathState.UP)


def test_hostile_datagrams_are_counted_not_fatal(h):
    svc = h.svcs["c"]
    before = dict(svc.stats)
    s = ns_socket("b", socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        tgt = (addr("c", link_of("b", "c"))[1], lv.PORT)  # c's address on the b-c link
        s.sendto(b"", tgt)
        s.sendto(b"junk" * 10, tgt)
        s.sendto(lv.encode(lv.T_PROBE, 1, 0, 1, 0), tgt)  # no MAC
        s.sendto(lv.encode(lv.T_PROBE, 1, 0, 1, 0, key=b"wrong"), tgt)
        s.sendto(lv.encode(lv.T_PROBE, 1, 0, 1, 0, ("2001:db8::1",), key=h.key), tgt)  # reflect outside the domain
        assert h.wait(lambda: sum(v for k, v in svc.stats.items() if k.startswith("drop")) >= sum(v for k, v in before.items() if k.startswith("drop")) + 5)
    finally:
        s.close()
    for r in ("short", "magic", "unauthenticated", "auth", "return"):
        assert svc.stats[f"drop_{r}"] > before.get(f"drop_{r}", 0), r
    assert h.wait(lambda: h.prober.state() is lv.PathState.UP)  # still probing and answering


def test_an_exact_delete_leaves_a_route_changed_meanwhile(h):
    """The prober's thread deletes the primary route only while it is exactly
    the route its plan was made from: a route the loop replaced meanwhile
    (a make-before-break: another SID list at the same metric) stays."""
    plan = h.fs.plan(1)
    assert plan is not None and plan.deletes
    before = ip("a", "route", "show", PREFIX, "metric", "10")
    orig = h.nls["a"].registry[(socket.AF_INET, PREFIX, 10)]
    new = Nexthop(tuple(h.lsp.backup.segs), h.nls["a"].registry[(socket.AF_INET, PREFIX, 15)].nexthops[0].dev, 1)
    h.kernel(h.nls["a"].add_multipath, PREFIX, [new], 10)  # as InstallEncap of a new primary would
    try:
        assert h.fs._delete(plan.deletes) == "stale"
        after = ip("a", "route", "show", PREFIX, "metric", "10")
        assert after.strip() and after != before and "linkdown" not in after
        # the harness re-arms after each event (its ticks): wait for a plan made from the new route
        assert h.wait(lambda: getattr(h.fs.plan(1), "deletes", plan.deletes) != plan.deletes)
        assert h.fs._delete(h.fs.plan(1).deletes) == "done"  # that one goes
        assert not ip("a", "route", "show", PREFIX, "metric", "10").strip()
    finally:
        h.kernel(h.nls["a"].add_multipath, PREFIX, orig.nexthops, 10)
