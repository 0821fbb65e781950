"""The liveness shell: one UDP socket per agent that probes its LSPs' paths
and answers everyone else's probes (asyncio; the logic is in
``dataplane.liveness``).

Sending along a path: a probe carries an SRH (``IPV6_RTHDR`` with routing
type 4, RFC 8754; Linux inserts it since 4.10) whose first segment is the
head-end's own End.X SID. The kernel runs seg6local behaviours only on its
*input* path, and a locally sent packet to one of our own SIDs would be
sent out of the End.X link to a neighbour that does not own that address.
So probes (socket mark ``MARK``) are routed, by a policy rule that matches
only locally originated packets (``iif lo``) into a private table, out of
the always-up device ``sr0`` to its peer ``sr0p``, where they come in and
meet the SID like the encapsulated traffic does. The reflector's echo goes
the same way onto the return segments. ``install_probe_route`` puts the
rule and route in (idempotent), ``remove_probe_route`` takes them out.

The socket is the network's: every datagram is decoded and validated
(``decode``: size, magic, version, lengths, MAC when a key is configured),
a reflector only sends inside the SR domain (``allowed``, the SID block)
and at most ``rate`` echoes per second (a token bucket), and nothing that
arrives can raise out of ``datagram_received``: each refusal is counted in
``stats`` under ``drop_<reason>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import time
from collections import Counter
from collections.abc import Callable

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from pyfrr_pwr.dataplane import liveness as lv
from pyfrr_pwr.dataplane.sids import BLOCK

__all__ = ["MARK", "TABLE", "RULE_PRIORITY", "install_probe_route", "remove_probe_route", "LivenessService"]

log = logging.getLogger(__name__)

MARK = 0x50575201  # "PWR" 01: the probe socket's SO_MARK
TABLE = 4240  # private table holding the probe route
RULE_PRIORITY = 100
_RTPROT = 240  # netlink.RTPROT_PYFRR_PWR


def _link_local(ipr: IPRoute, ifname: str) -> str:
    idx = ipr.link_lookup(ifname=ifname)
    if not idx:
        raise RuntimeError(f"no interface {ifname}")
    for m in ipr.get_addr(family=socket.AF_INET6, index=idx[0]):
        a = m.get_attr("IFA_ADDRESS")
        if a and ipaddress.IPv6Address(a).is_link_local:
            return a
    raise RuntimeError(f"{ifname} has no IPv6 link-local address yet")


def install_probe_route(
    netns: str | None = None, *, dev: str = "sr0", peer: str = "sr0p", mark: int = MARK, table: int = TABLE, priority: int = RULE_PRIORITY
) -> None:
    """``ip -6 rule add fwmark MARK iif lo lookup TABLE`` and
    ``ip -6 route replace default via <peer's link-local> dev sr0 table TABLE``."""
    kw = {"netns": netns, "flags": 0} if netns else {}
    with IPRoute(**kw) as ipr:
        ll = _link_local(ipr, peer)
        oif = ipr.link_lookup(ifname=dev)[0]
        ipr.route("replace", family=socket.AF_INET6, dst="::/0", gateway=ll, oif=oif, table=table, proto=_RTPROT)
        have = [r for r in ipr.get_rules(family=socket.AF_INET6) if r.get_attr("FRA_PRIORITY") == priority and r.get_attr("FRA_FWMARK") == mark]
        if not have:
            ipr.rule("add", family=socket.AF_INET6, fwmark=mark, iifname="lo", table=table, priority=priority)


def remove_probe_route(netns: str | None = None, *, mark: int = MARK, table: int = TABLE, priority: int = RULE_PRIORITY) -> None:
    kw = {"netns": netns, "flags": 0} if netns else {}
    with IPRoute(**kw) as ipr:
        with contextlib.suppress(NetlinkError):
            ipr.rule("del", family=socket.AF_INET6, fwmark=mark, iifname="lo", table=table, priority=priority)
        with contextlib.suppress(NetlinkError):
            ipr.route("del", family=socket.AF_INET6, dst="::/0", table=table)


class _Bucket:
    def __init__(self, rate: float, burst: float, clock):
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens, self.t = burst, clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.t) * self.rate)
        self.t = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, svc: LivenessService):
        self.svc = svc

    def datagram_received(self, data, addr):
        try:
            self.svc._received(data, addr)
        except Exception:  # never out of the event loop
            self.svc.stats["drop_internal"] += 1
            log.exception("liveness: packet from %s", addr)

    def error_received(self, exc):
        self.svc.stats["socket_error"] += 1


class LivenessService:
    """Prober and reflector on one socket. ``sock``: an AF_INET6 UDP socket
    to use (e.g. opened in a namespace); else one is opened and bound to
    ``bind``. ``key``: shared HMAC key (bytes) or None. ``on_action(action)``
    of each ``add`` gets SwitchToBackup/SwitchBack/BackupDown/BackupUp."""

    def __init__(
        self,
        *,
        sock: socket.socket | None = None,
        bind: tuple = ("::", lv.PORT),
        port: int = lv.PORT,
        key: bytes | None = None,
        allowed=(BLOCK,),
        mark: int | None = MARK,
        rate: float = 2000.0,
        burst: float = 200.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        if sock is None:
            sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(bind)
        if mark is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, mark)
        sock.setblocking(False)
        self.sock = sock
        self.port = port
        self.key = key or None
        self.allowed = tuple(ipaddress.IPv6Network(n) for n in allowed)
        self.clock = clock
        self.bucket = _Bucket(rate, burst, clock)
        self.stats: Counter = Counter()
        self.probers: dict = {}  # lsp_id -> (Prober, on_action)
        self._rthdr: bytes | None = None
        self._wake = asyncio.Event()
        self._transport = None
        self._task: asyncio.Task | None = None

    # -- life -----------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self), sock=self.sock)
        self._task = asyncio.create_task(self._timers(), name="liveness-timers")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._transport:
            self._transport.close()
            self._transport = None

    def add(self, prober: lv.Prober, on_action: Callable) -> None:
        self.probers[prober.lsp_id] = (prober, on_action)
        self._wake.set()

    def remove(self, lsp_id: int) -> None:
        self.probers.pop(lsp_id, None)

    def handle(self, lsp_id: int, ev) -> None:
        """Feed an event (e.g. ``SetPaths``) to one prober now."""
        p = self.probers.get(lsp_id)
        if p:
            self._dispatch(p, p[0].handle(ev))
            self._wake.set()

    # -- I/O --------------------------------------------------------------------

    def _set_rthdr(self, hdr: bytes | None) -> None:
        if hdr != self._rthdr:
            self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RTHDR, hdr or b"")
            self._rthdr = hdr

    def _send(self, payload: bytes, segs, final: str, port: int) -> None:
        self._set_rthdr(lv.srh(segs, final) if segs else None)
        self.sock.sendto(payload, (final, port))

    def _received(self, data: bytes, addr) -> None:
        self.stats["rx"] += 1
        try:
            p = lv.decode(data, self.key)
        except lv.ProbeError as exc:
            self.stats[f"drop_{exc.reason}"] += 1
            return
        if p.type == lv.T_PROBE:
            self._reflect(p, addr)
            return
        entry = self.probers.get(p.lsp_id)
        if entry is None:
            self.stats["drop_unknown_lsp"] += 1
            return
        self._dispatch(entry, entry[0].handle(lv.EchoReceived(self.clock(), p.session, p.seq, p.stamp)))

    def _reflect(self, p: lv.Packet, addr) -> None:
        src = addr[0].split("%")[0]
        try:
            a = ipaddress.IPv6Address(src)
        except ValueError:
            self.stats["drop_source"] += 1
            return
        if a.is_multicast or a.is_unspecified:
            self.stats["drop_source"] += 1
            return
        try:
            lv.check_return(p.ret, self.allowed)
        except lv.ProbeError as exc:
            self.stats[f"drop_{exc.reason}"] += 1
            return
        if not self.bucket.take():
            self.stats["drop_rate"] += 1
            return
        try:
            self._send(lv.echo_of(p, self.key), p.ret, src, addr[1])
            self.stats["echo_tx"] += 1
        except OSError:
            self.stats["echo_send_failed"] += 1

    def _dispatch(self, entry, actions) -> None:
        prober, on_action = entry
        for a in actions:
            if isinstance(a, lv.SendProbe):
                payload = lv.encode(lv.T_PROBE, a.lsp_id, a.session, a.seq, a.stamp, a.path.ret, self.key)
                try:
                    self._send(payload, a.path.segs, a.path.target, self.port)
                    self.stats["probe_tx"] += 1
                except OSError:
                    self.stats["probe_send_failed"] += 1
                    prober.handle(lv.SendFailed(self.clock(), a.which))
            else:
                self.stats[type(a).__name__] += 1
                try:
                    on_action(a)
                except Exception:
                    self.stats["action_failed"] += 1
                    log.exception("liveness: action %r", a)

    def _drain(self, most: int = 4096) -> None:
        """Read every datagram already queued on the socket before a timer
        round. asyncio's datagram transport reads one datagram per
        readiness event, so after a stall of our loop the timer task could
        run while echoes that came back in time were still queued: probes
        counted unanswered with their echoes in the buffer (fig-2-0, 600 s
        idle: 23 false switch-overs, every probe answered). The transport's
        own reader then finds the socket empty, which it tolerates."""
        for _ in range(most):
            try:
                data, addr = self.sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.stats["socket_error"] += 1
                return
            self.stats["drained"] += 1
            try:
                self._received(data, addr)
            except Exception:
                self.stats["drop_internal"] += 1
                log.exception("liveness: packet from %s", addr)

    async def _timers(self) -> None:
        while True:
            if self._transport is not None:
                self._drain()
            now = self.clock()
            ds = []
            for entry in list(self.probers.values()):
                self._dispatch(entry, entry[0].handle(lv.Tick(now)))
                d = entry[0].next_deadline()
                if d is not None:
                    ds.append(d)
            self._wake.clear()
            if ds:
                delay = max(0.0, min(ds) - self.clock())
            else:  # no deadline: a reflector without probers sleeps until add() (helper E, issue 10: CPU at rest)
                delay = 1.0 if self.probers else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
