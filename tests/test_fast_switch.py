"""The switch in the prober's thread against the loop that follows it
(docs/protection.md sec. 4c): the agent's LivenessMixin and HeadEndMixin
(agent.lsp_live, agent.lsp_head) over a real LSP machine, a real Prober
in an unstarted LivenessService, a fake clock and a fake kernel that
compares an exact delete as the kernel does (destination, metric,
device, SRH). The test plays the prober's thread: it calls the ``fast``
hook and, later, the loop's ``on_action``, in the orders the two threads
can take. What must always hold: once the loop has handled a verdict,
the kernel's routes are the ones the LSP machine says carry traffic."""

import errno
import socket
import struct
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyfrr_pwr.agent import liveness as agent_liveness
from pyfrr_pwr.agent.liveness import LivenessService
from pyfrr_pwr.agent.lsp_head import _Head, _LegInfo
from pyfrr_pwr.agent.lsps import LspManager
from pyfrr_pwr.dataplane import liveness as lv
from pyfrr_pwr.dataplane import lsp as L
from pyfrr_pwr.dataplane.netlink import RTPROT_PYFRR_PWR, Netlink, _rtmsg
from pyfrr_pwr.files.lspcfg import LivenessSettings, LspSettings

PFX = "192.168.3.0/24"
DX4 = "fd00:3::64"
DEVS = {"ab": 2, "ad": 3}
PRIM = L.LspPath((("10.0.0.1", "10.0.0.2", "10.1.2.1"), ("10.0.0.2", "10.0.0.3", "10.2.3.2")), 2.0)
BK = L.LspPath((("10.0.0.1", "10.0.0.4", "10.1.4.1"), ("10.0.0.4", "10.0.0.3", "10.4.3.4")), 3.0)
TAIL = "fd00:3::1"


def _route_of(d) -> tuple:
    """A decoded route message as the kernel keys and compares it."""
    key = (f"{d.get_attr('RTA_DST')}/{d['dst_len']}", d.get_attr("RTA_PRIORITY") or 0)
    return key, (d.get_attr("RTA_OIF"), str(d.get_attr("RTA_ENCAP")), str(d.get_attr("RTA_MULTIPATH")))


class FakeKernelNetlink(Netlink):
    """``dataplane.netlink.Netlink`` whose kernel is ``routes``:
    (destination, metric) -> what the kernel matches an exact delete on."""

    def __init__(self, netns=None):
        self.netns, self.proto, self.table = netns, RTPROT_PYFRR_PWR, 254
        self.registry, self._ifname_cache, self._ifindex_cache = {}, {}, {}
        self.routes: dict = {}

    def ifindex(self, ifname):
        return DEVS[ifname]

    def find_installed(self):
        return []

    def close(self):
        pass

    def _claim(self, *a):
        pass

    def _request(self, msg, msg_type, flags, what):
        msg["header"]["type"], msg["header"]["flags"] = msg_type, flags
        msg.encode()
        d = _rtmsg(bytes(msg.data))
        d.decode()
        key, sig = _route_of(d)
        self.routes[key] = sig

    def _delete(self, key):
        _, dst, metric = key
        return self.routes.pop((dst, metric), None) is not None


class FakeRtnl:
    """The prober thread's rtnetlink socket over that kernel: an
    RTM_DELROUTE deletes only the route it names exactly (ESRCH else)."""

    def __init__(self, kernel: FakeKernelNetlink):
        self.kernel, self.answers = kernel, []

    def send(self, b):
        d = _rtmsg(bytes(b))
        d.decode()
        key, sig = _route_of(d)
        seq = struct.unpack_from("=I", b, 8)[0]
        err = 0 if self.kernel.routes.get(key) == sig else errno.ESRCH
        if not err:
            del self.kernel.routes[key]
        self.answers.append(struct.pack("=IHHIIi", 20, 2, 0, seq, 0, -err))

    def recv(self, n):
        return self.answers.pop(0)

    def close(self):
        pass


class Manager(LspManager):
    """``probe_paths``: leg reservation ID -> the ProbePath the agent derives
    for it now (the TED's SIDs arriving can change it: a new session)."""

    probe_paths: dict

    def _probe_path(self, info):
        return self.probe_paths.get(info.rid) or super()._probe_path(info)


class Rig:
    """One protected LSP at a head-end, set up as far as the test says."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.now = 1.0
        settings = LspSettings(protection=True, wtr=0.0, liveness=LivenessSettings(fast_switch=True))
        core = SimpleNamespace(router_id="10.0.0.1", teds={}, cfg=SimpleNamespace(lsp=settings), report=self._report)
        self.m = Manager(core, None, None, netlink=FakeKernelNetlink, clock=lambda: self.now)
        self.m.probe_paths = {}
        self.m._kernel()
        self.kernel = self.m.nl.plain
        monkeypatch.setattr(agent_liveness, "netlink_socket", lambda netns=None: FakeRtnl(self.kernel))
        self.sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        self.m.live = LivenessService(sock=self.sock, mark=None, threaded=True, clock=lambda: self.now)  # never started: the test is its thread
        machine = L.Lsp(1, "10.0.0.1", "10.0.0.3", [PFX], config=self.m.config)
        self.h = _Head("lsp", 1, "10.0.0.3", 0.0, (), None, {}, machine, prefixes=(PFX,), backup_kind="link")
        self.m.heads[self.h.id] = self.h
        self.signals = {a.role: a for a in machine.handle(L.SetupRequested(self.now, (PRIM,), BK)) if isinstance(a, L.Signal)}

    @staticmethod
    def _report(what, exc, why):
        raise AssertionError(f"{what}: {why}: {exc}")

    def close(self):
        self.m.nl.close()
        self.sock.close()

    def barrier(self):
        """Every route change queued on the kernel's thread is done."""
        self.m.nl.submit(lambda: None).result()

    def signalled(self, role: str, seg: str, dev: str):
        """Signalling's answer for the primary or the backup, as _signal feeds it."""
        a = self.signals[role]
        info = _LegInfo(f"r-{role}", (), (), "fd00:2::b6", (seg,), {PFX: DX4}, dev, 1.0, role=role, target=TAIL)
        self.h.legs[a.sig] = info
        self.h.by_segs[(seg, DX4)] = info
        self.m._feed(self.h, L.SignallingSucceeded(self.now, a.sig, (seg, DX4)))

    @property
    def prober(self) -> lv.Prober:
        return self.m.live.probers[1][0]

    def hooks(self):
        _, on_action, fast = self.m.live.probers[1]
        return on_action, fast

    def primary_up(self):
        """The prober sees the primary answer (UP)."""
        for a in self.prober.handle(lv.Tick(self.now)):
            if isinstance(a, lv.SendProbe):
                self.prober.handle(lv.EchoReceived(self.now, a.session, a.seq, a.stamp))
        assert self.prober.state("primary") is lv.PathState.UP

    def primary_silent(self):
        """No echo comes (a reflector not scheduled under load, or a real
        failure): the prober's verdict, as its thread makes it."""
        verdicts = []
        for _ in range(10):
            self.now += self.prober.config.interval
            verdicts += [a for a in self.prober.handle(lv.Tick(self.now)) if isinstance(a, lv.SwitchToBackup)]
            if verdicts:
                return verdicts[0]
        raise AssertionError("no verdict")

    def protected_and_fired(self):
        """The LSP up on its primary with its backup installed, then a
        verdict the prober's thread has switched for (not yet heard by the
        loop): the loop's hook and the verdict."""
        self.signalled("primary", "fd00::1", "ab")
        self.signalled("backup", "fd00::2", "ad")
        self.primary_up()
        on_action, fast = self.hooks()
        verdict = self.primary_silent()
        fast(verdict)
        return on_action, verdict

    def at(self, metric: int):
        """The kernel's route for the prefix at ``metric``: its first segment, or None."""
        self.barrier()
        sig = self.kernel.routes.get((PFX, metric))
        if sig is None:
            return None
        for seg in ("fd00::1", "fd00::2"):
            if f"'{seg}'" in sig[1] or f"'{seg}'" in sig[2]:
                return seg
        raise AssertionError(sig)

    def where_the_machine_says(self):
        """The route at the primary metric the machine's state asks for."""
        m = self.h.m
        return {"primary": "fd00::1", "backup": "fd00::2"}.get(m.active)


@pytest.fixture
def rig(monkeypatch):
    r = Rig(monkeypatch)
    yield r
    r.close()


def test_a_fast_delete_for_a_verdict_the_loop_drops_as_stale_is_undone(rig):
    """The fresh-clone CI's sequence (docs/protection.md sec. 4c): the LSP is
    up on its primary, its backup still being signalled; a false verdict
    at set-up makes the prober's thread delete the primary route (the
    machine's answer then: fall back to the IGP); before the loop hears of
    it, the backup is installed and the primary's probe path changes (new
    sessions), so the loop drops the verdict as stale. The machine holds
    the LSP on its primary: the primary route must be back."""
    rig.signalled("primary", "fd00::1", "ab")
    assert rig.h.m.active == "primary" and rig.at(10) == "fd00::1"
    rig.primary_up()
    on_action, fast = rig.hooks()
    verdict = rig.primary_silent()
    fast(verdict)  # the prober's thread: the prepared exact delete
    assert rig.m._fast.stats["fast_fired"] == 1 and rig.at(10) is None
    # the loop, before the verdict reaches it: the backup answered, and the TED now names the
    # primary's End.X SIDs both ways (a new probe path: the prober starts a new session)
    rig.m.probe_paths["r-primary"] = lv.ProbePath(("fd00:1::e1", "fd00:2::e2"), TAIL, ("fd00:2::e3", "fd00:1::e4"))
    rig.signalled("backup", "fd00::2", "ad")
    assert rig.prober.primary_sessions() != verdict.sessions
    on_action(verdict)  # the loop hears the verdict: stale
    assert rig.m.stats["liveness_stale_verdicts"] == 1
    assert rig.h.m.active == "primary" and rig.at(10) == rig.where_the_machine_says() == "fd00::1"
    assert rig.at(15) == "fd00::2"
    assert rig.m.stats["liveness_fast_undone"] == 1 and rig.m.stats["liveness_fast_restored"] == 1


def test_a_verdict_made_before_the_primary_changed_fires_nothing(rig):
    """A verdict on the old sessions still on its way out of the service
    when the loop gives the prober new paths (``LivenessService.handle``
    delivers it, inside ``_probe_sync``) finds no plan: the plan is dropped
    before the sessions change, so no thread deletes a route for it."""
    rig.signalled("primary", "fd00::1", "ab")
    rig.primary_up()
    verdict = rig.primary_silent()
    entry = rig.m.live.probers[1]
    rig.m.live._verdicts.append((entry, verdict))  # out of the prober, not yet delivered
    rig.m.probe_paths["r-primary"] = lv.ProbePath(("fd00:1::e1", "fd00:2::e2"), TAIL, ("fd00:2::e3", "fd00:1::e4"))
    rig.signalled("backup", "fd00::2", "ad")
    assert rig.m._fast.stats["fast_fired"] == 0 and rig.m.stats["liveness_stale_verdicts"] == 1
    assert rig.h.m.active == "primary" and rig.at(10) == "fd00::1" and rig.at(15) == "fd00::2"


def test_a_fast_delete_the_loop_follows_stays_and_the_machine_switches(rig):
    """The normal case: the delete leaves traffic on the backup route, the
    loop hears the verdict for the current sessions and the machine's
    Switch re-creates the primary metric with the backup: nothing undone."""
    on_action, verdict = rig.protected_and_fired()
    assert rig.at(10) is None and rig.at(15) == "fd00::2"  # traffic on the backup route at once
    on_action(verdict)
    assert rig.h.m.active == "backup" and rig.at(10) == rig.where_the_machine_says() == "fd00::2"
    assert rig.m.stats["liveness_SwitchToBackup"] == 1 and rig.m.stats["liveness_fast_undone"] == 0


def test_a_fast_switch_for_an_lsp_released_meanwhile_leaves_nothing(rig):
    """The verdict fired, then the LSP was released before the loop heard
    of it: the undo must not put back a route nobody holds."""
    on_action, verdict = rig.protected_and_fired()
    rig.m._probe_stop(rig.h)
    rig.h.legs.clear()  # their releases are signalling's (no event loop here)
    rig.m._feed(rig.h, L.ReleaseRequested(rig.now))
    rig.m._remove_routes(rig.h)
    rig.m.heads.pop(rig.h.id, None)
    on_action(verdict)
    assert rig.at(10) is None and rig.at(15) is None and not rig.kernel.registry


ALT = lv.ProbePath(("fd00:1::e1", "fd00:2::e2"), TAIL, ("fd00:2::e3", "fd00:1::e4"))
STEPS = st.sampled_from(["silent", "answer", "deliver", "new_path", "backup"])


@settings(max_examples=150, deadline=None)
@given(st.lists(STEPS, max_size=30))
def test_once_the_loop_heard_every_verdict_traffic_is_where_the_machine_says(steps):
    """Any interleaving of the prober thread's verdicts (each through its
    ``fast`` hook at once, to the loop later), the loop's hearing of them,
    new probe paths for the primary and the backup's installation: once
    the loop has heard every verdict, the primary metric carries what the
    machine's ``active`` says and the backup metric what it installed."""
    with pytest.MonkeyPatch.context() as mp:
        rig = Rig(mp)
        try:
            rig.signalled("primary", "fd00::1", "ab")
            rig.primary_up()
            on_action, fast = rig.hooks()
            queued = []

            def thread(answer: bool):
                """An outage long enough for a verdict, or answers enough for one back."""
                c = rig.prober.config
                for _ in range(c.multiplier + 1 if not answer else c.up_after + 1):
                    rig.now += c.interval
                    for a in rig.prober.handle(lv.Tick(rig.now)):
                        if isinstance(a, lv.SendProbe):
                            if answer:
                                for b in rig.prober.handle(lv.EchoReceived(rig.now, a.session, a.seq, a.stamp)):
                                    fast(b)
                                    queued.append(b)
                        else:
                            fast(a)
                            queued.append(a)

            alt = False
            for step in steps:
                if step in ("silent", "answer"):
                    thread(step == "answer")
                elif step == "deliver" and queued:
                    on_action(queued.pop(0))
                elif step == "new_path":
                    alt = not alt
                    rig.m.probe_paths["r-primary"] = ALT if alt else lv.ProbePath(("fd00::1",), TAIL)
                    rig.m._probe_sync(rig.h)  # the loop after an event that moved no route
                elif step == "backup" and "r-backup" not in {i.rid for i in rig.h.legs.values()}:
                    rig.signalled("backup", "fd00::2", "ad")
            while queued:
                on_action(queued.pop(0))
            m = rig.h.m
            assert rig.at(10) == rig.where_the_machine_says(), (m.active, rig.m.stats, rig.m._fast.stats)
            assert rig.at(15) == ("fd00::2" if m.backup_installed else None)
        finally:
            rig.close()
