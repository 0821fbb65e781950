"""An agent at rest does no work (issue 10: CPU at rest <= 0.3 % an agent):
no loop is woken for work that cannot be there. Event counts, not timings
(RULES 4): the daemon's loops run directly against fabric cores
(helpers/flooding), as in test_agent_robust."""

import asyncio

import pytest
from conftest import ROOT
from helpers.flooding import Fabric

from pyfrr_pwr.agent.daemon import Agent

FIG7 = ROOT / "containerlab/fig-2-1-7.clab.yml"


@pytest.fixture
def fig7():
    return Fabric.up(FIG7)


def _agent(tmp_path, core) -> Agent:
    a = Agent(core.cfg, str(tmp_path / "agent.sock"), name=f"t-{core.router_id}")
    a.core = core
    a.client.connected = True
    return a


def test_a_non_abr_never_wakes_the_vector_loop_an_abr_does(fig7, tmp_path):
    """A (area 1 only) keeps ``vectors_dirty`` set for ever (its snapshot is
    None, draft sec. 2.1: vectors are an ABR's); housekeeping's kick woke its
    vector loop twice a second for nothing. B (areas 0 and 1) is woken."""
    a, b = fig7.core("A"), fig7.core("B")
    assert len(a.abr_areas()) < 2 <= len(b.abr_areas())
    for core, woken in ((a, False), (b, True)):
        agent = _agent(tmp_path / core.router_id, core)
        core.vectors_dirty = True
        agent._kick()  # a TED change
        assert agent._vec_kick.is_set() is woken
        assert agent._view_kick.is_set()  # the head-end's view follows every TED change
        agent._vec_kick.clear()
        agent._kick()  # housekeeping's kick, nothing new
        assert agent._vec_kick.is_set() is woken


def test_a_non_abr_vector_loop_does_not_settle_or_snapshot(fig7, tmp_path, monkeypatch):
    a = fig7.core("A")
    agent = _agent(tmp_path, a)
    calls = []
    monkeypatch.setattr(type(a), "vector_snapshot", lambda self: calls.append("snap"))

    async def settle(quiet, most):
        calls.append("settle")

    agent._settle = settle

    async def run():
        task = asyncio.create_task(agent._vector_loop(period=0.01))
        for _ in range(5):
            a.vectors_dirty = True
            await asyncio.sleep(0.02)
        task.cancel()

    asyncio.run(run())
    assert calls == []


def test_a_node_becoming_an_abr_is_kicked(fig7, tmp_path):
    """The gate must not lose the moment a second area becomes ready."""
    b = fig7.core("B")
    agent = _agent(tmp_path, b)
    areas = set(b.ready)
    b.ready.intersection_update({sorted(areas)[0]})  # as if only one area were ready yet
    b.vectors_dirty = True
    agent._kick()
    assert not agent._vec_kick.is_set()
    b.ready.update(areas)  # the second area's ready (core.handle) ...
    agent._kick()  # ... and the _emit after it
    assert agent._vec_kick.is_set()


def test_a_liveness_reflector_without_probers_sleeps_until_one_is_added(monkeypatch):
    """The timer task ticked every second with nothing to tick (a node that
    only reflects probes: most of a lab); add() still starts a prober at once."""
    import socket

    from pyfrr_pwr.agent import liveness
    from pyfrr_pwr.dataplane import liveness as lv

    async def run():
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind(("::1", 0))
        svc = liveness.LivenessService(sock=s, key=b"k" * 16, mark=None)
        waits = []
        real = asyncio.wait_for

        async def wait_for(aw, timeout):
            waits.append(timeout)
            return await real(aw, timeout)

        monkeypatch.setattr(liveness.asyncio, "wait_for", wait_for)
        await svc.start()
        await asyncio.sleep(0.05)
        idle = list(waits)
        pr = lv.Prober(5, lv.ProberConfig(interval=0.01, multiplier=3, up_after=2))
        svc.add(pr, lambda a: None)
        svc.handle(5, lv.SetPaths(asyncio.get_running_loop().time(), lv.ProbePath((), "::1")))
        await asyncio.sleep(0.05)
        await svc.stop()
        return idle, waits[len(idle) :]

    idle, busy = asyncio.run(run())
    assert idle == [None]  # one wait, for ever
    assert busy and all(t is not None for t in busy)  # the prober's deadlines drive it


# -- SRv6 follows IPv6 address and neighbour events, not a 30 s poll ------------


def _nlmsg(ty, body, attrs=b""):
    import struct

    payload = body + attrs
    return struct.pack("=IHHII", 16 + len(payload), ty, 0, 0, 0) + payload + b"\0" * (-len(payload) % 4)


def _rta(ty, val):
    import struct

    return struct.pack("=HH", 4 + len(val), ty) + val + b"\0" * (-len(val) % 4)


LL = "fe80::1"


def _neigh(ty, idx, addr, state):
    import socket
    import struct

    return _nlmsg(ty, struct.pack("=BxxxiHBB", socket.AF_INET6, idx, state, 0, 0), _rta(1, socket.inet_pton(socket.AF_INET6, addr)))


def _addr6(ty, idx, addr):
    import socket
    import struct

    return _nlmsg(ty, struct.pack("=BBBBi", socket.AF_INET6, 64, 0, 0, idx), _rta(1, socket.inet_pton(socket.AF_INET6, addr)))


def test_ipv6_neighbour_and_address_events_parse_only_when_asked():
    from pyfrr_pwr.agent.measure import parse_rtnl

    buf = _neigh(28, 7, LL, 0x02) + _addr6(20, 7, "fd00::7") + _neigh(29, 7, LL, 0x20) + _addr6(21, 7, "fd00::7")
    assert parse_rtnl(buf) == []  # the core's view: IPv4 only, as before
    assert parse_rtnl(buf, v6=True) == [("neigh6", 7, LL), ("addr6", 7, "fd00::7", 64), ("delneigh6", 7, LL), ("deladdr6", 7, "fd00::7", 64)]
    assert parse_rtnl(_neigh(28, 7, LL, 2)[:-4], v6=True) == []  # truncated: skipped, never read past


def test_only_a_change_of_the_ipv6_set_is_a_change():
    from pyfrr_pwr.agent.measure import LinkTable

    t = LinkTable()
    assert t.apply(("neigh6", 7, LL)) is False  # the core's interfaces did not change ...
    assert t.v6_changed  # ... the SRv6 shell's inputs did
    t.v6_changed = False
    t.apply(("neigh6", 7, LL))  # REACHABLE -> STALE -> REACHABLE: the same neighbour
    assert not t.v6_changed
    t.apply(("delneigh6", 7, LL))
    assert t.v6_changed and not t.v6
    t.v6_changed = False
    t.apply(("delneigh6", 7, LL))  # gone already
    assert not t.v6_changed
    t.apply(("addr6", 7, "fd00::7", 64))
    t.v6_changed = False
    t.apply(("link", 7, "eth1", True, True))
    assert t.apply(("dellink", 7)) and t.v6_changed and not t.v6


class _FakeSock:
    def __init__(self, bufs):
        self.bufs = list(bufs)

    def recv(self, n):
        if not self.bufs:
            raise BlockingIOError
        return self.bufs.pop(0)

    def send(self, b):
        pass


def test_the_measurer_wakes_the_srv6_shell_on_a_new_ipv6_neighbour_not_on_its_state(tmp_path):
    from pyfrr_pwr.agent.measure import Measurer
    from pyfrr_pwr.files.power import load_power

    cfg = load_power(ROOT / "containerlab/fig-2-1-7/A/power.yml")
    m = Measurer(cfg, "A", 1.0, {}, sysfs=tmp_path)
    kicks = []
    m.on_link_change = lambda: kicks.append(1)
    for buf, want in ((_neigh(28, 7, LL, 0x02), 1), (_neigh(28, 7, LL, 0x04), 1), (_neigh(29, 7, LL, 0x04), 2), (_addr6(20, 3, "fd00::3"), 3)):
        m._notify(m._drain(_FakeSock([buf])))
        assert len(kicks) == want


def test_the_srv6_fallback_poll_is_rare():
    """Links, addresses and neighbours are pushed; the poll is belt and braces."""
    from pyfrr_pwr.agent import daemon

    assert daemon.SRV6_FALLBACK_PERIODS * 1.0 >= 300  # s, at the default period of 1 s


def test_resync_due_scans_a_ted_again_only_after_it_changed(fig7, monkeypatch):
    """Housekeeping asks resync_due every 0.5 s; at rest the TEDs do not
    change, so their links are not rebuilt (a change is still seen: the
    one-sided test of test_agent_robust)."""
    from pyfrr_pwr.model.ted import TED

    x = fig7.core("X")
    scans = []
    real = TED.links
    monkeypatch.setattr(TED, "links", lambda self: scans.append(self.area) or real(self))
    for _ in range(3):
        assert x.resync_due(1e6) is None
    assert sorted(scans) == sorted(x.teds)  # once per area
    area = sorted(x.teds)[0]
    ted = x.teds[area]
    key = next(iter(ted.lsas))
    ted.lsas[key] = list(ted.lsas[key])  # a refresh still counts as a change: scan again
    x.resync_due(1e6)
    assert scans.count(area) == 2


def test_an_agent_that_computes_no_paths_does_not_import_numpy():
    """numpy (~15 MiB an agent) is for the offline evaluation only, and
    paths.ksp is for ABRs and head-ends when they first compute: a transit
    router imports neither (issue 10: agent RSS)."""
    import subprocess
    import sys

    code = "import sys, pyfrr_pwr.agent.daemon; print(sorted(m for m in ('numpy', 'pyfrr_pwr.paths.ksp') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
