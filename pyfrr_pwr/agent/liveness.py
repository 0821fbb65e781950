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

Two ways to run (docs/protection.md sec. 4c). On the event loop (the
default: ``start`` makes a datagram endpoint and a timer task), or with
``threaded=True`` in a thread of its own that owns the socket (``select``
on it and a wake-up pair, then every due tick): its timers then keep
their time while the agent's event loop is busy with the very failure's
flood (fig-2-0: ~100 ms of LSAs and recomputation, which made a remote
link down cost up to 242 ms against 115 ms for a silent failure). The
probers are the same pure ``Prober``; the service's lock guards them
(``add``, ``remove``, ``handle``, ``snapshot`` take it from the loop).
Verdicts leave the lock first, then go to the ``fast`` hook given with
``add`` (called in the prober's thread: a switch prepared by the loop,
``agent.lsp_live``) and to ``on_action`` on the event loop
(``call_soon_threadsafe``). ``remove`` returns once no tick of that
prober is running: a verdict already out of it can still reach ``fast``,
which is why ``fast`` itself checks what it was prepared for
(``FastSwitch``), and the loop settles every switch it made
(``FastSwitch.fired``, ``settle``: kept if the machine follows, undone
if not).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import itertools
import logging
import os
import select
import socket
import struct
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from pyfrr_pwr.dataplane import liveness as lv
from pyfrr_pwr.dataplane.netlink import in_netns
from pyfrr_pwr.dataplane.sids import BLOCK

__all__ = [
    "MARK",
    "TABLE",
    "RULE_PRIORITY",
    "install_probe_route",
    "remove_probe_route",
    "LivenessService",
    "FastPlan",
    "FastSwitch",
    "Fired",
    "run_plan",
    "netlink_socket",
    "in_netns",
]

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
            with self.svc._lock:
                self.svc._received(data, addr)
            self.svc._deliver()
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
        threaded: bool = False,
        switch_interval: float | None = 0.001,
        nice: int | None = None,
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
        self.probers: dict = {}  # lsp_id -> (Prober, on_action, fast)
        self.threaded = threaded
        self._rthdr: bytes | None = None
        self._wake = asyncio.Event()
        self._transport = None
        self._task: asyncio.Task | None = None
        self._lock = threading.RLock()  # the probers (threaded: the thread ticks them, the loop adds/feeds)
        self._verdicts: list = []  # (entry, action) out of the probers, delivered outside the lock
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake_pair: tuple | None = None
        self._stopping = False
        self.switch_interval = switch_interval
        self.nice = nice
        self._old_interval: float | None = None

    # -- life -----------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self.threaded:
            # CPython hands the GIL to a waiting thread only after the holder ran for the switch
            # interval (5 ms by default), at every wait: the prober's thread and the kernel's
            # thread it switches through each wait several times per verdict and route replace
            # while the event loop computes (the failure's flood). On the rig with the loop busy
            # for 400 ms: verdict to route 17-84 ms at 5 ms, 2.6-27 ms at 1 ms (docs/protection.md
            # sec. 4c). Process-wide; restored by stop().
            if self.switch_interval is not None and sys.getswitchinterval() > self.switch_interval:
                self._old_interval = sys.getswitchinterval()
                sys.setswitchinterval(self.switch_interval)
            self._stopping = False
            self._wake_pair = socket.socketpair()
            for w in self._wake_pair:
                w.setblocking(False)
            self._thread = threading.Thread(target=self._run, name="liveness", daemon=True)
            self._thread.start()
            return
        self._transport, _ = await self._loop.create_datagram_endpoint(lambda: _Protocol(self), sock=self.sock)
        self._task = asyncio.create_task(self._timers(), name="liveness-timers")

    async def stop(self) -> None:
        if self._thread is not None:
            self._stopping = True
            self._kick()
            await asyncio.to_thread(self._thread.join)
            self._thread = None
            for w in self._wake_pair:
                w.close()
            self._wake_pair = None
            if self._old_interval is not None:
                sys.setswitchinterval(self._old_interval)
                self._old_interval = None
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._transport:
            self._transport.close()
            self._transport = None

    def _kick(self) -> None:
        """Wake the timers now (a prober added, a path changed)."""
        if self._wake_pair is not None:
            with contextlib.suppress(OSError):  # full: it is awake already
                self._wake_pair[1].send(b"\0")
        else:
            self._wake.set()

    def add(self, prober: lv.Prober, on_action: Callable, fast: Callable | None = None) -> None:
        """Probe for ``prober``'s LSP. ``on_action(verdict)`` runs on the
        event loop; ``fast(verdict)``, if given, first, where the verdict
        was made (threaded: the prober's thread)."""
        with self._lock:
            self.probers[prober.lsp_id] = (prober, on_action, fast)
        self._kick()

    def remove(self, lsp_id: int) -> None:
        """No more ticks for that prober once this returns (the lock is
        held by a tick in progress)."""
        with self._lock:
            self.probers.pop(lsp_id, None)

    def handle(self, lsp_id: int, ev) -> None:
        """Feed an event (e.g. ``SetPaths``) to one prober now."""
        with self._lock:
            p = self.probers.get(lsp_id)
            if p:
                self._dispatch(p, p[0].handle(ev))
        if p:
            self._deliver()
            self._kick()

    def snapshot(self, lsp_id: int) -> dict | None:
        """One prober's ``snapshot()`` (consistent: taken under the lock)."""
        with self._lock:
            e = self.probers.get(lsp_id)
            return e[0].snapshot() if e else None

    def primary_sessions(self, lsp_id: int) -> tuple | None:
        with self._lock:
            e = self.probers.get(lsp_id)
            return e[0].primary_sessions() if e else None

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
        """Carry out a prober's actions (its lock held): probes at once,
        verdicts queued for ``_deliver`` (outside the lock)."""
        prober = entry[0]
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
                self._verdicts.append((entry, a))

    def _deliver(self) -> None:
        """Verdicts out of the probers, in order: ``fast`` here and now,
        ``on_action`` on the event loop (threaded: posted to it)."""
        with self._lock:
            todo, self._verdicts = self._verdicts, []
        for (_, on_action, fast), a in todo:
            if fast is not None and not self._stopping:
                try:
                    fast(a)
                except Exception:
                    self.stats["fast_failed"] += 1
                    log.exception("liveness: fast action for %r", a)
            if self._thread is not None and threading.current_thread() is self._thread:
                try:
                    self._loop.call_soon_threadsafe(self._act, on_action, a)
                except RuntimeError:  # the loop is closed: the agent is going
                    self.stats["action_failed"] += 1
            else:
                self._act(on_action, a)

    def _act(self, on_action, a) -> None:
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

    def _tick_all(self) -> float | None:
        """Every prober ticked at one ``now`` (the lock held; their probes
        share a grid, so they are due together: ``Prober``); the earliest
        next deadline (clock time), None for none."""
        now = self.clock()
        ds = []
        for entry in list(self.probers.values()):
            self._dispatch(entry, entry[0].handle(lv.Tick(now)))
            d = entry[0].next_deadline()
            if d is not None:
                ds.append(d)
        return min(ds) if ds else None

    def _round(self) -> float | None:
        """One timer round on the event loop (the lock held): the socket
        emptied, every prober ticked; seconds to the next deadline, None
        for none."""
        if self._transport is not None:
            self._drain()
        due = self._tick_all()
        if due is not None:
            return max(0.0, due - self.clock())
        # no deadline: a reflector without probers sleeps until add() (issue 10: CPU at rest)
        return 1.0 if self.probers else None

    async def _timers(self) -> None:
        while True:
            with self._lock:
                delay = self._round()
                self._wake.clear()
            self._deliver()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    def _prioritise(self) -> None:
        """The thread's own nice value (``nice``; Linux: setpriority on a
        thread id sets that thread alone, setpriority(2) NOTES). A remote
        link down makes every agent and daemon of the domain flood and
        recompute at once; at the same priority the prober's timers wait
        behind that burst on a loaded box, and the verdict comes late by as
        much (docs/protection.md sec. 4c). Needs CAP_SYS_NICE to go below
        0: refused, the thread runs at the agent's priority and says so."""
        if self.nice is None:
            return
        tid = threading.get_native_id()
        try:
            os.setpriority(os.PRIO_PROCESS, tid, self.nice)
        except OSError as exc:
            log.warning("liveness thread: nice %d refused (%s); it runs at the agent's priority", self.nice, exc)
            self.stats["nice_refused"] += 1

    def _run(self) -> None:
        """The thread (``threaded``): the socket and the wake-up pair under
        ``select``. Readable socket: every queued datagram is read (echoes
        only remove deadlines, so no tick is due for them); a deadline
        reached or a wake-up (``add``, ``handle``: paths changed): every
        prober ticked. Nothing raises out of it (a failed round is counted;
        the next one runs)."""
        self._prioritise()
        wake = self._wake_pair[0]
        due: float | None = -1.0  # tick at once
        while not self._stopping:
            try:
                timeout = None if due is None else max(0.0, due - self.clock())
                if due is None and self.probers:
                    timeout = 1.0
                r, _, _ = select.select([self.sock, wake], [], [], timeout)
                woke = wake in r
                if woke:
                    with contextlib.suppress(OSError):
                        while wake.recv(4096):
                            pass
                if self._stopping:
                    return
                with self._lock:
                    if self.sock in r:
                        self._drain()
                    if woke or due is None or self.clock() >= due:
                        due = self._tick_all()
                self._deliver()
            except Exception:
                self.stats["round_failed"] += 1
                log.exception("liveness: timer round")
                due = self.clock() + 0.1


# -- the switch in the prober's thread ---------------------------------------------------


@dataclass(frozen=True)
class FastPlan:
    """The kernel side of an LSP machine's answer to "primary lost"
    (``liveness.switch_plan``), prepared by the event loop for the prober's
    thread, for a verdict on ``sessions`` (the prober's primary sessions it
    was prepared for). Either ``deletes``: rtnetlink requests (bytes,
    ``dataplane.netlink.Netlink.exact_delete_msg``) the prober's thread sends itself on its own socket,
    each deleting one route only if it is still exactly the route the plan
    was made from (the kernel compares: the compare and set is the
    kernel's); or ``steps`` (callables, in the machine's order) run on the
    kernel's one thread, only if ``registry`` still holds ``expect``."""

    lsp_id: int
    name: str
    sessions: tuple
    expect: tuple = ()  # ((registry key, entry or None), ...)
    steps: tuple = ()
    deletes: tuple = ()  # Netlink.exact_delete_msg() requests
    deleted: tuple = ()  # ((registry key, entry), ...): the routes ``deletes`` name (what an undo puts back)


def netlink_socket(netns: str | None = None) -> socket.socket:
    """A plain rtnetlink socket in ``netns``, for ``FastSwitch``'s deletes."""

    def make():
        sk = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        sk.bind((0, 0))
        sk.settimeout(1.0)
        return sk

    return in_netns(netns, make)


def run_plan(registry: dict, plan: FastPlan) -> str:
    """On the kernel's thread: compare and set. "stale" (nothing done) when
    a route changed since the plan was made (a make-before-break, a new
    backup, a release got there first: the machine's later action wins),
    else "done"."""
    if any(registry.get(k) != e for k, e in plan.expect):
        return "stale"
    for step in plan.steps:
        step()
    return "done"


class Fired:
    """A switch the prober's thread made (``FastSwitch.fire``): the verdict,
    the plan, how its deletes went (None: steps, on the kernel's thread)
    and, once its steps ran, the registry entries they left (``after``,
    in ``plan.expect``'s order)."""

    __slots__ = ("verdict", "plan", "result", "after")

    def __init__(self, verdict, plan: FastPlan, result: str | None = None):
        self.verdict, self.plan, self.result, self.after = verdict, plan, result, None


class FastSwitch:
    """Prepared switches per LSP: ``arm`` (the event loop, after each
    event its machine handled), ``drop`` (before a release removes
    routes, and before the prober's paths change), ``fire`` (the ``fast``
    hook of ``LivenessService.add``: the prober's thread), then ``fired``
    and ``settle`` (the loop, when it handles that verdict).
    ``submit(fn, *args)`` puts a call on the kernel's one thread (FIFO
    with every other route change of these LSPs) and returns a Future;
    ``registry`` is that kernel's route registry (``Netlink.registry``),
    ``netlink`` that Netlink (only called on the kernel's thread: the
    undo of ``settle``).

    The loop never leaves a switch made here that it does not follow
    (docs/protection.md sec. 4c): the switch is the machine's answer to
    "primary lost" carried out early, so when the machine does not give
    that answer (the loop drops the verdict as stale, the LSP went, the
    machine had moved on), ``settle`` puts back every route the switch
    changed that the loop has not changed since: traffic is where the
    machine says, as it would be without the switch."""

    KEEP = 8  # fired switches remembered per LSP until the loop settles them

    def __init__(self, submit: Callable, registry: dict, on_done: Callable | None = None, sock: socket.socket | None = None, netlink=None):
        self.submit, self.registry, self.on_done, self.sock, self.netlink = submit, registry, on_done, sock, netlink
        self._seq = itertools.count(1)
        self.stats: Counter = Counter()
        self._lock = threading.Lock()
        self._plans: dict = {}  # lsp_id -> FastPlan
        self._fired: dict = {}  # lsp_id -> [Fired, ...] not yet settled by the loop

    def arm(self, lsp_id: int, plan: FastPlan | None) -> None:
        with self._lock:
            if plan is None:
                self._plans.pop(lsp_id, None)
            else:
                self._plans[lsp_id] = plan

    def drop(self, lsp_id: int) -> None:
        """No plan for ``lsp_id`` until the next ``arm``; a ``fire`` in
        progress finishes first (the lock), so none runs after this returns."""
        self.arm(lsp_id, None)

    def plan(self, lsp_id: int) -> FastPlan | None:
        with self._lock:
            return self._plans.get(lsp_id)

    def fire(self, lsp_id: int, a):
        """A verdict: a SwitchToBackup on the sessions of the prepared plan
        carries it out (one shot) and returns the plan: its exact deletes
        here, on ``sock`` (the caller's thread waits for the kernel's
        answers), or its steps handed to the kernel's thread (no wait);
        any other verdict (BackupDown, ...) drops the plan, since the
        machine's answer changes once the loop has that verdict (the loop
        prepares the next). What it did is kept for ``fired``."""
        with self._lock:
            plan = self._plans.pop(lsp_id, None)
            if not isinstance(a, lv.SwitchToBackup):
                return None
            if plan is None or plan.sessions != tuple(a.sessions) or (plan.deletes and self.sock is None):
                self.stats["fast_skipped"] += 1
                return None
            self.stats["fast_fired"] += 1
            rec = Fired(a, plan)
            kept = self._fired.setdefault(lsp_id, [])
            kept.append(rec)
            del kept[: -self.KEEP]
            if plan.deletes:  # here and now: one request per route, no other thread, no GIL handover
                r, exc = self._delete(plan.deletes), None
                rec.result = r
            else:
                fut = self.submit(self._run_steps, rec)  # under the lock: queued before a drop()'s release
        if plan.deletes:
            self._report(plan, r, exc)
        else:
            fut.add_done_callback(lambda f: self._report(plan, *((None, f.exception()) if f.exception() else (f.result(), None))))
        return plan

    def _run_steps(self, rec: Fired) -> str:
        """On the kernel's thread: ``run_plan``, and what it left."""
        r = run_plan(self.registry, rec.plan)
        if r == "done":
            rec.after = tuple(self.registry.get(k) for k, _ in rec.plan.expect)
        return r

    def fired(self, lsp_id: int, a) -> Fired | None:
        """The switch made for verdict ``a`` (that object), taken: None if
        the thread made none for it."""
        with self._lock:
            kept = self._fired.get(lsp_id) or []
            for i, rec in enumerate(kept):
                if rec.verdict is a:
                    del kept[i]
                    if not kept:
                        del self._fired[lsp_id]
                    return rec
        return None

    def settle(self, rec: Fired, followed: bool):
        """The loop has handled ``rec``'s verdict; ``followed``: its machine
        answered it with route changes of its own (they were queued after
        the switch). On the kernel's thread (FIFO behind them), a compare
        per route, so whatever the loop did since wins:

        * an exact delete is put back (``Netlink.reinstall``, a route
          replace) while the registry still holds the entry it deleted:
          the loop did not replace or remove that route since, so the
          kernel must have it (it did not follow, or its answer left that
          route as it was);
        * steps the loop did not follow are reverted, route by route,
          where the registry still holds what they left.

        Returns a Future of the number of routes put back (None without a
        Netlink)."""
        if self.netlink is None:
            return None
        return self.submit(self._undo, rec, followed)

    def _undo(self, rec: Fired, followed: bool) -> int:
        nl, reg, n = self.netlink, self.registry, 0
        for k, e in rec.plan.deleted:
            if reg.get(k) == e:
                nl.reinstall(e)
                n += 1
        if not followed and rec.after is not None:
            for (k, before), left in zip(rec.plan.expect, rec.after):
                if left == before or reg.get(k) != left:
                    continue  # untouched by the steps, or changed by the loop since
                if before is None:
                    nl.remove_encap(k[1], k[2])
                else:
                    nl.reinstall(before)
                n += 1
        self.stats["fast_undone"] += n
        return n

    def _delete(self, reqs) -> str:
        """Send the deletes, read their answers: "done" (every route was
        still the plan's and is gone), "stale" (one had changed: ESRCH),
        or "error"."""
        out = "done"
        for req in reqs:
            seq = next(self._seq) & 0xFFFFFFFF
            b = bytearray(req)
            struct.pack_into("=I", b, 8, seq)  # nlmsghdr.nlmsg_seq: match the answer
            try:
                self.sock.send(b)
                while True:
                    ans = self.sock.recv(65536)
                    if len(ans) >= 20 and struct.unpack_from("=I", ans, 8)[0] == seq:
                        break
                err = -struct.unpack_from("=i", ans, 16)[0]
            except OSError as exc:
                log.warning("liveness: fast delete: %s", exc)
                return "error"
            if err == errno.ESRCH:
                out = "stale"
            elif err:
                log.warning("liveness: fast delete: %s", os.strerror(err))
                return "error"
        return out

    def _report(self, plan: FastPlan, r: str | None, exc) -> None:
        r = "error" if exc is not None else r
        self.stats[f"fast_{r}"] += 1
        if exc is not None:
            log.warning("liveness: LSP %s: switch in the prober's thread failed: %s", plan.name, exc)
        if self.on_done is not None:
            self.on_done(plan, r)
