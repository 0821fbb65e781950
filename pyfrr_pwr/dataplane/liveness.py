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
* UP again (debounce) after ``up_after`` consecutive echoes in sequence;
* a path that never answered stays INIT and causes no switch (a tail
  without a responder must not drag traffic onto the backup).

Actions: ``SwitchToBackup`` (primary declared down), ``SwitchBack``
(primary up again: ``lsp.Lsp`` then applies its wait-to-restore),
``BackupDown`` / ``BackupUp``. Each has ``event()``: the
``lsp.LivenessLost`` / ``LivenessRestored`` to feed to the LSP's machine.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
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
    "Prober",
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
    primary: ProbePath | None
    backup: ProbePath | None = None


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
    lsp_id: int
    now: float

    def event(self):
        return LivenessLost(self.now, "primary")


@dataclass(frozen=True)
class SwitchBack:
    lsp_id: int
    now: float

    def event(self):
        return LivenessRestored(self.now, "primary")


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


_DOWN = {"primary": SwitchToBackup, "backup": BackupDown}
_UP = {"primary": SwitchBack, "backup": BackupUp}


@dataclass
class _Session:
    which: str
    path: ProbePath
    epoch: int
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
    """Liveness of one LSP's primary and backup paths."""

    def __init__(self, lsp_id: int, config: ProberConfig | None = None):
        if not (isinstance(lsp_id, int) and 0 <= lsp_id < 2**32):
            raise ValueError(f"LSP ID {lsp_id!r} must be a 32-bit unsigned integer")
        self.lsp_id = lsp_id
        self.config = config or ProberConfig()
        self.sessions: dict = {}  # which -> _Session
        self.stats: Counter = Counter()
        self._epoch = 0

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
        for s in self.sessions.values():
            ds.append(s.next_send)
            if s.state is PathState.UP and s.sent:
                # the multiplier-th unanswered probe's grace ends
                times = sorted(s.sent.values())
                k = self.config.multiplier - 1
                if len(times) > k:
                    ds.append(times[k] + g)
        return min(ds) if ds else None

    def state(self, which: str = "primary") -> PathState | None:
        s = self.sessions.get(which)
        return s.state if s else None

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

    def _on_paths(self, ev: SetPaths) -> list:
        out = []
        for which, path in (("primary", ev.primary), ("backup", ev.backup)):
            old = self.sessions.get(which)
            if path is None:
                self.sessions.pop(which, None)
                continue
            if old is not None and old.path == path:
                continue
            self._epoch = (self._epoch + 1) % 2**31
            self.sessions[which] = _Session(which, path, self._epoch, next_send=ev.now)
            self.stats["sessions"] += 1
        return out

    def _on_echo(self, ev: EchoReceived) -> list:
        which = WHICH[ev.session & 1]
        s = self.sessions.get(which)
        if s is None or s.session != ev.session:
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
            return []
        if s.state is PathState.DOWN and s.streak >= self.config.up_after:
            s.state = PathState.UP
            self.stats[f"{which}_up"] += 1
            return [_UP[which](self.lsp_id, ev.now)]
        return []

    def _on_tick(self, now: float) -> list:
        out = []
        c = self.config
        for which in WHICH:
            s = self.sessions.get(which)
            if s is None:
                continue
            if s.state is PathState.UP:
                missed = sum(1 for t in s.sent.values() if t + c.wait <= now)
                if missed >= c.multiplier:
                    s.state = PathState.DOWN
                    s.streak = 0
                    self.stats[f"{which}_down"] += 1
                    out.append(_DOWN[which](self.lsp_id, now))
            if now >= s.next_send:
                s.seq = s.seq + 1 if s.seq < 2**32 - 1 else 1
                s.sent[s.seq] = now
                # keep the unanswered window bounded (a dead path sends forever)
                if len(s.sent) > 4 * c.multiplier + c.up_after:
                    del s.sent[min(s.sent)]
                # no catch-up bursts after a stall: the next probe is one interval on
                s.next_send = max(s.next_send + c.interval, now + c.interval / 2) if math.isfinite(s.next_send) else now + c.interval
                self.stats["probes"] += 1
                out.append(SendProbe(self.lsp_id, which, s.seq, s.path, s.session, int(now * 1e9) & (2**64 - 1)))
        return out
