"""End-to-end liveness of an LSP's paths over SRv6 (pure, no I/O, no clock).

Why a probe of our own and not bfdd
-----------------------------------
A pinned SRv6 path (End.X per hop, ``sidlist``) never repairs itself: a
remote failure, with or without carrier loss, must be seen by the head-end
(issue 7 sec. 4; srv6-dataplane-facts.md: OSPF alone took 2487 ms on a
silent failure). bfdd multihop sessions watched on bfdd's control socket
did it in 28-66 ms there, but on these machines they cost: one BFD peer per
path configured at *both* ends (the tail needs per-head, per-path state
and a distinct address per session, routed into the path by a /128 encap
route), an FRR-private control-socket protocol, and the echo direction
follows the IGP, so a failure on the IGP's return route that the LSP never
uses kills the session (false switch-over), and a silent failure on it
takes both primary and backup sessions down together. The probe here is
shaped like Seamless BFD (RFC 7880: all state at the initiator, a stateless
reflector) with the return path carried in the probe, as STAMP's Return
Path TLV does for SR (RFC 9503 sec. 4.2): the head-end sends a UDP probe
with an SRH of the path's own End.X SIDs (so it crosses exactly the links
and routers the traffic crosses) ending at the tail's node address, and
the probe names the reverse path's End.X SIDs; the tail's responder sends
the echo back along them. Both directions of exactly the path's links are
tested, the tail keeps no state, no FRR configuration is needed, and the
agent sees the result directly (no second daemon to watch).

Wire format (network byte order; one UDP payload; draft-free, ours)::

    0      4       5      6       7       8         12       16      20          28
    | PWRL | ver=1 | type | flags | nret  | lsp_id  | session| seq   | stamp (u64) |
    then nret x 16-byte return segments (path order), then, if flags & AUTH,
    a 16-byte HMAC-SHA256 (truncated) over everything before it.

``type`` 1 is a probe, 2 an echo (nret 0: an echo is never larger than
its probe, so the reflector amplifies nothing). ``session`` is
``epoch << 1 | which`` (which 0 primary, 1 backup): echoes of an older
path (before ``SetPaths``) are ignored. ``stamp`` is the sender's, echoed
untouched (RTT). Everything from the network is hostile: ``decode`` raises
``ProbeError`` with a short reason the shells count drops under.

The prober (one per LSP)
------------------------
Like h11: ``handle(event)`` returns actions, ``next_deadline()`` says when
to deliver a ``Tick``; events carry ``now``. Per path (primary, backup):

* a probe every ``interval`` (``SendProbe``, with the SID list to push and
  the payload);
* DOWN after ``multiplier`` consecutive probes went unanswered for longer
  than ``grace`` (default: ``interval``) each (counting probes *sent*, not time passed, so an
  agent that stalled and sent nothing does not declare its paths dead;
  RFC 5880 sec. 6.8.4's detection time, stall-proof);
* a tick later than ``grace`` past its deadline is a stall of our own
  loop: the unanswered probes' clocks stop for it (their echoes may be
  queued unread), counted as ``stalls``;
* a new return route for the same forward path keeps the session;
* UP again (debounce) after ``up_after`` consecutive echoes in sequence;
* a path that never answered stays INIT and causes no switch (a tail
  without a responder must not drag traffic onto the backup).

Actions: ``SwitchToBackup`` (primary declared down), ``SwitchBack``
(primary up again: ``lsp.Lsp`` then applies its wait-to-restore),
``BackupDown`` / ``BackupUp``. Each has ``event()``: the
``lsp.LivenessLost`` / ``LivenessRestored`` to feed to the LSP's machine.

Equal-PWR legs (``--ecmp``, draft sec. 2.1.5): the primary may be a set
of legs (``SetPaths(primary=(leg0, leg1, ...))``), one session each, every
leg probed over its own SID list. A leg that fails while another still
answers leaves the multipath (``LegDown``, with ``alive``: the legs still
usable); it rejoins after ``up_after`` echoes (``LegUp``). The primary as
a whole is down, and traffic goes to the backup (``SwitchToBackup``), only
when no leg is UP any more and at least one was seen to fail (legs that
never answered, INIT, prove nothing either way, as with a single path);
the first leg UP again gives ``SwitchBack`` (with ``alive``). One leg:
exactly the single-path behaviour above (no Leg* actions).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import ipaddress
import itertools
import math
import socket
import struct
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum

from pyfrr_pwr.dataplane import sids
from pyfrr_pwr.dataplane.lspmsg import LivenessLost, LivenessRestored, Tick

__all__ = [
    "MAGIC",
    "VERSION",
    "PORT",
    "T_PROBE",
    "T_ECHO",
    "F_AUTH",
    "MAX_SEGMENTS",
    "ProbeError",
    "Packet",
    "encode",
    "decode",
    "echo_of",
    "check_return",
    "srh",
    "ProberConfig",
    "ProbePath",
    "probe_path",
    "PathState",
    "Tick",
    "EchoReceived",
    "SendFailed",
    "SetPaths",
    "SendProbe",
    "SwitchToBackup",
    "SwitchBack",
    "BackupDown",
    "BackupUp",
    "LegDown",
    "LegUp",
    "Prober",
    "switch_plan",
    "KERNEL_ACTIONS",
]

MAGIC = b"PWRL"
VERSION = 1
PORT = 7853  # UDP; ours (configurable)
T_PROBE = 1
T_ECHO = 2
F_AUTH = 0x01
MAX_SEGMENTS = 16  # return segments a probe may name (RFC 8754's SRH allows 128; no path here is that long)
_HDR = struct.Struct("!4sBBBBIIIQ")
HDR_LEN = _HDR.size  # 28
MAC_LEN = 16
WHICH = ("primary", "backup")


class ProbeError(ValueError):
    """A packet that is not a valid probe or echo; ``reason`` is the drop
    counter's name."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class Packet:
    type: int
    lsp_id: int
    session: int
    seq: int
    stamp: int
    ret: tuple = ()  # return segments, path order
    authenticated: bool = False

    @property
    def which(self) -> str:
        return WHICH[self.session & 1]

    @property
    def epoch(self) -> int:
        return self.session >> 1


def _mac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()[:MAC_LEN]


def encode(type_: int, lsp_id: int, session: int, seq: int, stamp: int, ret=(), key: bytes | None = None) -> bytes:
    ret = tuple(ret)
    if type_ not in (T_PROBE, T_ECHO):
        raise ValueError(f"packet type {type_!r}")
    if len(ret) > MAX_SEGMENTS:
        raise ValueError(f"{len(ret)} return segments, at most {MAX_SEGMENTS}")
    for name, v, bits in (("lsp_id", lsp_id, 32), ("session", session, 32), ("seq", seq, 32), ("stamp", stamp, 64)):
        if not (isinstance(v, int) and 0 <= v < 2**bits):
            raise ValueError(f"{name} {v!r} must be a {bits}-bit unsigned integer")
    flags = F_AUTH if key else 0
    body = _HDR.pack(MAGIC, VERSION, type_, flags, len(ret), lsp_id, session, seq, stamp) + b"".join(socket.inet_pton(socket.AF_INET6, s) for s in ret)
    return body + _mac(key, body) if key else body


def decode(data: bytes, key: bytes | None = None) -> Packet:
    """A probe or echo from the network, validated; with ``key`` it must
    carry a valid MAC (unauthenticated packets are refused)."""
    if len(data) < HDR_LEN:
        raise ProbeError("short", f"{len(data)} bytes")
    magic, ver, type_, flags, nret, lsp_id, session, seq, stamp = _HDR.unpack_from(data)
    if magic != MAGIC:
        raise ProbeError("magic")
    if ver != VERSION:
        raise ProbeError("version", str(ver))
    if type_ not in (T_PROBE, T_ECHO):
        raise ProbeError("type", str(type_))
    if flags & ~F_AUTH:
        raise ProbeError("flags", hex(flags))
    if nret > MAX_SEGMENTS or (type_ == T_ECHO and nret):
        raise ProbeError("segments", f"{nret} return segments")
    want = HDR_LEN + 16 * nret + (MAC_LEN if flags & F_AUTH else 0)
    if len(data) != want:
        raise ProbeError("length", f"{len(data)} bytes, header says {want}")
    if key:
        if not flags & F_AUTH:
            raise ProbeError("unauthenticated")
        if not hmac.compare_digest(_mac(key, data[:-MAC_LEN]), data[-MAC_LEN:]):
            raise ProbeError("auth")
    ret = tuple(socket.inet_ntop(socket.AF_INET6, data[HDR_LEN + 16 * i : HDR_LEN + 16 * i + 16]) for i in range(nret))
    return Packet(type_, lsp_id, session, seq, stamp, ret, bool(key))


def echo_of(p: Packet, key: bytes | None = None) -> bytes:
    """The reflector's answer: same identifiers, no return segments."""
    return encode(T_ECHO, p.lsp_id, p.session, p.seq, p.stamp, (), key)


def check_return(segs, allowed) -> None:
    """A reflector sends only inside the SR domain: every return segment
    must lie in one of the ``allowed`` networks (the SID block) and be a
    unicast address; else ``ProbeError("return")``."""
    nets = [ipaddress.IPv6Network(n) for n in allowed]
    for s in segs:
        a = ipaddress.IPv6Address(s)
        if a.is_multicast or a.is_unspecified or a.is_loopback or a.is_link_local or not any(a in n for n in nets):
            raise ProbeError("return", f"segment {a} outside {', '.join(map(str, nets))}")


def srh(segs, final: str) -> bytes:
    """An RFC 8754 SRH (routing type 4) for ``IPV6_RTHDR``: ``segs`` in path
    order, then ``final`` (the socket's destination; the kernel overwrites
    Segment List[0] with it and sends to Segment List[Segments Left])."""
    order = [final, *reversed(tuple(segs))]
    n = len(order)
    if n < 2 or n > 128:
        raise ValueError(f"an SRH needs 1..127 segments besides the final destination, got {n - 1}")
    return struct.pack("!BBBBBBH", 0, 2 * n, 4, n - 1, n - 1, 0, 0) + b"".join(socket.inet_pton(socket.AF_INET6, s) for s in order)


# -- the prober -----------------------------------------------------------------


@dataclass(frozen=True)
class ProberConfig:
    interval: float = 0.02  # seconds between probes on each path
    multiplier: int = 3  # unanswered probes that make a path DOWN
    up_after: int = 5  # consecutive echoes that make a DOWN path UP again
    grace: float | None = None  # seconds an echo may take before its probe counts as missed (None: interval)

    def __post_init__(self):
        if not (isinstance(self.interval, (int, float)) and math.isfinite(self.interval) and 0.005 <= self.interval <= 10):
            raise ValueError(f"liveness interval {self.interval!r}: must be 0.005 to 10 seconds")
        g = self.grace
        if g is not None and not (isinstance(g, (int, float)) and math.isfinite(g) and 0.001 <= g <= 60):
            raise ValueError(f"liveness grace {g!r}: must be 0.001 to 60 seconds")
        for f, lo, hi in (("multiplier", 2, 255), ("up_after", 1, 1000)):
            v = getattr(self, f)
            if not (isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi):
                raise ValueError(f"liveness {f} {v!r}: must be an integer {lo} to {hi}")

    @property
    def wait(self) -> float:
        return self.interval if self.grace is None else self.grace

    @property
    def detect(self) -> float:
        """Worst case from the first lost probe to DOWN."""
        return self.interval * (self.multiplier - 1) + self.wait


@dataclass(frozen=True)
class ProbePath:
    """What a probe pushes: ``segs`` (path order, the path's End.X SIDs),
    ``target`` (the tail's node address, the probe's destination) and
    ``ret`` (the reverse path's End.X SIDs; the echo's final destination is
    the probe's source address). No ``segs``: the probe follows the IGP
    (a check of the tail alone, not of a path)."""

    segs: tuple
    target: str
    ret: tuple = ()

    def __post_init__(self):
        try:
            object.__setattr__(self, "segs", tuple(str(ipaddress.IPv6Address(s)) for s in self.segs))
            object.__setattr__(self, "ret", tuple(str(ipaddress.IPv6Address(s)) for s in self.ret))
            object.__setattr__(self, "target", str(ipaddress.IPv6Address(self.target)))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"probe path: {exc}") from None
        if len(self.ret) > MAX_SEGMENTS:
            raise ValueError(f"probe path: {len(self.ret)} return segments, at most {MAX_SEGMENTS}")


def probe_path(edges, table, G) -> ProbePath:
    """The ``ProbePath`` of a TED path ``edges`` (``(u, v, key)``):
    End.X SIDs along it, the tail's node address (``sids``' LOC::1), and
    the End.X SIDs of the reverse links (the TED's reverse of ``(u, v, k)``
    is ``(v, u, G.edges[u, v, k]["remote"])``). ``table``: a
    ``sidlist.SidTable``; raises ``sidlist.SidListError`` naming a missing SID."""
    edges = tuple(tuple(e) for e in edges)
    segs = tuple(table.end_x_of(u, k) for u, _, k in edges)
    ret = []
    for u, v, k in reversed(edges):
        remote = G.edges[u, v, k].get("remote")
        if remote is None:
            raise ValueError(f"TED edge {(u, v, k)} has no remote address: cannot name the reverse link's End.X SID")
        ret.append(table.end_x_of(v, remote))
    tail = edges[-1][1]
    if tail not in table.locators:
        raise ValueError(f"no locator advertised by the tail {tail}")
    return ProbePath(segs, sids.node_address(table.locators[tail]), tuple(ret))


def _tested(p: ProbePath) -> tuple:
    """What a probe session tests: the forward SID list and the target."""
    return (p.segs, p.target)


def _on_grid(t: float, interval: float) -> float:
    """The first multiple of ``interval`` at or after ``t`` (a rounding
    error of a millionth of an interval does not push it one further)."""
    return math.ceil(t / interval - 1e-6) * interval


class PathState(StrEnum):
    INIT = "init"  # never answered: no verdict, no switch
    UP = "up"
    DOWN = "down"


@dataclass(frozen=True)
class EchoReceived:
    now: float
    session: int
    seq: int
    stamp: int = 0


@dataclass(frozen=True)
class SendFailed:
    """The kernel refused a probe (e.g. no route while the first link has
    no carrier): the probe counts as sent and unanswered."""

    now: float
    which: str


@dataclass(frozen=True)
class SetPaths:
    """New paths to watch (set-up, re-optimisation, new backup); None: that
    path is not watched. A changed path starts a new session (INIT)."""

    now: float
    primary: ProbePath | tuple | None  # one path, or the equal-PWR legs (a tuple of ProbePath, leg order)
    backup: ProbePath | None = None

    @property
    def legs(self) -> tuple:
        p = self.primary
        if p is None:
            return ()
        return (p,) if isinstance(p, ProbePath) else tuple(p)


@dataclass(frozen=True)
class SendProbe:
    lsp_id: int
    which: str
    seq: int
    path: ProbePath
    session: int
    stamp: int  # the event's ``now`` in ns, for the RTT


@dataclass(frozen=True)
class SwitchToBackup:
    """The primary is declared down. ``sessions``: the wire session numbers
    of the primary legs judged (``Prober.primary_sessions()`` at the
    verdict): a shell acting on the verdict from another thread checks
    them against the paths it prepared a switch for, so a verdict on a
    path that was replaced meanwhile (make-before-break) moves nothing."""

    lsp_id: int
    now: float
    sessions: tuple = ()

    def event(self):
        return LivenessLost(self.now, "primary")


@dataclass(frozen=True)
class SwitchBack:
    lsp_id: int
    now: float
    alive: tuple = (0,)  # the primary's legs that carry traffic again (indices, leg order)

    def event(self):
        return _leg_event(LivenessRestored, self.now, None, self.alive)


def _leg_event(cls, now, leg, alive):
    """``cls(now, "primary", ...)`` naming the leg and the legs left, once
    ``lspmsg`` has the fields (C1's wanted diff); before, a leg's verdict
    has no event (None: nothing to feed) and SwitchBack the plain one."""
    f = getattr(cls, "__dataclass_fields__", {})
    if "leg" in f and "alive" in f:
        return cls(now, "primary", leg=leg, alive=tuple(alive))
    return None if leg is not None else cls(now, "primary")


@dataclass(frozen=True)
class LegDown:
    """One of several equal-PWR legs stopped answering while others still
    do: route the multipath over ``alive`` only."""

    lsp_id: int
    now: float
    leg: int
    alive: tuple

    def event(self):
        return _leg_event(LivenessLost, self.now, self.leg, self.alive)


@dataclass(frozen=True)
class LegUp:
    """A failed leg answers again (debounced) while the primary carries
    traffic on the others: it may rejoin the multipath (``alive``)."""

    lsp_id: int
    now: float
    leg: int
    alive: tuple

    def event(self):
        return _leg_event(LivenessRestored, self.now, self.leg, self.alive)


@dataclass(frozen=True)
class BackupDown:
    lsp_id: int
    now: float

    def event(self):
        return LivenessLost(self.now, "backup")


@dataclass(frozen=True)
class BackupUp:
    lsp_id: int
    now: float

    def event(self):
        return LivenessRestored(self.now, "backup")


@dataclass
class _Session:
    which: str
    path: ProbePath
    epoch: int
    leg: int = 0  # index among the primary's legs (0 for the backup)
    state: PathState = PathState.INIT
    seq: int = 0  # last sent
    next_send: float = -math.inf
    sent: dict = field(default_factory=dict)  # seq -> send time, unanswered since the last echo
    last_echo: int = 0  # seq of the last echo taken
    streak: int = 0
    rtt: float | None = None
    rtt_max: float = 0.0

    @property
    def session(self) -> int:
        return (self.epoch << 1) | WHICH.index(self.which)


class Prober:
    """Liveness of one LSP's primary (one path or several equal-PWR legs)
    and backup paths. ``sessions``: ``"primary"`` (leg 0), ``"primary.1"``
    ... (further legs), ``"backup"``."""

    def __init__(self, lsp_id: int, config: ProberConfig | None = None):
        if not (isinstance(lsp_id, int) and 0 <= lsp_id < 2**32):
            raise ValueError(f"LSP ID {lsp_id!r} must be a 32-bit unsigned integer")
        self.lsp_id = lsp_id
        self.config = config or ProberConfig()
        self.sessions: dict = {}  # name -> _Session
        self.legs: list = []  # the primary's sessions, leg order
        self.stats: Counter = Counter()
        self._epoch = 0
        self._by_session: dict = {}  # wire session -> _Session
        self._primary = PathState.INIT  # the primary as a whole, as last reported
        self._last_tick: float | None = None

    # -- public -------------------------------------------------------------

    def handle(self, ev) -> list:
        if isinstance(ev, Tick):
            return self._on_tick(ev.now)
        if isinstance(ev, EchoReceived):
            return self._on_echo(ev)
        if isinstance(ev, SetPaths):
            return self._on_paths(ev)
        if isinstance(ev, SendFailed):
            self.stats["send_failed"] += 1
            return []
        raise TypeError(f"not a liveness event: {ev!r}")

    def next_deadline(self) -> float | None:
        ds = []
        g = self.config.wait
        k = self.config.multiplier - 1
        for s in self.sessions.values():
            ds.append(s.next_send)
            if s.state is PathState.UP and len(s.sent) > k:
                # the multiplier-th unanswered probe's grace ends (``sent`` is in send order:
                # insertion order of ascending times, a stall shifts them all alike)
                ds.append(next(itertools.islice(s.sent.values(), k, None)) + g)
        return min(ds) if ds else None

    def state(self, which: str = "primary") -> PathState | None:
        s = self.sessions.get(which)
        return s.state if s else None

    def primary_sessions(self) -> tuple:
        """The primary legs' wire session numbers (leg order): what a
        ``SwitchToBackup`` judged, and what a prepared switch is for."""
        return tuple(s.session for s in self.legs)

    def alive(self) -> tuple:
        """The primary's legs not declared DOWN (indices, leg order)."""
        return tuple(s.leg for s in self.legs if s.state is not PathState.DOWN)

    def snapshot(self) -> dict:
        return {
            w: {
                "state": s.state.value,
                "seq": s.seq,
                "rtt_ms": None if s.rtt is None else round(s.rtt * 1e3, 3),
                "rtt_max_ms": round(s.rtt_max * 1e3, 3),
                "unanswered": len(s.sent),
            }
            for w, s in self.sessions.items()
        } | {"stats": dict(self.stats)}

    # -- events ---------------------------------------------------------------

    def _new(self, which: str, path: ProbePath, now: float, leg: int = 0) -> _Session:
        self._epoch = (self._epoch + 1) % 2**31
        self.stats["sessions"] += 1
        return _Session(which, path, self._epoch, leg=leg, next_send=now)

    def _on_paths(self, ev: SetPaths) -> list:
        # A leg whose path is unchanged keeps its session (and its state), wherever it moved in the
        # set; but when the set changed, the LSP machine installs every leg of it again (``lsp``:
        # InstallEncap, primary alive), so a leg we hold DOWN starts afresh (INIT: no evidence
        # either way) rather than be kept dead in the prober while it carries traffic.
        # What a session tests is its forward path (``_tested``); a new return route (the agent
        # derives it from the TED, which changes when a link on it goes down, possibly the very
        # failure being detected) only steers later echoes: the session, its state and its
        # unanswered probes go on. (Restarting it there, INIT, hid exactly that failure: seen on
        # fig-2-0, remote link down, 0.6-1 s of loss until re-optimisation moved the LSP.)
        changed = tuple(map(_tested, (s.path for s in self.legs))) != tuple(map(_tested, ev.legs))
        old = {_tested(s.path): s for s in self.legs if not (changed and s.state is PathState.DOWN)}
        legs = []
        for i, path in enumerate(ev.legs):
            s = old.pop(_tested(path), None)
            if s is None:
                s = self._new("primary", path, ev.now, i)
            s.path = path
            s.leg = i
            legs.append(s)
        self.legs = legs
        b = self.sessions.get("backup")
        if ev.backup is None:
            b = None
        elif b is None or _tested(b.path) != _tested(ev.backup):
            b = self._new("backup", ev.backup, ev.now)
        else:
            b.path = ev.backup
        self.sessions = {("primary" if s.leg == 0 else f"primary.{s.leg}"): s for s in legs}
        if b is not None:
            self.sessions["backup"] = b
        self._by_session = {s.session: s for s in self.sessions.values()}
        # the primary as a whole restarts from what its legs know (no verdict on a changed set)
        self._primary = self._aggregate()
        return []

    def _aggregate(self) -> PathState:
        """UP while a leg answers; DOWN when none does and one was seen to
        fail; INIT while no leg ever answered."""
        st = {s.state for s in self.legs}
        if PathState.UP in st:
            return PathState.UP
        return PathState.DOWN if PathState.DOWN in st else PathState.INIT

    def _primary_changed(self, changed, now: float) -> list:
        """Primary legs ``changed`` state (all at ``now``): one verdict for
        the LSP; legs failing in the same tick as the last one give only
        the switch."""
        agg, was = self._aggregate(), self._primary
        self._primary = agg
        if was is PathState.UP and agg is PathState.DOWN:
            self.stats["primary_down"] += 1
            return [SwitchToBackup(self.lsp_id, now, self.primary_sessions())]
        if was is PathState.DOWN and agg is PathState.UP:
            self.stats["primary_up"] += 1
            return [SwitchBack(self.lsp_id, now, self.alive())]
        out = []
        if agg is PathState.UP and len(self.legs) > 1:  # legs of several, the rest still carry traffic
            alive = self.alive()
            for s in changed:
                down = s.state is PathState.DOWN
                self.stats["leg_down" if down else "leg_up"] += 1
                out.append((LegDown if down else LegUp)(self.lsp_id, now, s.leg, alive))
        return out

    def _on_echo(self, ev: EchoReceived) -> list:
        s = self._by_session.get(ev.session)  # only the current sessions: an older path's echoes are stale
        if s is None:
            self.stats["echo_stale"] += 1
            return []
        if ev.seq not in s.sent:
            self.stats["echo_unexpected"] += 1  # duplicate, too old, or never sent
            return []
        self.stats["echo"] += 1
        s.rtt = max(0.0, ev.now - s.sent[ev.seq])
        s.rtt_max = max(s.rtt_max, s.rtt)
        s.streak = s.streak + 1 if ev.seq == s.last_echo + 1 else 1
        s.last_echo = ev.seq
        for q in [q for q in s.sent if q <= ev.seq]:
            del s.sent[q]
        if s.state is PathState.INIT:
            s.state = PathState.UP
            if s.which == "primary":
                self._primary = self._aggregate()  # first answer: evidence, no verdict
            return []
        if s.state is PathState.DOWN and s.streak >= self.config.up_after:
            s.state = PathState.UP
            if s.which == "backup":
                self.stats["backup_up"] += 1
                return [BackupUp(self.lsp_id, ev.now)]
            return self._primary_changed([s], ev.now)
        return []

    def _on_tick(self, now: float) -> list:
        out = []
        c = self.config
        # A tick far later than due means our own loop stalled: echoes that came back meanwhile
        # are still unread (in the socket buffer, or queued behind this tick), so the probes sent
        # just before the stall have not been given their grace. Their clocks stop for the stall
        # (RFC 5880 sec. 6.8.4 counts a detection time the receiver could observe): without this,
        # three probes in flight at a 0.5 s stall became a verdict with every echo on its way
        # (fig-2-0, 600 s idle: 23 false switch-overs, every probe answered, RTT up to 1.3 s).
        due = self.next_deadline()
        if self._last_tick is not None and due is not None and now - max(due, self._last_tick) > c.wait:
            shift = now - max(due, self._last_tick)
            self.stats["stalls"] += 1
            for s in self.sessions.values():
                s.sent = {q: t + shift for q, t in s.sent.items()}
        self._last_tick = now
        failed = []
        for s in self.sessions.values():
            if s.state is PathState.UP:
                missed = sum(1 for t in s.sent.values() if t + c.wait <= now)
                if missed >= c.multiplier:
                    s.state = PathState.DOWN
                    s.streak = 0
                    if s.which == "backup":
                        self.stats["backup_down"] += 1
                        out.append(BackupDown(self.lsp_id, now))
                    else:
                        failed.append(s)
        if failed:
            out = self._primary_changed(failed, now) + out
        for s in self.sessions.values():
            if now >= s.next_send:
                s.seq = s.seq + 1 if s.seq < 2**32 - 1 else 1
                s.sent[s.seq] = now
                # keep the unanswered window bounded (a dead path sends forever)
                if len(s.sent) > 4 * c.multiplier + c.up_after:
                    del s.sent[min(s.sent)]
                # no catch-up bursts after a stall: the next probe is one interval on, on the
                # common grid (multiples of ``interval`` on the shell's clock), so every session
                # of every prober with this interval is due at the same instant: the shell wakes
                # once per interval for all of them, not once per session (CPU: issue 10)
                s.next_send = _on_grid(max(s.next_send + c.interval, now + c.interval / 2) if math.isfinite(s.next_send) else now + c.interval / 2, c.interval)
                self.stats["probes"] += 1
                out.append(SendProbe(self.lsp_id, s.which, s.seq, s.path, s.session, int(now * 1e9) & (2**64 - 1)))
        return out


# -- the switch a shell may make before the LSP machine hears of it ----------------------

KERNEL_ACTIONS = ("InstallEncap", "Switch", "InstallBackup", "RemoveEncap", "RemoveBackup")


def _immutable(v) -> bool:
    if isinstance(v, tuple):
        return all(_immutable(x) for x in v)
    return v is None or isinstance(v, (str, int, float, bool)) or getattr(getattr(v, "__dataclass_params__", None), "frozen", False)


def switch_plan(machine, now: float) -> tuple:
    """The kernel actions (``lsp`` InstallEncap, Switch, InstallBackup,
    RemoveEncap, RemoveBackup, in order) the LSP machine ``machine``
    (``dataplane.lsp.Lsp``) would carry out if told now that the primary's
    liveness is lost: the answer of a copy of it to ``LivenessLost(now,
    "primary")``, so what a shell does early is by construction what the
    machine decides (docs/protection.md sec. 4c). The machine itself is
    not touched; () when it would change nothing in the kernel (not UP,
    already off the primary, ...). The copy shares the machine's immutable
    values (its frozen dataclasses: config, legs, paths; half the cost of
    a full deep copy, which runs after every event an LSP handles)."""
    memo = {id(v): v for v in vars(machine).values() if _immutable(v)}
    twin = copy.deepcopy(machine, memo)
    return tuple(a for a in twin.handle(LivenessLost(now, "primary")) if type(a).__name__ in KERNEL_ACTIONS)
