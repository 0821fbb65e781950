"""The liveness prober (dataplane.liveness, pure) and its UDP shell
(agent.liveness) over IPv6 loopback: no root, no namespaces."""

import asyncio
import copy
import os
import select
import socket
import struct
import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from helpers import until
from hypothesis import given
from hypothesis import strategies as st

from pyfrr_pwr.agent.liveness import FastPlan, FastSwitch, LivenessService
from pyfrr_pwr.dataplane import liveness as lv
from pyfrr_pwr.dataplane import lsp as L

KEY = b"k" * 16
P = lv.ProbePath(("fd00:a00:1:2::a01:201", "fd00:a00:2:2::a02:302"), "fd00:a00:3::1", ("fd00:a00:3:2::a02:303", "fd00:a00:2:2::a01:202"))
B = lv.ProbePath(("fd00:a00:1:2::a01:e01",), "fd00:a00:3::1", ("fd00:a00:3:2::a05:e03",))
CFG = lv.ProberConfig(interval=0.02, multiplier=3, up_after=5)

segs = st.lists(st.integers(0, 2**128 - 1).map(lambda i: socket.inet_ntop(socket.AF_INET6, i.to_bytes(16, "big"))), max_size=lv.MAX_SEGMENTS)


# -- wire -----------------------------------------------------------------------


@given(
    st.sampled_from([lv.T_PROBE, lv.T_ECHO]),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**64 - 1),
    segs,
    st.booleans(),
)
def test_roundtrip(t, lsp_id, session, seq, stamp, ret, keyed):
    if t == lv.T_ECHO:
        ret = []
    key = KEY if keyed else None
    p = lv.decode(lv.encode(t, lsp_id, session, seq, stamp, ret, key), key)
    assert (p.type, p.lsp_id, p.session, p.seq, p.stamp, p.ret, p.authenticated) == (t, lsp_id, session, seq, stamp, tuple(ret), keyed)
    e = lv.echo_of(p, key)
    assert len(e) <= len(lv.encode(t, lsp_id, session, seq, stamp, ret, key))  # no amplification
    assert lv.decode(e, key).seq == seq


@given(st.binary(max_size=400))
def test_garbage_raises_only_probe_error(data):
    for key in (None, KEY):
        try:
            lv.decode(data, key)
        except lv.ProbeError as exc:
            assert exc.reason


@given(st.integers(0, 2**32 - 1), segs, st.data())
def test_any_flipped_bit_is_caught_with_a_key(seq, ret, data):
    raw = bytearray(lv.encode(lv.T_PROBE, 7, 2, seq, 99, ret, KEY))
    i = data.draw(st.integers(0, len(raw) * 8 - 1))
    raw[i // 8] ^= 1 << (i % 8)
    with pytest.raises(lv.ProbeError):
        lv.decode(bytes(raw), KEY)


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "short"),
        (b"XXXX" + bytes(24), "magic"),
        (lv.MAGIC + bytes([2]) + bytes(23), "version"),
        (lv.MAGIC + bytes([1, 9]) + bytes(22), "type"),
        (lv.MAGIC + bytes([1, 1, 0x80]) + bytes(21), "flags"),
        (lv.MAGIC + bytes([1, 2, 0, 1]) + bytes(24 + 16), "segments"),  # an echo naming return segments
        (lv.MAGIC + bytes([1, 1, 0, 200]) + bytes(20), "segments"),
        (lv.encode(lv.T_PROBE, 1, 0, 1, 0) + b"x", "length"),
    ],
)
def test_bad_packets_name_their_reason(data, reason):
    with pytest.raises(lv.ProbeError) as e:
        lv.decode(data)
    assert e.value.reason == reason


def test_key_required_and_checked():
    with pytest.raises(lv.ProbeError, match="unauthenticated"):
        lv.decode(lv.encode(lv.T_PROBE, 1, 0, 1, 0), KEY)
    with pytest.raises(lv.ProbeError, match="auth"):
        lv.decode(lv.encode(lv.T_PROBE, 1, 0, 1, 0, key=b"other"), KEY)


def test_return_segments_stay_in_the_domain():
    lv.check_return(P.ret, ["fd00::/16"])
    for bad in ("2001:db8::1", "fe80::1", "ff02::1", "::", "::1"):
        with pytest.raises(lv.ProbeError) as e:
            lv.check_return((P.ret[0], bad), ["fd00::/16", "::/0"] if bad != "2001:db8::1" else ["fd00::/16"])
        assert e.value.reason == "return"


def test_srh_layout():
    """RFC 8754 sec. 2: Segment List[0] is the last segment; Segments Left
    and Last Entry point at the first; Hdr Ext Len counts 8-octet units."""
    h = lv.srh(P.segs, P.target)
    nh, hlen, rtype, left, last, flags, tag = struct.unpack_from("!BBBBBBH", h)
    assert (rtype, left, last, hlen, len(h)) == (4, 2, 2, 6, 8 + 48)
    listed = [socket.inet_ntop(socket.AF_INET6, h[8 + 16 * i : 24 + 16 * i]) for i in range(3)]
    assert listed == [P.target, P.segs[1], P.segs[0]]
    with pytest.raises(ValueError):
        lv.srh((), P.target)


# -- the prober ------------------------------------------------------------------


class Run:
    """Drive a prober on a virtual clock; ``answer(t)`` decides whether a
    probe sent at t comes back (after ``rtt``)."""

    def __init__(self, cfg=CFG, backup=True, primary=P):
        self.p = lv.Prober(1, cfg)
        self.now = 0.0
        self.out = []
        self.pending = []  # (due, EchoReceived)
        self.p.handle(lv.SetPaths(0.0, primary, B if backup else None))

    def who(self, probe) -> str:
        """What ``answer`` is told about a probe: its path's role."""
        return probe.which

    def step(self, until, answer=lambda t, which: True, rtt=0.001):
        while True:
            d = self.p.next_deadline()
            nxt = min([d] + [e[0] for e in self.pending])
            if nxt > until:
                self.now = until
                return
            self.now = nxt
            for e in [e for e in self.pending if e[0] <= self.now]:
                self.pending.remove(e)
                self.out += [(self.now, a) for a in self.p.handle(e[1])]
            if d is not None and d <= self.now:
                for a in self.p.handle(lv.Tick(self.now)):
                    if isinstance(a, lv.SendProbe):
                        if answer(self.now, self.who(a)):
                            self.pending.append((self.now + rtt, lv.EchoReceived(self.now + rtt, a.session, a.seq, a.stamp)))
                    else:
                        self.out.append((self.now, a))

    def names(self):
        return [type(a).__name__ for _, a in self.out]


def test_up_on_first_echo_and_quiet_while_answered():
    r = Run()
    r.step(10.0)
    assert r.p.state("primary") is lv.PathState.UP and r.p.state("backup") is lv.PathState.UP
    assert r.out == []
    assert r.p.stats["probes"] == pytest.approx(2 * 10.0 / CFG.interval, abs=4)


def test_no_answer_ever_is_no_verdict():
    r = Run()
    r.step(10.0, answer=lambda t, w: False)
    assert r.p.state() is lv.PathState.INIT and r.out == []


@pytest.mark.parametrize("mult", [2, 3, 5])
def test_down_after_exactly_multiplier_unanswered(mult):
    cfg = lv.ProberConfig(interval=0.02, multiplier=mult, up_after=3)
    r = Run(cfg)
    fail = 1.0
    r.step(3.0, answer=lambda t, w: not (w == "primary" and t >= fail))
    (t, a), *rest = r.out
    assert isinstance(a, lv.SwitchToBackup) and rest == []
    # mult probes sent at or after the failure, the last one given one interval
    i = cfg.interval
    assert fail + mult * i - 1e-6 <= t <= fail + (mult + 1) * i + 1e-6
    assert r.p.state("backup") is lv.PathState.UP
    assert a.event() == L.LivenessLost(t, "primary")


def test_debounced_return():
    r = Run()
    r.step(1.0)
    r.step(2.0, answer=lambda t, w: w != "primary")
    assert r.names() == ["SwitchToBackup"]
    # flapping: answers with a gap every 4th probe never reach 5 in a row
    n = {"i": 0}

    def flap(t, w):
        if w == "backup":
            return True
        n["i"] += 1
        return n["i"] % 4 != 0

    r.step(4.0, answer=flap)
    assert r.names() == ["SwitchToBackup"]
    assert r.p.state() is lv.PathState.DOWN
    r.step(6.0)
    assert r.names() == ["SwitchToBackup", "SwitchBack"]
    t_back = r.out[-1][0]
    assert 4.0 + (CFG.up_after - 1) * CFG.interval <= t_back <= 4.0 + (CFG.up_after + 1) * CFG.interval


def test_backup_down_and_up():
    r = Run()
    r.step(1.0)
    r.step(2.0, answer=lambda t, w: w != "backup")
    r.step(3.0)
    assert r.names() == ["BackupDown", "BackupUp"]
    assert [a.event() for _, a in r.out] == [L.LivenessLost(r.out[0][0], "backup"), L.LivenessRestored(r.out[1][0], "backup")]


def test_a_stalled_agent_does_not_declare_paths_dead():
    """No ticks for a second (the loop was busy): nothing was sent, so
    nothing was missed."""
    r = Run()
    r.step(1.0)
    acts = r.p.handle(lv.Tick(2.0))
    assert not [a for a in acts if not isinstance(a, lv.SendProbe)]
    assert len([a for a in acts if isinstance(a, lv.SendProbe)]) == 2  # one per path, no burst
    r.now = 2.0
    r.step(3.0)
    assert r.out == [] and r.p.state() is lv.PathState.UP


def test_stale_and_forged_echoes_are_ignored():
    r = Run(backup=False)
    r.step(0.5)
    old = r.p.sessions["primary"].session
    r.p.handle(lv.SetPaths(0.5, B))  # a new primary: a new session
    assert r.p.state() is lv.PathState.INIT
    assert r.p.handle(lv.EchoReceived(0.51, old, r.p.sessions["primary"].seq + 1)) == []
    assert r.p.stats["echo_stale"] == 1
    s = r.p.sessions["primary"].session
    assert r.p.handle(lv.EchoReceived(0.51, s, 12345)) == []  # never sent
    assert r.p.stats["echo_unexpected"] == 1 and r.p.state() is lv.PathState.INIT
    r.p.handle(lv.SetPaths(0.6, B))  # the same path again: same session
    assert r.p.sessions["primary"].session == s


@given(st.lists(st.tuples(st.floats(0.01, 0.5), st.booleans(), st.booleans()), min_size=1, max_size=30))
def test_verdicts_alternate_and_need_evidence(phases):
    """Random up/down phases per path: switch actions alternate per path
    (down, up, down, ...) and never come before the path answered once."""
    r = Run()
    t = 0.0
    for dur, pa, ba in phases:
        t += dur
        r.step(t, answer=lambda _t, w, pa=pa, ba=ba: pa if w == "primary" else ba)
    for down, up in ((lv.SwitchToBackup, lv.SwitchBack), (lv.BackupDown, lv.BackupUp)):
        seq = [type(a) for _, a in r.out if isinstance(a, (down, up))]
        assert all(x is (down if i % 2 == 0 else up) for i, x in enumerate(seq))


def test_config_bounds():
    for kw in ({"interval": 0.001}, {"interval": float("nan")}, {"multiplier": 1}, {"multiplier": True}, {"up_after": 0}):
        with pytest.raises(ValueError):
            lv.ProberConfig(**kw)


def test_switch_drives_the_lsp_machine():
    """SwitchToBackup/SwitchBack feed lsp.Lsp, which moves the route."""
    from pyfrr_pwr.dataplane.lspmsg import LspConfig

    lsp = L.Lsp(1, "10.0.0.1", "10.0.0.3", ["192.168.3.0/24"], config=LspConfig(wtr=0))
    prim = L.LspPath((("10.0.0.1", "10.0.0.2", "10.1.2.1"), ("10.0.0.2", "10.0.0.3", "10.2.3.2")), 2.0)
    bk = L.LspPath((("10.0.0.1", "10.0.0.4", "10.1.4.1"), ("10.0.0.4", "10.0.0.3", "10.4.3.4")), 3.0)
    acts = lsp.handle(L.SetupRequested(0.0, (prim,), bk))
    for a in acts:
        lsp.handle(L.SignallingSucceeded(0.0, a.sig, ("fd00::1",)))
    assert lsp.active == "primary"
    out = lsp.handle(lv.SwitchToBackup(1, 1.0).event())
    assert any(isinstance(a, L.Switch) and a.to == "backup" for a in out)
    out = lsp.handle(lv.SwitchBack(1, 2.0).event())
    assert any(isinstance(a, L.Switch) and a.to == "primary" for a in out)


# -- the shell over loopback -------------------------------------------------------


@pytest.fixture
def v6_loopback():
    """::1 to bind the shells to. CI (root, FRR) always has it: there its
    absence fails the test instead of skipping it."""
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind(("::1", 0))
        s.close()
    except OSError as exc:
        (pytest.fail if os.environ.get("CI") else pytest.skip)(f"no IPv6 loopback: {exc}")


async def _reflector_and_head(threaded=False):
    """A reflector and a head-end shell on ::1, started: (reflector's
    socket, head's socket, reflector, head, the reflector's port)."""
    refl_sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    refl_sock.bind(("::1", 0))
    port = refl_sock.getsockname()[1]
    head_sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    head_sock.bind(("::1", 0))
    refl = LivenessService(sock=refl_sock, key=KEY, mark=None, allowed=["::1/128"])
    head = LivenessService(sock=head_sock, port=port, key=KEY, mark=None, threaded=threaded)
    await refl.start()
    await head.start()
    return refl_sock, head_sock, refl, head, port


def test_shell_probes_reflects_and_survives_garbage(v6_loopback):
    async def main():
        refl_sock, head_sock, refl, head, port = await _reflector_and_head()
        got = []
        pr = lv.Prober(5, lv.ProberConfig(interval=0.01, multiplier=3, up_after=2))
        head.add(pr, got.append)
        head.handle(5, lv.SetPaths(asyncio.get_running_loop().time(), lv.ProbePath((), "::1")))
        for _ in range(300):
            if pr.state() is lv.PathState.UP:
                break
            await asyncio.sleep(0.01)
        assert pr.state() is lv.PathState.UP
        # hostile datagrams at the reflector
        evil = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        for d in (
            b"",
            b"\xff" * 3000,
            lv.encode(lv.T_PROBE, 1, 0, 1, 0),
            lv.encode(lv.T_PROBE, 1, 0, 1, 0, ("2001:db8::1",), KEY),
            lv.encode(lv.T_ECHO, 99, 0, 1, 0, (), KEY),
        ):
            evil.sendto(d, ("::1", port))
        evil.close()
        for _ in range(100):
            if sum(v for k, v in refl.stats.items() if k.startswith("drop")) >= 4:
                break
            await asyncio.sleep(0.01)
        # the reflector dies: the head switches
        await refl.stop()
        refl_sock.close()
        for _ in range(300):
            if got:
                break
            await asyncio.sleep(0.01)
        await head.stop()
        head_sock.close()
        return refl.stats, head.stats, got

    rstats, hstats, got = asyncio.run(main())
    for r in ("short", "unauthenticated", "return", "unknown_lsp"):
        assert rstats[f"drop_{r}"] >= 1, (r, rstats)
    assert rstats["echo_tx"] >= 1 and hstats["probe_tx"] >= 1
    assert [type(a) for a in got] == [lv.SwitchToBackup]


def test_grace_tolerates_slow_echoes():
    """Echoes 90 ms late: with the grace of one interval (20 ms) three
    probes are outstanding and the path is declared down; a 100 ms grace
    lets them be."""
    r = Run(lv.ProberConfig(interval=0.02, multiplier=3, up_after=5), backup=False)
    r.step(2.0, rtt=0.09)
    assert "SwitchToBackup" in r.names()
    r = Run(lv.ProberConfig(interval=0.02, multiplier=3, up_after=5, grace=0.1), backup=False)
    r.step(2.0, rtt=0.09)
    assert r.out == [] and r.p.state() is lv.PathState.UP
    assert r.p.config.detect == pytest.approx(0.14)
    with pytest.raises(ValueError):
        lv.ProberConfig(grace=0)


# -- equal-PWR legs (--ecmp): every leg watched ----------------------------------------

LEGS = (
    P,
    lv.ProbePath(("fd00:a00:1:3::a01:301", "fd00:a00:6:2::a06:302"), "fd00:a00:3::1", ("fd00:a00:3:6::a06:303", "fd00:a00:6:1::a01:306")),
    lv.ProbePath(("fd00:a00:1:4::a01:401", "fd00:a00:7:2::a07:302"), "fd00:a00:3::1", ("fd00:a00:3:7::a07:303", "fd00:a00:7:1::a01:407")),
)


class RunLegs(Run):
    """``Run`` with the primary a set of legs; ``answer(t, name)`` gets the
    session's name (``primary``, ``primary.1``, ..., ``backup``)."""

    def __init__(self, legs=LEGS, cfg=CFG):
        super().__init__(cfg, primary=legs)

    def step(self, until, answer=lambda t, name: True, rtt=0.001):
        self._names = {s.session: n for n, s in self.p.sessions.items()}  # as the step starts
        super().step(until, answer, rtt)

    def who(self, probe) -> str:
        return self._names.get(probe.session)


def test_every_leg_is_probed_over_its_own_sid_list():
    r = RunLegs()
    sent = []
    for a in r.p.handle(lv.Tick(0.0)):
        sent.append((a.which, a.path))
    assert sent == [("primary", LEGS[0]), ("primary", LEGS[1]), ("primary", LEGS[2]), ("backup", B)]
    assert sorted(r.p.sessions) == ["backup", "primary", "primary.1", "primary.2"]
    assert len({s.session for s in r.p.sessions.values()}) == 4  # each its own session: echoes are told apart
    r.step(2.0)
    assert r.out == [] and all(s.state is lv.PathState.UP for s in r.p.sessions.values())


def test_a_failed_leg_leaves_the_multipath_and_rejoins():
    """Draft sec. 2.1.5: a failed leg of the equal-PWR set is dropped from the
    multipath (the others carry the traffic, no backup), and comes back
    after ``up_after`` echoes in a row."""
    r = RunLegs()
    r.step(1.0)
    r.step(2.0, answer=lambda t, n: n != "primary.1")
    (t, a), *rest = r.out
    assert isinstance(a, lv.LegDown) and rest == []
    assert (a.leg, a.alive) == (1, (0, 2))
    assert 1.0 + CFG.multiplier * CFG.interval - 1e-6 <= t <= 1.0 + CFG.detect + 2 * CFG.interval
    assert r.p.state("primary.1") is lv.PathState.DOWN and r.p.alive() == (0, 2)
    r.step(3.0)
    assert r.names() == ["LegDown", "LegUp"]
    assert (r.out[1][1].leg, r.out[1][1].alive) == (1, (0, 1, 2))


def test_all_legs_failed_switches_to_the_backup_once():
    """Legs fail one after another: LegDown, LegDown, then SwitchToBackup
    for the last one (traffic to the backup); the first leg back gives
    SwitchBack with only that leg alive."""
    r = RunLegs()
    r.step(1.0)
    r.step(1.5, answer=lambda t, n: n != "primary")
    r.step(2.0, answer=lambda t, n: n not in ("primary", "primary.2"))
    r.step(2.5, answer=lambda t, n: n == "backup")
    assert r.names() == ["LegDown", "LegDown", "SwitchToBackup"]
    assert [a.leg for _, a in r.out[:2]] == [0, 2] and r.p.alive() == ()
    assert r.out[2][1].event() == L.LivenessLost(r.out[2][0], "primary")
    r.step(3.0, answer=lambda t, n: n in ("primary.2", "backup"))
    assert r.names()[3:] == ["SwitchBack"] and r.out[3][1].alive == (2,)
    r.step(3.5)
    assert r.names()[4:] == ["LegUp", "LegUp"]


def test_all_legs_failing_together_give_one_switch():
    r = RunLegs()
    r.step(1.0)
    r.step(2.0, answer=lambda t, n: n == "backup")
    assert r.names() == ["SwitchToBackup"] and r.p.state("backup") is lv.PathState.UP


def test_one_leg_is_the_single_path_prober():
    """A one-leg set behaves exactly like a single primary: no Leg* actions."""
    r1, r2 = Run(), RunLegs(legs=(P,))
    for rr in (r1, r2):
        rr.step(1.0)
        rr.step(2.0, answer=lambda t, n: n == "backup")
        rr.step(3.0)
    assert r1.names() == r2.names() == ["SwitchToBackup", "SwitchBack"]
    assert [t for t, _ in r1.out] == [t for t, _ in r2.out]


def test_a_changed_set_keeps_live_legs_and_restarts_dead_ones():
    r = RunLegs()
    r.step(1.0)
    keep = r.p.sessions["primary"].session
    r.step(2.0, answer=lambda t, n: n != "primary.1")
    assert r.names() == ["LegDown"]
    dead = r.p.sessions["primary.1"].session
    r.p.handle(lv.SetPaths(2.0, (LEGS[1], LEGS[0]), B))  # leg 2 gone, order changed
    assert r.p.sessions["primary.1"].session == keep and r.p.state("primary.1") is lv.PathState.UP
    assert r.p.sessions["primary"].session != dead and r.p.state("primary") is lv.PathState.INIT
    assert r.p.handle(lv.EchoReceived(2.01, dead, r.p.sessions["primary"].seq)) == [] and r.p.stats["echo_stale"] == 1


@given(st.lists(st.tuples(st.floats(0.05, 0.4), st.tuples(st.booleans(), st.booleans(), st.booleans())), min_size=1, max_size=25))
def test_legs_verdicts_are_consistent(phases):
    """Random up/down phases per leg: SwitchToBackup and SwitchBack
    alternate; a Leg* action never comes while the primary is switched
    away; after each action ``alive`` is what the legs' states say."""
    r = RunLegs()
    r.step(0.5)
    t = 0.5
    names = ("primary", "primary.1", "primary.2")
    for dur, up in phases:
        t += dur
        r.step(t, answer=lambda _t, n, up=up: n == "backup" or up[names.index(n)])
    away = False
    for _, a in r.out:
        if isinstance(a, lv.SwitchToBackup):
            assert not away
            away = True
        elif isinstance(a, lv.SwitchBack):
            assert away and a.alive
            away = False
        elif isinstance(a, (lv.LegDown, lv.LegUp)):
            assert not away and a.alive and (a.leg in a.alive) == isinstance(a, lv.LegUp)
    assert away == (not any(r.p.state(n) is lv.PathState.UP for n in names))


def test_a_new_return_route_keeps_the_session_and_its_verdict():
    """The agent derives the echo's return segments from the TED, which
    changes when a link of the path goes down (OSPF floods it): the same
    forward path with another return route is the same session, so the
    failure being counted is not forgotten (a restart to INIT would give
    no verdict at all)."""
    import dataclasses

    r = Run()
    r.step(1.0)
    s = r.p.sessions["primary"].session
    r.step(1.03, answer=lambda t, w: w != "primary")
    r.p.handle(lv.SetPaths(1.03, dataclasses.replace(P, ret=()), B))  # the TED lost a link: echo over the IGP
    assert r.p.sessions["primary"].session == s and r.p.state() is lv.PathState.UP
    assert r.p.sessions["primary"].path.ret == ()
    r.step(1.5, answer=lambda t, w: w != "primary")
    assert r.names() == ["SwitchToBackup"]
    assert r.out[0][0] <= 1.0 + CFG.detect + 2 * CFG.interval


def test_a_stall_of_our_own_loop_with_echoes_queued_is_no_verdict():
    """Probes in flight when the head-end's loop stalls: the late tick comes
    before the echoes (still queued on the socket) are read. The stall is not
    the path's fault: no verdict (fig-2-0's idle run gave 23 false
    switch-overs this way, every probe answered)."""
    cfg = lv.ProberConfig(interval=0.02, multiplier=3, up_after=5, grace=0.06)
    r = Run(cfg, backup=False)
    held = []
    r.step(1.0, answer=lambda t, w: True, rtt=0.05)  # three probes in flight at any time
    held = sorted(r.pending, key=lambda e: e[0])
    assert len(held) >= 2
    r.pending = []
    acts = r.p.handle(lv.Tick(1.6))  # the loop was busy for 0.6 s
    assert not [a for a in acts if not isinstance(a, lv.SendProbe)]
    for _, e in held:  # then the queued echoes are read
        assert r.p.handle(lv.EchoReceived(1.6, e.session, e.seq, e.stamp)) == []
    r.now = 1.6
    r.step(3.0, rtt=0.05)
    assert r.out == [] and r.p.state() is lv.PathState.UP and r.p.stats["stalls"] >= 1


def test_a_real_failure_across_a_stall_is_still_seen():
    cfg = lv.ProberConfig(interval=0.02, multiplier=3, up_after=5, grace=0.06)
    r = Run(cfg)
    r.step(1.0)
    r.p.handle(lv.Tick(1.5))  # a stall, and the primary died meanwhile
    r.now = 1.5
    r.step(2.0, answer=lambda t, w: w != "primary")
    assert r.names() == ["SwitchToBackup"] and r.out[0][0] <= 1.5 + cfg.detect + 3 * cfg.interval


def test_the_shell_reads_every_queued_datagram_before_a_timer_round(v6_loopback):
    """asyncio's datagram transport reads one datagram per readiness event;
    ``_drain`` empties the socket first, so queued echoes count before the
    prober's tick."""
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind(("::1", 0))
    svc = LivenessService(sock=s, mark=None)
    tx = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        for _ in range(3):
            tx.sendto(b"garbage", s.getsockname()[:2])
        select.select([s], [], [], 5.0)  # loopback queues each datagram at sendto; wait for readiness, not a guess
        svc._drain()
        assert svc.stats["drained"] == 3 and svc.stats["drop_short"] == 3
        svc._drain()  # empty: returns at once
        assert svc.stats["drained"] == 3
    finally:
        tx.close()
        s.close()


def test_leg_verdicts_drive_the_lsp_machine():
    """LegDown/LegUp re-route the multipath over the legs left; the last
    leg's loss goes to the backup."""
    from pyfrr_pwr.dataplane.lspmsg import LspConfig

    lsp = L.Lsp(1, "10.0.0.1", "10.0.0.3", ["192.168.3.0/24"], config=LspConfig(wtr=0))
    p1 = L.LspPath((("10.0.0.1", "10.0.0.2", "10.1.2.1"), ("10.0.0.2", "10.0.0.3", "10.2.3.2")), 2.0)
    p2 = L.LspPath((("10.0.0.1", "10.0.0.5", "10.1.5.1"), ("10.0.0.5", "10.0.0.3", "10.5.3.5")), 2.0)
    bk = L.LspPath((("10.0.0.1", "10.0.0.4", "10.1.4.1"), ("10.0.0.4", "10.0.0.3", "10.4.3.4")), 3.0)
    for i, a in enumerate(lsp.handle(L.SetupRequested(0.0, (p1, p2), bk))):
        lsp.handle(L.SignallingSucceeded(0.0, a.sig, (f"fd00::{i + 1}",)))
    assert lsp.active == "primary" and len(lsp.primary) == 2

    def switch(out):
        (s,) = [a for a in out if isinstance(a, L.Switch)]
        return s.to, len(s.legs)

    assert switch(lsp.handle(lv.LegDown(1, 1.0, 1, (0,)).event())) == ("primary", 1)
    assert switch(lsp.handle(lv.LegUp(1, 2.0, 1, (0, 1)).event())) == ("primary", 2)
    assert switch(lsp.handle(lv.LegDown(1, 3.0, 0, (1,)).event())) == ("primary", 1)
    assert switch(lsp.handle(lv.SwitchToBackup(1, 4.0).event())) == ("backup", 1)
    assert switch(lsp.handle(lv.SwitchBack(1, 5.0, (1,)).event())) == ("primary", 1)


# -- the switch in the prober's thread (docs/protection.md sec. 4c) --------------------------

PRIM = L.LspPath((("10.0.0.1", "10.0.0.2", "10.1.2.1"), ("10.0.0.2", "10.0.0.3", "10.2.3.2")), 2.0)
BK = L.LspPath((("10.0.0.1", "10.0.0.4", "10.1.4.1"), ("10.0.0.4", "10.0.0.3", "10.4.3.4")), 3.0)
ALT = L.LspPath((("10.0.0.1", "10.0.0.5", "10.1.5.1"), ("10.0.0.5", "10.0.0.3", "10.5.3.5")), 1.0)
KERNEL = (L.InstallEncap, L.Switch, L.InstallBackup, L.RemoveEncap, L.RemoveBackup)


def _up_lsp():
    from pyfrr_pwr.dataplane.lspmsg import LspConfig

    m = L.Lsp(1, "10.0.0.1", "10.0.0.3", ["192.168.3.0/24"], config=LspConfig(wtr=0, holddown=0))
    for a in m.handle(L.SetupRequested(0.0, (PRIM,), BK)):
        m.handle(L.SignallingSucceeded(0.0, a.sig, (f"fd00::{a.sig}",)))
    return m


def _answer(m, a, now, ok):
    """Signalling's answer to a Signal the machine gave."""
    if isinstance(a, L.Signal):
        ev = L.SignallingSucceeded(now, a.sig, (f"fd00::{a.sig}",)) if ok else L.SignallingFailed(now, a.sig, "no")
        return m.handle(ev)
    return []


EVENTS = st.sampled_from(["lost", "restored", "backup_lost", "backup_restored", "tick", "reopt", "reopt_ok", "reopt_fail", "link_down", "release"])


@given(st.lists(EVENTS, max_size=14))
def test_the_plan_is_what_the_machine_then_does(seq):
    """``switch_plan`` at any point of an LSP's life is exactly the kernel
    part of the machine's answer to LivenessLost(primary) there, and
    asking it changes nothing in the machine."""
    m = _up_lsp()
    now, sigs = 1.0, []
    for e in seq:
        now += 0.5
        before = copy.deepcopy(m.__dict__)
        plan = lv.switch_plan(m, now)
        assert m.__dict__ == before  # the machine was only asked
        if e == "lost":
            assert plan == tuple(a for a in m.handle(L.LivenessLost(now, "primary")) if isinstance(a, KERNEL))
        elif e == "restored":
            m.handle(L.LivenessRestored(now, "primary"))
        elif e in ("backup_lost", "backup_restored"):
            m.handle((L.LivenessLost if e == "backup_lost" else L.LivenessRestored)(now, "backup"))
        elif e == "tick":
            m.handle(L.Tick(now + 5))
        elif e == "reopt":
            sigs += [a for a in m.handle(L.PwrChanged(now, (ALT,), 2.0)) if isinstance(a, L.Signal)]
        elif e in ("reopt_ok", "reopt_fail") and sigs:
            _answer(m, sigs.pop(0), now, e == "reopt_ok")
        elif e == "link_down":
            m.handle(L.LinkDown(now, PRIM.edges[1]))
        elif e == "release":
            m.handle(L.ReleaseRequested(now))
    plan = lv.switch_plan(m, now + 1)
    assert plan == tuple(a for a in m.handle(L.LivenessLost(now + 1, "primary")) if isinstance(a, KERNEL))


def test_the_plan_of_an_up_lsp_is_the_switch_to_its_backup():
    m = _up_lsp()
    (sw,) = lv.switch_plan(m, 1.0)
    assert isinstance(sw, L.Switch) and sw.to == "backup" and sw.legs[0].segs == m.backup.segs
    m.handle(L.LivenessLost(1.0, "primary"))
    assert lv.switch_plan(m, 2.0) == ()  # on the backup already: nothing to do


def test_a_verdict_names_the_sessions_it_judged():
    r = Run(backup=True)
    r.step(1.0)
    judged = r.p.primary_sessions()
    r.step(2.0, answer=lambda t, which: which != "primary" or t < 1.5)
    (sw,) = [a for _, a in r.out if isinstance(a, lv.SwitchToBackup)]
    assert sw.sessions == judged
    r.p.handle(lv.SetPaths(r.now, B, P))  # a new primary: new sessions
    assert r.p.primary_sessions() != judged


def test_probes_of_every_session_and_prober_share_one_grid():
    """Sessions started at different times send on common multiples of the
    interval after their first probe: one wake-up per interval for all."""
    probers = [lv.Prober(i, CFG) for i in (1, 2)]
    probers[0].handle(lv.SetPaths(0.0031, P, B))
    probers[1].handle(lv.SetPaths(0.0117, B, P))
    sends: dict = {}
    now = 0.0
    for _ in range(200):
        ds = [d for p in probers if (d := p.next_deadline()) is not None]
        now = max(now, min(ds))
        for p in probers:
            for a in p.handle(lv.Tick(now)):
                if isinstance(a, lv.SendProbe):
                    sends.setdefault((p.lsp_id, a.which), []).append(now)
                    p.handle(lv.EchoReceived(now, a.session, a.seq, a.stamp))
    later = [set(round(t / CFG.interval, 6) for t in ts[1:]) for ts in sends.values()]
    assert len(sends) == 4 and all(x == later[0] for x in later) and all(k == int(k) for k in later[0])


class _Kernel:
    """A kernel thread (one worker, as agent.lsps._OwnThread) with a route
    registry; ``route`` stands for a route change made there."""

    def __init__(self):
        self.ex = ThreadPoolExecutor(1)
        self.registry = {("v4", "p", 10): "primary"}
        self.log = []

    def route(self, what):
        self.registry[("v4", "p", 10)] = what
        self.log.append(what)

    def plan(self, sessions=(2,), what="backup"):
        return FastPlan(1, "lsp", sessions, tuple(self.registry.items()), (lambda: self.route(what),))


def test_a_prepared_switch_runs_once_on_the_kernel_thread():
    k = _Kernel()
    done = []
    fs = FastSwitch(k.ex.submit, k.registry, lambda plan, r: done.append(r))
    fs.arm(1, k.plan())
    assert fs.fire(1, lv.SwitchToBackup(1, 1.0, (2,))) is not None
    assert fs.fire(1, lv.SwitchToBackup(1, 1.0, (2,))) is None  # one shot
    k.ex.shutdown(wait=True)
    assert k.log == ["backup"] and done == ["done"] and fs.stats["fast_skipped"] == 1


def test_a_make_before_break_first_wins_over_a_prepared_switch():
    """The loop's route change queued before the verdict (a make-before-break
    installing the new primary) changes the registry: the plan finds it
    stale and does nothing."""
    k = _Kernel()
    done = []
    fs = FastSwitch(k.ex.submit, k.registry, lambda plan, r: done.append(r))
    fs.arm(1, k.plan())
    gate = threading.Event()
    k.ex.submit(gate.wait, 10)
    k.ex.submit(k.route, "new primary")  # the loop's InstallEncap, queued first
    assert fs.fire(1, lv.SwitchToBackup(1, 1.0, (2,))) is not None
    gate.set()
    k.ex.shutdown(wait=True)
    assert k.log == ["new primary"] and done == ["stale"] and k.registry[("v4", "p", 10)] == "new primary"


def test_no_switch_for_other_sessions_after_a_release_or_after_another_verdict():
    k = _Kernel()
    fs = FastSwitch(k.ex.submit, k.registry)
    fs.arm(1, k.plan(sessions=(2,)))
    assert fs.fire(1, lv.SwitchToBackup(1, 1.0, (4,))) is None  # a verdict on a replaced primary
    fs.arm(1, k.plan())
    fs.drop(1)  # a release: before its routes go
    assert fs.fire(1, lv.SwitchToBackup(1, 1.0, (2,))) is None
    fs.arm(1, k.plan())
    assert fs.fire(1, lv.BackupDown(1, 1.0)) is None  # the machine's answer changes with it
    assert fs.plan(1) is None and fs.fire(1, lv.SwitchToBackup(1, 1.0, (2,))) is None
    k.ex.shutdown(wait=True)
    assert k.log == []


def test_a_switch_the_loop_does_not_follow_is_undone_one_it_follows_is_kept():
    """``settle`` (docs/protection.md sec. 4c): steps the thread ran for a
    verdict the loop then dropped are reverted on the kernel's thread;
    kept when the machine answered it; and a route the loop changed since
    (queued before the undo) stays the loop's."""
    k = _Kernel()
    key = ("v4", "p", 10)
    fs = FastSwitch(k.ex.submit, k.registry, netlink=SimpleNamespace(reinstall=k.route))
    results = []
    for followed, loop_after in ((False, None), (True, None), (False, "new primary")):
        k.route("primary")
        fs.arm(1, k.plan())
        v = lv.SwitchToBackup(1, 1.0, (2,))
        assert fs.fire(1, v) is not None
        rec = fs.fired(1, v)
        assert rec is not None and fs.fired(1, v) is None  # taken once
        if loop_after:
            k.ex.submit(k.route, loop_after)
        results.append((fs.settle(rec, followed).result(), k.registry[key]))
    k.ex.shutdown(wait=True)
    assert results == [(1, "primary"), (0, "backup"), (0, "new primary")]
    assert fs.fired(1, lv.SwitchToBackup(1, 1.0, (2,))) is None  # another verdict object: nothing fired for it


def test_the_threaded_shell_acts_while_the_event_loop_is_blocked(v6_loopback):
    """With ``threaded=True`` the prober's verdict and its ``fast`` hook
    come from the service's own thread while the event loop is blocked
    (here: waiting for that very hook); ``on_action`` follows on the loop."""

    async def main():
        refl_sock, head_sock, refl, head, port = await _reflector_and_head(threaded=True)
        fast, acts, hooked = [], [], threading.Event()

        def on_fast(a):
            fast.append((type(a).__name__, threading.current_thread().name))
            hooked.set()

        pr = lv.Prober(5, lv.ProberConfig(interval=0.01, multiplier=3, up_after=2))
        head.add(pr, lambda a: acts.append((type(a).__name__, threading.current_thread().name)), on_fast)
        head.handle(5, lv.SetPaths(asyncio.get_running_loop().time(), lv.ProbePath((), "::1")))
        await until(lambda: head.snapshot(5)["primary"]["state"] == "up", "the primary up", 3)
        await refl.stop()  # no more echoes
        refl_sock.close()
        assert hooked.wait(10)  # the loop blocked: only the service's thread can get here
        acted_while_blocked = list(acts)
        await until(lambda: acts, "the verdict on the loop", 3)
        await head.stop()
        head_sock.close()
        return fast, acts, acted_while_blocked, head.stats

    fast, acts, while_blocked, stats = asyncio.run(main())
    main_thread = threading.main_thread().name
    assert fast == [("SwitchToBackup", "liveness")]
    assert while_blocked == [] and acts == [("SwitchToBackup", main_thread)]
    assert stats["probe_tx"] >= 3 and stats["SwitchToBackup"] == 1


def test_the_threaded_shells_thread_runs_at_its_own_nice_value(monkeypatch, v6_loopback):
    """``nice`` is the liveness thread's priority alone (setpriority on its
    thread id, docs/protection.md sec. 4c), not the agent's; a refusal
    (no CAP_SYS_NICE) is counted and the thread probes on."""
    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    async def run(nice):
        refl_sock, head_sock, refl, head, port = await _reflector_and_head(threaded=True)
        head.nice = nice
        await head.stop()  # started before ``nice`` was set: again with it
        await head.start()
        tid = head._thread.native_id
        await until(lambda: os.getpriority(os.PRIO_PROCESS, tid) == nice or head.stats["nice_refused"], "the thread's nice value or its refusal", 3)
        pr = lv.Prober(5, lv.ProberConfig(interval=0.01, multiplier=3, up_after=2))
        head.add(pr, lambda a: None)
        head.handle(5, lv.SetPaths(asyncio.get_running_loop().time(), lv.ProbePath((), "::1")))
        await until(lambda: head.snapshot(5)["primary"]["state"] == "up", "the primary up", 3)
        out = (os.getpriority(os.PRIO_PROCESS, tid), dict(head.stats))
        for s in (head, refl):
            await s.stop()
        refl_sock.close()
        head_sock.close()
        return out

    prio, stats = asyncio.run(run(own + 3))
    assert prio == own + 3 and "nice_refused" not in stats
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == own  # the agent's own thread is left alone

    def refuse(*a):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "setpriority", refuse)
    prio, stats = asyncio.run(run(-10))
    assert prio == own and stats["nice_refused"] == 1  # and its primary came up: it probed on


def _manager_with_routes(backup_installed=True):
    """A LivenessMixin (agent.lsp_live) over an UP LSP, its routes in a
    Netlink registry as HeadEndMixin._install puts them (no kernel)."""
    from pyfrr_pwr.agent.lsp_head import _Head, _LegInfo
    from pyfrr_pwr.agent.lsp_live import LivenessMixin
    from pyfrr_pwr.dataplane.netlink import EncapRoute, Netlink, Nexthop

    pfx = "192.168.3.0/24"
    m = L.Lsp(1, "10.0.0.1", "10.0.0.3", [pfx])
    acts = m.handle(L.SetupRequested(0.0, (PRIM,), BK))
    h = _Head("lsp", 1, "10.0.0.3", 0.0, (), None, {}, m, prefixes=(pfx,))
    for a, dev in zip(acts, ("ab", "ad")):
        info = _LegInfo(f"r{a.sig}", (), (), None, (f"fd00::{a.sig}",), {pfx: "fd00:3::64"}, dev, 1.0)
        h.by_segs[(*info.segs, info.dx4[pfx])] = info
        m.handle(L.SignallingSucceeded(0.0, a.sig, (*info.segs, info.dx4[pfx])))
    inner = Netlink.__new__(Netlink)  # no socket: the registry and the message builder only
    inner.table, inner.proto, inner.registry = 254, 240, {}
    route = lambda n, dev, metric: EncapRoute(pfx, (Nexthop((f"fd00::{n}", "fd00:3::64"), dev, 1),), metric)  # noqa: E731
    inner.registry[(socket.AF_INET, pfx, 10)] = route(1, "ab", 10)
    if backup_installed:
        inner.registry[(socket.AF_INET, pfx, 15)] = route(2, "ad", 15)

    class Nl:
        plain = inner

        def ifindex(self, dev):
            return {"ab": 2, "ad": 3}[dev]

    class Mgr(LivenessMixin):
        pass

    mgr = Mgr()
    mgr.nl, mgr.config = Nl(), m.config
    mgr._fast = FastSwitch(None, inner.registry, sock=object())  # a socket: exact deletes wanted
    mgr._fast_ifindex = {}
    return mgr, h, inner


def test_the_agent_prepares_an_exact_delete_of_the_primary_route():
    """The machine's Switch to the installed backup becomes one RTM_DELROUTE
    naming the primary route's device and SRH (what the kernel compares)."""
    from pyroute2.netlink.rtnl import RTM_DELROUTE

    from pyfrr_pwr.dataplane.netlink import _rtmsg

    mgr, h, inner = _manager_with_routes()
    plan = mgr._plan_of(h, lv.switch_plan(h.m, 1.0), inner.registry, (2,))
    assert plan.sessions == (2,) and len(plan.deletes) == 1 and plan.steps == ()
    msg = _rtmsg(plan.deletes[0])
    msg.decode()
    assert msg["header"]["type"] == RTM_DELROUTE and msg.get_attr("RTA_PRIORITY") == 10 and msg.get_attr("RTA_OIF") == 2
    assert msg.get_attr("RTA_DST") == "192.168.3.0" and msg["dst_len"] == 24 and msg["proto"] == 240
    assert "fd00::1" in str(msg.get_attr("RTA_ENCAP"))


def test_without_the_backup_route_the_agent_prepares_the_machines_steps():
    """The backup not installed at its metric: no delete would leave traffic
    on it, so the plan is the machine's Switch (and InstallBackup) as
    route changes on the kernel's thread, behind the registry compare."""
    mgr, h, inner = _manager_with_routes(backup_installed=False)
    h.m.backup_installed = False
    acts = lv.switch_plan(h.m, 1.0)
    assert [type(a) for a in acts] == [L.Switch, L.InstallBackup]
    plan = mgr._plan_of(h, acts, inner.registry, (2,))
    assert plan.deletes == () and len(plan.steps) == 2
    assert [(s.func.__name__, s.args[0], s.args[2]) for s in plan.steps] == [("add_multipath", "192.168.3.0/24", 10), ("add_multipath", "192.168.3.0/24", 15)]
    assert plan.steps[0].args[1][0].dev == "ad" and plan.steps[0].args[1][0].segs == ("fd00::2", "fd00:3::64")
    assert dict(plan.expect)[(socket.AF_INET, "192.168.3.0/24", 15)] is None
