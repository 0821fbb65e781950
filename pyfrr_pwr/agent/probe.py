"""Per-link delay and delay variation between OSPF neighbours, measured
with timestamped UDP probes (TWAMP-light-like, RFC 5357 appendix I's
idea without its session control), for RFC 7471's Link sub-TLVs 27-29
(issue 9 sec. 2; seed sec. 3.3, 4.2).

Sans-I/O core (``Prober``, ``Reflector``, ``estimate``, ``link_figures``)
and a thin asyncio shell (``ProbeAgent``).

The exchange. A prober sends a request carrying its transmit time t1; the
neighbour's reflector stamps its receive time t2 and its transmit time t3
and sends it back; the prober stamps the reply's arrival t4.

    RTT   = (t4 - t1) - (t3 - t2)        reflector residence removed
    one-way (forward) = t2 - t1           needs t1 and t2 on one clock

What is measured depends on the clocks (``clock`` setting):

* ``shared``: every router is a network namespace of one host (the labs):
  they read one CLOCK_REALTIME, so t2 - t1 is the true one-way delay.
* ``synced``: hosts whose clocks PTP (or NTP, to its accuracy: often
  0.1-1 ms, which swamps sub-millisecond links) keeps in step; one-way as
  above, its error that of the synchronisation.
* ``unsynced``: one-way cannot be measured; RTT/2 is used (assumes a
  symmetric link). A negative one-way sample under ``shared``/``synced``
  means the clocks disagree: it is counted (``negative_one_way``) and
  RTT/2 used for it.

Timestamps are taken in user space when the datagram is handed over or
read (no SO_TIMESTAMPING), so scheduling latency (tens of us on a loaded
2-core machine) is part of every sample: the figures are an upper bound
on the link's own delay. Over a window of samples (RFC 7471 sec. 4: "an
average ... over a configurable interval"): delay = mean (sec. 4.1),
min/max (sec. 4.2), delay variation = mean of (d_i - min) (sec. 4.3, the
PDV form of RFC 5481). A configured per-port ``delay_us`` /
``delay_var_us`` (fibre distance; the labs cannot emulate delay)
overrides the measurement (``link_figures``).

Packets from the network are hostile: every field is checked, a bad one
dropped and counted in ``stats`` under its reason (``short``, ``long``,
``bad_magic``, ``bad_version``, ``bad_type``, ``unknown_seq``,
``mismatched_t1``, ``time_reversed``, ``implausible``, ``from_stranger``).
A reply is accepted only for an outstanding sequence number whose t1 it
echoes exactly, once.

Packet, 40 octets, network byte order:

    0  "PWRP"  4  version=1  5  type (1 request, 2 reply)  6  flags  7  reserved
    8  sender router ID      12 sequence number
    16 t1 (ns, prober transmit)  24 t2 (ns, reflector receive)  32 t3 (ns, reflector transmit)
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import statistics
import struct
import time
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass

log = logging.getLogger(__name__)

__all__ = ["PACKET", "MAGIC", "Probe", "ProbeError", "decode", "encode", "Prober", "Reflector", "Sample", "estimate", "link_figures", "ProbeAgent"]

MAGIC = b"PWRP"
VERSION = 1
T_REQUEST, T_REPLY = 1, 2
PACKET = struct.Struct(">4sBBBB4sIQQQ")
SIZE = PACKET.size  # 40
MAX_OUTSTANDING = 64
MAX_RTT_NS = 10 * 10**9  # 10 s: anything slower is no measurement of a link
U24 = 0xFFFFFF


class ProbeError(ValueError):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Probe:
    type: int
    router_id: str
    seq: int
    t1: int
    t2: int = 0
    t3: int = 0


def encode(p: Probe) -> bytes:
    return PACKET.pack(MAGIC, VERSION, p.type, 0, 0, socket.inet_aton(p.router_id), p.seq & 0xFFFFFFFF, p.t1, p.t2, p.t3)


def decode(data: bytes) -> Probe:
    """One datagram as a Probe, or ProbeError naming the reason."""
    if len(data) < SIZE:
        raise ProbeError("short")
    if len(data) > SIZE:
        raise ProbeError("long")
    magic, ver, typ, _flags, _rsvd, rid, seq, t1, t2, t3 = PACKET.unpack(data)
    if magic != MAGIC:
        raise ProbeError("bad_magic")
    if ver != VERSION:
        raise ProbeError("bad_version")
    if typ not in (T_REQUEST, T_REPLY):
        raise ProbeError("bad_type")
    return Probe(typ, socket.inet_ntoa(rid), seq, t1, t2, t3)


@dataclass(frozen=True)
class Sample:
    rtt_ns: int
    one_way_ns: int
    method: str  # "one-way" or "rtt/2"


class Reflector:
    """Answers requests (stamps t2, t3)."""

    def __init__(self, router_id: str):
        self.router_id = router_id
        self.stats: Counter = Counter()

    def reflect(self, data: bytes, rx_ns: int, tx_ns: int) -> bytes | None:
        try:
            p = decode(data)
        except ProbeError as exc:
            self.stats[exc.reason] += 1
            return None
        if p.type != T_REQUEST or p.t2 or p.t3:
            self.stats["bad_type"] += 1
            return None
        self.stats["reflected"] += 1
        return encode(Probe(T_REPLY, self.router_id, p.seq, p.t1, rx_ns, max(tx_ns, rx_ns)))


class Prober:
    """Probes one neighbour; keeps a window of samples."""

    def __init__(self, router_id: str, peer_id: str | None = None, window: int = 10, clock: str = "shared"):
        if clock not in ("shared", "synced", "unsynced"):
            raise ValueError(f"clock: {clock!r} is not shared, synced or unsynced")
        if window < 1:
            raise ValueError("window: at least one sample")
        self.router_id, self.peer_id, self.clock = router_id, peer_id, clock
        self.seq = 0
        self.outstanding: OrderedDict = OrderedDict()  # seq -> t1
        self.samples: deque = deque(maxlen=window)
        self.stats: Counter = Counter()

    def request(self, now_ns: int) -> bytes:
        self.seq = (self.seq + 1) & 0xFFFFFFFF
        self.outstanding[self.seq] = now_ns
        while len(self.outstanding) > MAX_OUTSTANDING:
            self.outstanding.popitem(last=False)
            self.stats["lost"] += 1
        self.stats["sent"] += 1
        return encode(Probe(T_REQUEST, self.router_id, self.seq, now_ns))

    def reply(self, data: bytes, now_ns: int) -> Sample | None:
        try:
            p = decode(data)
        except ProbeError as exc:
            self.stats[exc.reason] += 1
            return None
        if p.type != T_REPLY:
            self.stats["bad_type"] += 1
            return None
        if self.peer_id is not None and p.router_id != self.peer_id:
            self.stats["from_stranger"] += 1
            return None
        t1 = self.outstanding.get(p.seq)
        if t1 is None:  # never sent, already answered, or given up on
            self.stats["unknown_seq"] += 1
            return None
        if p.t1 != t1:
            self.stats["mismatched_t1"] += 1
            return None
        if not (p.t3 >= p.t2 and now_ns >= t1):
            self.stats["time_reversed"] += 1
            return None
        rtt = (now_ns - t1) - (p.t3 - p.t2)
        if not 0 <= rtt <= MAX_RTT_NS:
            self.stats["implausible"] += 1
            return None
        del self.outstanding[p.seq]
        method, ow = "rtt/2", rtt // 2
        if self.clock != "unsynced":
            fwd = p.t2 - t1
            if 0 <= fwd <= rtt:
                method, ow = "one-way", fwd
            else:
                self.stats["negative_one_way" if fwd < 0 else "one_way_exceeds_rtt"] += 1
        s = Sample(rtt, ow, method)
        self.samples.append(s)
        self.stats["samples"] += 1
        return s

    def estimate(self) -> dict | None:
        return estimate(self.samples)


def estimate(samples) -> dict | None:
    """RFC 7471 figures, microseconds (24-bit), over a window of samples."""
    d = [s.one_way_ns / 1000.0 for s in samples]
    if not d:
        return None
    lo = min(d)
    c = lambda x: min(U24, max(0, int(round(x))))  # noqa: E731
    methods = {s.method for s in samples}
    return {
        "delay_us": c(statistics.fmean(d)),  # RFC 7471 sec. 4.1: average
        "delay_min_us": c(lo),  # sec. 4.2
        "delay_max_us": c(max(d)),
        "delay_var_us": c(statistics.fmean(x - lo for x in d)),  # sec. 4.3: mean PDV (RFC 5481)
        "samples": len(d),
        "method": methods.pop() if len(methods) == 1 else "mixed",
        "source": "measured",
    }


def link_figures(measured: dict | None, configured: dict | None) -> dict | None:
    """What a Link TLV advertises: a configured ``delay_us`` /
    ``delay_var_us`` (power.yml ports) wins over the measurement, field by
    field; min/max follow a configured delay (a fixed fibre delay is its own
    min and max) unless measured."""
    configured = configured or {}
    if not measured and not configured:
        return None
    out = dict(measured or {})
    if "delay_us" in configured:
        d = configured["delay_us"]
        out.update(delay_us=d, delay_min_us=d, delay_max_us=d, source="configured")
        out.setdefault("delay_var_us", 0)
    if "delay_var_us" in configured:
        out["delay_var_us"] = configured["delay_var_us"]
        out["source"] = "configured" if "delay_us" in configured or not measured else "measured+configured"
    if "delay_min_us" in out and out["delay_min_us"] > out["delay_max_us"]:
        out["delay_min_us"] = out["delay_max_us"]
    return out


# ------------------------------------------------------------ asyncio shell


def _now_ns() -> int:
    return time.clock_gettime_ns(time.CLOCK_REALTIME)  # the clock NTP/PTP keeps in step


class ProbeAgent(asyncio.DatagramProtocol):
    """One UDP socket: reflects every request, probes each neighbour.

    ``peers``: ifname -> (neighbour router ID, neighbour address, port)."""

    def __init__(
        self,
        router_id: str,
        peers: dict,
        port: int = 8870,
        interval: float = 1.0,
        window: int = 10,
        clock: str = "shared",
        bind: str = "0.0.0.0",
        clock_ns=_now_ns,
    ):
        self.router_id, self.port, self.interval, self.bind = router_id, port, interval, bind
        self.reflector = Reflector(router_id)
        self._window, self._clock_mode = window, clock
        self.peers = dict(peers)
        self.probers = {ifn: Prober(router_id, rid, window, clock) for ifn, (rid, _a, _p) in self.peers.items()}
        self._by_addr = {(str(ipaddress.ip_address(a)), p): ifn for ifn, (_r, a, p) in self.peers.items()}
        self.stats: Counter = Counter()
        self.transport = None
        self._clock = clock_ns

    def set_peers(self, peers: dict) -> None:
        """The neighbours now (as ``peers`` in the constructor): a new one
        gets a fresh prober, a gone one loses its samples."""
        peers = dict(peers)
        for ifn, (rid, _a, _p) in peers.items():
            old = self.peers.get(ifn)
            if old is None or old[0] != rid or ifn not in self.probers:
                self.probers[ifn] = Prober(self.router_id, rid, self._window, self._clock_mode)
        for ifn in set(self.probers) - set(peers):
            del self.probers[ifn]
        self.peers = peers
        self._by_addr = {(str(ipaddress.ip_address(a)), p): ifn for ifn, (_r, a, p) in peers.items()}

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        rx = self._clock()
        try:
            if len(data) >= 6 and data[:4] == MAGIC and data[5] == T_REQUEST:
                out = self.reflector.reflect(data, rx, self._clock())
                if out is not None:
                    self.transport.sendto(out, addr)
                return
            ifn = self._by_addr.get((addr[0], addr[1]))
            if ifn is None:
                self.stats["from_stranger"] += 1
                return
            self.probers[ifn].reply(data, rx)
        except Exception as exc:  # never let a datagram stop the agent  # noqa: BLE001
            self.stats["handler_errors"] += 1
            log.warning("probe: %s", exc)

    def error_received(self, exc) -> None:
        self.stats["socket_errors"] += 1

    async def start(self):
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, local_addr=(self.bind, self.port))
        return self

    def send_round(self) -> None:
        for ifn, (_rid, addr, port) in self.peers.items():
            try:
                self.transport.sendto(self.probers[ifn].request(self._clock()), (addr, port))
            except OSError:
                self.stats["send_errors"] += 1

    async def run(self) -> None:
        if self.transport is None:
            await self.start()
        try:
            while True:
                self.send_round()
                await asyncio.sleep(self.interval)
        finally:
            self.close()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    def figures(self, configured: dict | None = None) -> dict:
        """ifname -> RFC 7471 figures (``link_figures``) for the Link TLVs;
        ``configured``: files.catscfg's ``port_delays``."""
        configured = configured or {}
        out = {}
        for ifn in sorted(set(self.probers) | set(configured)):
            p = self.probers.get(ifn)
            f = link_figures(p.estimate() if p else None, configured.get(ifn))
            if f is not None:
                out[ifn] = f
        return out
