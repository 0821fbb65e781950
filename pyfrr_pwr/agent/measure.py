"""What the agent measures: interface addresses and link state (rtnetlink
events), tx rates and link speeds (sysfs) and power readers
(``telemetry.sensors``).

Used bandwidth feeds the available bandwidth a link advertises (RFC 7471
sec. 4.6; the draft's sec. 2.1.9 ratio of power to it); measured power
feeds POWER (draft sec. 2.1.8).

Event-driven (issue 10): addresses and link state come from one rtnetlink
socket subscribed to RTMGRP_LINK and RTMGRP_IPV4_IFADDR (RFC 3549 sec. 3.1;
dumps of links, addresses and IPv6 neighbours at start, then only the
kernel's notifications), so nothing is polled at rest. The same socket
hears RTMGRP_IPV6_IFADDR and RTMGRP_NEIGH for the SRv6 shell: its plan
reads links, addresses with their prefix lengths and IPv6 neighbours
(End.X next hops) from this table (``srv6_inputs``) instead of four dumps
a sync, and an IPv6 address or neighbour that appears or goes, or an
interface set up or down, wakes its sync (``on_link_change``) instead of a
30 s poll (the agent's dearest work at rest); neighbour state changes (REACHABLE, STALE,
...) are not changes of the set and wake nothing. The agent needs three message types and four attributes of
them, so they are parsed here (``parse_rtnl``, pure, bounds-checked)
instead of by pyroute2's general decoder, which was 42 % of the agent's
busy time when it dumped every link every 100 ms. Tx counters are read
(``/sys/class/net/IF/statistics/tx_bytes``) only for ports whose
bandwidth is measured, i.e. without a configured ``available``, every
``window / 4`` s; power readers at ``interval``. The core is re-evaluated
only when an input changed (or a link waits out ``min_interval``).

hwmon sensors are polled by a C thread (``telemetry.watch``) that wakes the
loop only when a sensor file's text changed: while their texts stay the
same the loop does not read them, and their last figures stand (confirmed
by the thread's reads, so a later failure holds the figure ``HOLD`` s from
the last confirmation, as if read here). A sensor whose read failed is read
here every ``interval`` until it is good again; RAPL counters (always
changing) are read here too. Without the watcher (it could not start: said
once in the log, ``watch_errors``) every sensor is read here.

``rates`` and ``parse_rtnl`` are pure; ``Measurer.run`` is the asyncio shell.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time
from collections.abc import Callable
from pathlib import Path

from pyfrr_pwr.agent.trace import ENABLED as TRACING
from pyfrr_pwr.agent.trace import trace
from pyfrr_pwr.files.power import PowerConfig

__all__ = ["Measurer", "rates", "parse_rtnl", "LinkTable"]

log = logging.getLogger("pyfrr_pwr.agent")

# rtnetlink (linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h)
NETLINK_ROUTE = 0
RTMGRP_LINK = 0x1
RTMGRP_NEIGH = 0x4
RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV6_IFADDR = 0x100
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_NEWNEIGH, RTM_DELNEIGH, RTM_GETNEIGH = 28, 29, 30
NDA_DST = 1
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
IFLA_IFNAME = 3
IFA_ADDRESS, IFA_LOCAL = 1, 2
IFF_UP, IFF_LOWER_UP = 0x1, 0x10000
_NLMSG = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_IFINFO = struct.Struct("=BxHiII")  # family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBi")  # family, prefixlen, flags, scope, index
_NDMSG = struct.Struct("=BxxxiHBB")  # family, ifindex, state, flags, type (linux/neighbour.h)
_RTA = struct.Struct("=HH")


def _attrs(buf: bytes, off: int, end: int) -> dict:
    """rtattrs (len, type, value padded to 4) between off and end; a
    malformed one ends the list (never read past ``end``)."""
    out = {}
    while off + 4 <= end:
        ln, ty = _RTA.unpack_from(buf, off)
        if ln < 4 or off + ln > end:
            break
        out.setdefault(ty & 0x3FFF, buf[off + 4 : off + ln])
        off += (ln + 3) & ~3
    return out


def parse_rtnl(buf: bytes, v6: bool = False) -> list[tuple]:
    """rtnetlink messages -> events, in order:
    ``("link", index, name, running, up)`` (running: IFF_UP and
    IFF_LOWER_UP; up: IFF_UP alone, the administrative state),
    ``("dellink", index)``, ``("addr" | "deladdr", index, address,
    prefixlen)``, ``("done",)`` (end of a dump), ``("error", errno)``; with
    ``v6`` also ``("addr6" | "deladdr6", index, address, prefixlen)`` and
    ``("neigh6" | "delneigh6", index, address)`` (IPv6 addresses and
    neighbours, for the SRv6 shell). What the agent does not use, and
    anything truncated, is skipped."""
    ev: list[tuple] = []
    off = 0
    while off + _NLMSG.size <= len(buf):
        ln, ty, _fl, _seq, _pid = _NLMSG.unpack_from(buf, off)
        if ln < _NLMSG.size or off + ln > len(buf):
            break
        body, end = off + _NLMSG.size, off + ln
        if ty in (RTM_NEWLINK, RTM_DELLINK) and body + _IFINFO.size <= end:
            _fam, _t, idx, flags, _ch = _IFINFO.unpack_from(buf, body)
            if ty == RTM_DELLINK:
                ev.append(("dellink", idx))
            else:
                name = _attrs(buf, body + _IFINFO.size, end).get(IFLA_IFNAME, b"").split(b"\0", 1)[0]
                running = bool(flags & IFF_UP) and bool(flags & IFF_LOWER_UP)
                ev.append(("link", idx, name.decode(errors="replace"), running, bool(flags & IFF_UP)))
        elif ty in (RTM_NEWADDR, RTM_DELADDR) and body + _IFADDR.size <= end:
            fam, plen, _f, _sc, idx = _IFADDR.unpack_from(buf, body)
            a = _attrs(buf, body + _IFADDR.size, end)
            raw = a.get(IFA_LOCAL) or a.get(IFA_ADDRESS)
            if fam == socket.AF_INET and raw is not None and len(raw) == 4:
                ev.append(("addr" if ty == RTM_NEWADDR else "deladdr", idx, socket.inet_ntoa(raw), plen))
            elif v6 and fam == socket.AF_INET6 and raw is not None and len(raw) == 16:
                ev.append(("addr6" if ty == RTM_NEWADDR else "deladdr6", idx, socket.inet_ntop(socket.AF_INET6, raw), plen))
        elif v6 and ty in (RTM_NEWNEIGH, RTM_DELNEIGH) and body + _NDMSG.size <= end:
            fam, idx, _state, _f, _t = _NDMSG.unpack_from(buf, body)
            dst = _attrs(buf, body + _NDMSG.size, end).get(NDA_DST)
            if fam == socket.AF_INET6 and dst is not None and len(dst) == 16:
                ev.append(("neigh6" if ty == RTM_NEWNEIGH else "delneigh6", idx, socket.inet_ntop(socket.AF_INET6, dst)))
        elif ty == NLMSG_DONE:
            ev.append(("done",))
        elif ty == NLMSG_ERROR and body + 4 <= end:
            (err,) = struct.unpack_from("=i", buf, body)
            if err:
                ev.append(("error", -err))
        off += (ln + 3) & ~3
    return ev


class LinkTable:
    """Interfaces from rtnetlink events (pure): index -> name, running and
    administrative state, IPv4 addresses (with prefix lengths) in the order
    the kernel reported them; and the IPv6 addresses and neighbours heard
    of (``v6``, in the order heard), whose joining or leaving sets
    ``v6_changed`` (the SRv6 shell's business, not the core's).
    ``complete`` is set by the owner once the dumps that began the table
    are done: before, the table is not the kernel's whole state."""

    def __init__(self):
        self.names: dict = {}
        self.running: dict = {}
        self.up: dict = {}  # index -> IFF_UP
        self.addrs: dict = {}  # index -> [(address, prefixlen), ...]
        self.v6: dict = {}  # ("addr6" | "neigh6", index, address) -> prefixlen (None for a neighbour)
        self.v6_changed = False
        self.complete = False

    def apply(self, ev: tuple) -> bool:
        """One event; True if what ``ifaddrs`` or ``running`` says changed.
        An IPv6 address or neighbour joining or leaving the set sets
        ``v6_changed`` instead (a neighbour's state change is no change);
        so does a change of an interface's administrative state (the SRv6
        shell's ``srv6_inputs``)."""
        kind = ev[0]
        if kind in ("addr6", "neigh6"):
            key, plen = ev[:3], ev[3] if kind == "addr6" else None
            if key not in self.v6 or self.v6[key] != plen:
                self.v6[key] = plen
                self.v6_changed = True
            return False
        if kind in ("deladdr6", "delneigh6"):
            key = (kind[3:], ev[1], ev[2])
            if key in self.v6:
                del self.v6[key]
                self.v6_changed = True
            return False
        if kind == "link":
            _, idx, name, run, up = ev
            changed = self.names.get(idx) != name or self.running.get(idx) != run
            if idx in self.up and self.up[idx] != up:
                self.v6_changed = True
            self.names[idx], self.running[idx], self.up[idx] = name, run, up
            return changed
        if kind == "dellink":
            had = ev[1] in self.names
            gone6 = [k for k in self.v6 if k[1] == ev[1]]
            if gone6:
                for k in gone6:
                    del self.v6[k]
                self.v6_changed = True
            for d in (self.names, self.running, self.up, self.addrs):
                d.pop(ev[1], None)
            return had
        if kind == "addr":
            # an IPv4 address is its (local, prefixlen): the same local with
            # two masks is two addresses (ip-address(8))
            lst = self.addrs.setdefault(ev[1], [])
            if ev[2:4] in lst:
                return False
            lst.append(ev[2:4])
            return True
        if kind == "deladdr":
            lst = self.addrs.get(ev[1], [])
            if ev[2:4] in lst:
                lst.remove(ev[2:4])
                return True
        return False

    def ifaddrs(self) -> dict:
        """ifname -> first IPv4 address, for interfaces that are up with
        carrier (a link whose carrier went is withdrawn at once, not when
        ospfd's dead interval says so)."""
        return {self.names[i]: a[0][0] for i, a in self.addrs.items() if a and i in self.names and self.running.get(i)}

    def srv6_inputs(self) -> tuple[dict, set, dict, dict, dict]:
        """What the SRv6 shell reads of the kernel (``Srv6Node.discover``):
        (names {index: ifname}, up {index with IFF_UP}, {ifname: [IPv4
        "a/len", ...]}, {ifname: [IPv6 "a/len", ...]}, {ifname: [IPv6
        neighbour, ...]}), lists in the order heard."""
        # The SRv6 shell calls this from a worker thread while the event loop
        # applies events: each container is copied whole first (one C call,
        # not interrupted by the loop's thread under the GIL), so nothing is
        # iterated while it changes. The copies need not be one instant, no
        # more than the four dumps they replace were: a change after them
        # wakes the shell again (``on_link_change``).
        names = dict(self.names)
        up = {i for i, u in list(self.up.items()) if u}
        v4 = {names.get(i): [f"{a}/{p}" for a, p in tuple(lst)] for i, lst in list(self.addrs.items()) if lst}
        v6: dict = {}
        neigh: dict = {}
        for (kind, i, a), plen in list(self.v6.items()):
            if kind == "addr6":
                v6.setdefault(names.get(i), []).append(f"{a}/{plen}")
            else:
                neigh.setdefault(names.get(i), []).append(a)
        return names, up, v4, v6, neigh


def rates(samples: dict, tx: dict, now: float, window: float, ports) -> dict:
    """Bits/s per interface over about ``window`` seconds, from cumulative
    tx byte counters; ``samples`` (ifname -> [(t, bytes)]) is updated."""
    used = {}
    for ifn, b in tx.items():
        if ifn not in ports:
            continue
        s = samples.setdefault(ifn, [])
        s.append((now, b))
        while len(s) > 2 and now - s[1][0] >= window:
            s.pop(0)
        if len(s) >= 2 and s[-1][0] > s[0][0]:
            used[ifn] = max(s[-1][1] - s[0][1], 0) * 8 / (s[-1][0] - s[0][0])
    return used


class Measurer:
    """``link_speed`` (ifname -> negotiated bits/s) is updated in place."""

    def __init__(self, cfg: PowerConfig, name: str, window: float, link_speed: dict, sysfs: str | Path = "/sys/class/net"):
        self.name = name
        self.window = window
        self.link_speed = link_speed
        self.sysfs = Path(sysfs)
        self.samples: dict = {}  # ifname -> list[(t, tx_bytes)]
        self.table = LinkTable()
        self.stats: dict = {"netlink_events": 0, "counter_reads": 0, "counter_errors": 0, "reader_errors": 0, "evaluations": 0, "watch_errors": 0}
        self.on_link_change: Callable[[], None] | None = None  # e.g. the SRv6 shell's sync
        self._waiter: asyncio.Future | None = None  # what run() sleeps on (``_sleep``)
        self._woken = False  # a wake-up came while run() was not asleep
        self._nl_ready = False  # the rtnetlink socket has something queued
        self._pending_dumps: list = []
        self._redump = False
        self._force = True
        self.interval = 0.1  # s between power reads; run() and a reload set it
        self._watch = None  # telemetry.watch.SysfsWatch of the hwmon readers, while run() runs
        self._watch_key = None  # (readers, interval) it was made for
        self._watched: dict = {}  # reader name -> its index in _watch
        self._fired = False  # the watcher saw a change not yet read
        self.set_config(cfg)

    def set_config(self, cfg: PowerConfig) -> None:
        """A new configuration (SIGHUP): readers and measured ports anew."""
        self.cfg = cfg
        self.readers = self._readers()
        self._due: dict = {}  # reader name -> when it is read next (``watts``)
        self._last_w: dict = {}  # reader name -> its last figure
        # bandwidth is measured only where no `available` is configured
        self.measured = sorted(n for n, p in cfg.ports.items() if getattr(p, "available", None) is None)
        for n in [n for n in self.samples if n not in self.measured]:
            del self.samples[n]
        self._force = True
        self._wake()

    def _readers(self) -> dict:
        from pyfrr_pwr.telemetry.sensors import make_reader

        out = {}
        for name, c in self.cfg.line_cards.items():
            if c.power_reader:
                out[name] = make_reader(c.power_reader)
        for name, p in self.cfg.ports.items():
            if p.power_reader:
                out[name] = make_reader(p.power_reader)
        return out

    # -- sysfs ---------------------------------------------------------------

    def _read_int(self, path: Path) -> int | None:
        try:
            return int(path.read_text().strip())
        except (OSError, ValueError):
            return None

    def tx_bytes(self) -> dict:
        """Cumulative tx bytes of the measured ports (sysfs)."""
        out = {}
        for ifn in self.measured:
            v = self._read_int(self.sysfs / ifn / "statistics" / "tx_bytes")
            self.stats["counter_reads"] += 1
            if v is None:
                self.stats["counter_errors"] += 1
            else:
                out[ifn] = v
        return out

    def speeds(self) -> None:
        """Negotiated link speed (sysfs ``speed``, Mb/s; -1 or unreadable
        when unknown); the configured speed stays the capacity, a mismatch is
        logged once per value."""
        for ifn, p in self.cfg.ports.items():
            mbps = self._read_int(self.sysfs / ifn / "speed")
            if not mbps or mbps < 0:
                continue
            bps = mbps * 1e6
            if self.link_speed.get(ifn) != bps and bps != p.speed:
                log.warning("%s: %s runs at %g Mb/s, configured speed is %g Mb/s", self.name, ifn, mbps, p.speed / 1e6)
            self.link_speed[ifn] = bps

    def watts(self, now: float) -> dict:
        """Each reader's watts: the readers due at ``now`` are read, each
        next at ``now`` + the longer of ``interval`` and its hardware's
        update period (``period``: a faster read returns the same figure for
        a wake-up); the others keep their last figure."""
        fired, self._fired = self._fired, False
        for name, r in self.readers.items():
            if self._gated(name, r):
                if not fired:
                    continue  # its text is as when last read: the figure stands
                r.confirm(self._watch.confirmed(self._watched[name]))
            elif now < self._due.get(name, now):
                continue
            self._due[name] = now + max(self.interval, r.period or 0.0)
            try:
                w = r.read()
            except Exception as exc:  # a reader must not stop the agent: counted, the static figure stands
                self.stats["reader_errors"] += 1
                if self.stats["reader_errors"] & (self.stats["reader_errors"] - 1) == 0:
                    log.warning("%s: power reader %s failed: %s: %s (reader_errors: %d)", self.name, name, type(exc).__name__, exc, self.stats["reader_errors"])
                w = None
            if w is None:
                self._last_w.pop(name, None)
            else:
                self._last_w[name] = w
        return dict(self._last_w)

    def _next_read(self) -> float | None:
        """When the first reader read here is due (``watts``); 0 before any
        was read; None when the watcher has them all."""
        return min((self._due.get(n, 0.0) for n, r in self.readers.items() if not self._gated(n, r)), default=None)

    def _gated(self, name: str, r) -> bool:
        """Read only when the watcher saw its file change: watched, and its
        last read here was good."""
        return name in self._watched and r.ok

    # -- the watcher -----------------------------------------------------------

    def _rewatch(self, loop) -> None:
        """A watcher for the hwmon readers of this configuration and
        interval (none if they have none); the old one stops."""
        key = (self.readers, self.interval)
        if key == self._watch_key:
            return
        self._watch_key = key
        self._unwatch(loop)
        from pyfrr_pwr.telemetry.sensors import HwmonReader
        from pyfrr_pwr.telemetry.watch import SysfsWatch, WatchError

        hw = [(n, r) for n, r in self.readers.items() if isinstance(r, HwmonReader)]
        if not hw:
            return
        try:
            self._watch = SysfsWatch([r.path for _, r in hw], [max(self.interval, r.period or 0.0) for _, r in hw])
        except (WatchError, OSError) as exc:
            self.stats["watch_errors"] += 1
            log.warning("%s: sensors are read on the event loop: %s", self.name, exc)
            return
        self._watched = {n: i for i, (n, _) in enumerate(hw)}
        loop.add_reader(self._watch.fileno(), self._on_watch)

    def _unwatch(self, loop) -> None:
        w, self._watch, self._watched = self._watch, None, {}
        if w is not None:
            loop.remove_reader(w.fileno())
            w.close()

    def _on_watch(self) -> None:
        if self._watch is not None and self._watch.drain():
            self._fired = True
            self._wake()

    # -- rtnetlink -------------------------------------------------------------

    def _open(self) -> socket.socket:
        s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.bind((0, RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_NEIGH))
        return s

    @staticmethod
    def _dump_request(ty: int, seq: int) -> bytes:
        if ty == RTM_GETLINK:
            body = _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
        elif ty == RTM_GETNEIGH:
            body = _NDMSG.pack(socket.AF_INET6, 0, 0, 0, 0)
        else:  # AF_UNSPEC: IPv4 and IPv6 addresses in one dump (rtnetlink(7))
            body = _IFADDR.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
        return _NLMSG.pack(_NLMSG.size + len(body), ty, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body

    def _drain(self, sock: socket.socket) -> bool:
        """Read what the kernel queued; True if the interfaces changed.
        ENOBUFS (events lost) asks for a new dump."""
        changed = False
        while True:
            try:
                buf = sock.recv(1 << 16)
            except BlockingIOError:
                return changed
            except OSError as exc:
                if exc.errno == 105:  # ENOBUFS: we missed events; dump again
                    self._redump = True
                    continue
                raise
            if not buf:
                return changed
            for ev in parse_rtnl(buf, v6=True):
                self.stats["netlink_events"] += 1
                if ev[0] == "done" and self._pending_dumps:
                    nxt = self._pending_dumps.pop(0)
                    sock.send(nxt)
                elif ev[0] == "done":
                    self.table.complete = True  # the last dump: the table is the kernel's state
                elif self.table.apply(ev):
                    changed = True

    def _notify(self, links_changed: bool) -> None:
        """After a drain: link speeds anew when links changed; the SRv6
        shell's ``on_link_change`` when links or the IPv6 set changed."""
        if links_changed:
            self.speeds()
        if links_changed or self.table.v6_changed:
            self.table.v6_changed = False
            if self.on_link_change is not None:
                self.on_link_change()

    def _start_dumps(self, sock: socket.socket) -> None:
        # one dump at a time: the kernel refuses a second while one runs (EBUSY)
        self._pending_dumps = [self._dump_request(RTM_GETADDR, 2), self._dump_request(RTM_GETNEIGH, 3)]
        sock.send(self._dump_request(RTM_GETLINK, 1))

    def srv6_inputs(self) -> tuple | None:
        """``LinkTable.srv6_inputs`` of the current table once its dumps
        are done, else None (the SRv6 shell then dumps for itself). Called
        from the SRv6 shell's worker thread: see ``LinkTable.srv6_inputs``."""
        t = self.table
        return t.srv6_inputs() if t.complete else None

    # -- the loop --------------------------------------------------------------

    def _wake(self) -> None:
        """Ends ``run``'s sleep now (an rtnetlink message, a new config)."""
        self._woken = True
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    def _on_netlink(self) -> None:
        self._nl_ready = True
        self._wake()

    async def _sleep(self, timeout: float | None) -> None:
        """Until ``_wake`` or ``timeout`` s (None: no timeout). One future and
        at most one timer handle a sleep: at rest this is most of what a
        loop that reads power sensors every ``interval`` does (issue 10: CPU
        at rest), where two tasks under ``asyncio.wait`` cost three times
        as much, and their cancellation another turn of the event loop."""
        if self._woken:
            self._woken = False
            return
        loop = asyncio.get_running_loop()
        fut = self._waiter = loop.create_future()
        timer = None if timeout is None else loop.call_later(timeout, self._wake)
        try:
            await fut
        finally:
            self._waiter = None
            self._woken = False
            if timer is not None:
                timer.cancel()

    async def run(self, core, emit: Callable[[list], None], interval: float) -> None:
        """Interfaces on rtnetlink events; counters every ``window / 4`` s
        when a port's bandwidth is measured; readers every ``interval`` s.
        ``emit`` queues the requests the core's evaluation returns."""
        loop = asyncio.get_running_loop()
        self.interval = interval
        self._redump = False
        self._nl_ready = False
        self._woken = False
        sock = self._open()
        loop.add_reader(sock.fileno(), self._on_netlink)
        try:
            self._start_dumps(sock)
            self.speeds()
            next_counters = 0.0
            last_used: dict | None = None
            last_watts: dict | None = None
            last_addrs: dict | None = None
            while True:
                now = time.monotonic()
                deferred = False
                try:
                    links_changed = False
                    if self._nl_ready:
                        self._nl_ready = False
                        links_changed = self._drain(sock)
                        if self._redump:
                            self._redump = False
                            self.table = LinkTable()
                            self.table.v6_changed = True  # events were lost: the SRv6 shell looks again
                            self._start_dumps(sock)
                    if links_changed and TRACING:
                        trace("netlink", ",".join(sorted(self.table.ifaddrs())))
                    self._notify(links_changed)
                    used = last_used or {}
                    if self.measured and now >= next_counters:
                        next_counters = now + max(self.interval, self.window / 4)
                        used = rates(self.samples, self.tx_bytes(), now, self.window, self.cfg.ports)
                    watts = last_watts or {}
                    self._rewatch(loop)
                    due = self._next_read()
                    if self._fired or (due is not None and now >= due):
                        watts = self.watts(now)
                    addrs = self.table.ifaddrs()
                    deferred = any(getattr(l, "state", None) is not None and l.state.name == "DEFERRED" for l in core.links.values())
                    if self._force or addrs != last_addrs or used != last_used or watts != last_watts or deferred:
                        self._force = False
                        if TRACING and watts != last_watts:
                            trace("watts", *(f"{k}={v:.3f}" for k, v in sorted(watts.items())))
                        last_addrs, last_used, last_watts = addrs, used, watts
                        core.ifaddrs = addrs
                        self.stats["evaluations"] += 1
                        emit(core.set_measurements(used, watts, now))
                except Exception:
                    log.exception("%s: measurement failed", self.name)
                # sleep until the next timed read, or an interface event
                due = self._next_read()
                waits = [t - time.monotonic() for t, on in ((next_counters, bool(self.measured)), (due, due is not None)) if on]
                if deferred:
                    waits.append(self.interval)
                await self._sleep(max(0.0, min(waits)) if waits else None)
        finally:
            self._waiter = None
            self._unwatch(loop)
            self._watch_key = None
            loop.remove_reader(sock.fileno())
            sock.close()
