"""Head-end LSPs over SRv6, and their part at ABRs and tail-ends (issue 7).

There is no MPLS in these kernels: a TE-LSP (draft sec. 1.2, 2.1.7) is an
SRv6 path. ``LspManager`` is the daemon's one hook for it: the control
requests it answers (Reserve, Release, Lsps), its task and what it removes
when the agent stops. It drives one ``dataplane.lsp.Lsp`` state machine per
LSP (sans-I/O: events in, actions out) and carries the actions out against
signalling and the kernel (``dataplane.netlink``).

Set-up (``path TO --reserve BW [--prefix P ...]``): the head-end's choice
(draft sec. 2.2) gives the explicit route of its own area and the later
segments; ``Signalling.reserve_lsp`` reserves it hop by hop with the data
plane flag set. Answers travel upstream, like the labels of an RSVP Resv
(RFC 3209 sec. 4.1): each hop adds the local address of the link it
reserved; an ABR that expanded its segment (CSPF in its area, sec. 2.2)
builds that segment's SID list from its TED (End.X per hop, then the next
ABR's binding SID, then the tail's End.DT6 SID), installs it as a binding
SID (End.B6.Encaps, RFC 8986 sec. 4.13) and answers that instead of its
segment's links (installed on the forward leg, while the rest of the path
is set up, where the list can be told from the TED already:
``TransitMixin.pre_install``; the answer then checks it); the tail answers its End.DT6 SID and the End.DX4 SIDs of
the LSP's prefixes (refusing a prefix it does not serve). The head-end
then builds its list from its own TED (``AgentCore.sid_table``): End.X of
each hop to the first ABR, that ABR's binding SID, the tail's End.DX4 SID,
and installs one IPv4-in-IPv6 encap route per prefix. Why binding SIDs at
every expanding ABR rather than one long list: the head-end's TED does not
hold the other areas' SIDs (and should not: sec. 2.1 keeps areas apart),
each ABR knows its segment only after its own CSPF, and the head-end's SRH
stays short whatever the path's length (docs/dataplane.md).

Any failure on the way (no SID for a hop, a prefix not the tail's, not
enough bandwidth, a link gone) unwinds what was done on every router
(signalling releases the hops it booked, each takes its binding SID with
it; the head-end removes its routes) and the request fails naming it.

Soft state: the reservations are refreshed by signalling; a hop whose
booking expires (``agent.reservation_hold``) removes its binding SID with
it. At the head-end a leg found lost or expired is set up again from
scratch; while it is down the encap route is gone and traffic follows the
IGP. Restart: the kernel's routes of protocol ``RTPROT_PYFRR_PWR`` that are
encap routes or binding SIDs belong to LSPs nobody maintains any more (the
LSPs' state lived in the dead process): they are removed at start
(``stale_lsp_routes_removed``), so traffic falls back to the IGP; the
reservations further on expire by themselves.

Re-optimisation (draft sec. 2.2, "another power shortest path ... would be
constructed"): when the live TEDs or the head-end's published view
(``core.view_gen``, what ``path_choice`` reads) changed, the head-end asks
for the best path (or equal-PWR set) again and hands it to the machine
(``PwrChanged``), which applies the margin and hold-down (hysteresis) and,
if it moves, signals the new path, replaces the encap route (a netlink
route replace: atomic, make-before-break) and releases the old one. The
task wakes on ``kick()``, at a machine's deadline, or every
``reoptimize_period`` s while it has LSPs or binding SIDs; else every 5 s.

Protection (issue 7 sec. 4): with ``backup`` (or ``agent.lsp.protection``)
the machine signals a backup too (``backup_candidate``: the cheapest other
choice whose head-end segment shares no link with the primary's; else
``paths.disjoint.protect`` on the head-end's own segment) and pre-installs
it at a worse metric, so a first-hop carrier loss switches in the kernel.
Remote failures: every agent runs an ``agent.liveness.LivenessService``
(the reflector), the head-end one ``dataplane.liveness.Prober`` per
protected LSP whose verdicts feed the machine as LivenessLost/Restored
(``_probe_path`` says what a probe covers). Equal-PWR legs (``ecmp``,
sec. 2.1.5): the choice's ECMP set as one weighted multipath route, UCMP
weights from available bandwidth (``ucmp_weights``).

The code is split by concept (docs/dataplane.md, "Code"), every name still
importable from here: ``lsp_plan`` (pure planning: candidates, SID lists,
backups, per-segment disjointness, ECMP/UCMP), ``lsp_head`` (the head-end's
runtime), ``lsp_transit`` (tail-ends, transit hops, ABRs' binding SIDs),
``lsp_live`` (liveness), ``lsp_intra`` (the intra-area planner); this module
keeps the manager's wiring: its state, the kernel, requests, views, its task.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import Counter

from pyfrr_pwr.agent.lsp_head import HeadEndMixin, _Head, _LegInfo
from pyfrr_pwr.agent.lsp_intra import HeadEnds, HeadLsp, _edges, plan_lsp
from pyfrr_pwr.agent.lsp_live import LivenessMixin
from pyfrr_pwr.agent.lsp_plan import (
    MAX_ECMP,
    LspError,
    _key,
    backup_candidate,
    candidate_path,
    ecmp_set,
    head_segs,
    parse_rid,
    segment_disjointness,
    ucmp_weights,
)
from pyfrr_pwr.agent.lsp_transit import TransitMixin
from pyfrr_pwr.dataplane import lsp as fsm
from pyfrr_pwr.dataplane import sidlist

__all__ = [
    "LspError",
    "HeadLsp",
    "plan_lsp",
    "HeadEnds",
    "LspManager",
    "candidate_path",
    "backup_candidate",
    "ecmp_set",
    "ucmp_weights",
    "head_segs",
    "parse_rid",
    "segment_disjointness",
]

# the split modules' names, kept importable from here (the split is by concept)
_REEXPORTED = (MAX_ECMP, _key, _edges, _Head, _LegInfo, HeadLsp, sidlist)

log = logging.getLogger("pyfrr_pwr.agent.lsps")


class _OwnThread:
    """A Netlink used from one thread of its own: pyroute2 0.9's IPRoute
    runs an asyncio loop of its own, which cannot run inside the agent's.
    Calls block the caller for the kernel's answer (milliseconds)."""

    def __init__(self, factory, netns):
        from concurrent.futures import ThreadPoolExecutor

        self._ex = ThreadPoolExecutor(1, thread_name_prefix="lsp-netlink")
        self._nl = self._ex.submit(factory, netns).result()

    @property
    def registry(self) -> dict:
        return self._nl.registry

    @property
    def plain(self):
        """The Netlink itself: only for calls made on this thread (``submit``)."""
        return self._nl

    def submit(self, fn, *args):
        """``fn(*args)`` on this thread, after every call queued before it;
        a Future (``agent.lsp_live``: the prober's thread does not wait)."""
        return self._ex.submit(fn, *args)

    def __getattr__(self, name):
        fn = getattr(self._nl, name)
        if not callable(fn):
            return fn
        return lambda *a, **kw: self._ex.submit(fn, *a, **kw).result()

    def close(self) -> None:
        try:
            self._ex.submit(self._nl.close).result()
        finally:
            self._ex.shutdown(wait=False)


class LspManager(TransitMixin, HeadEndMixin, LivenessMixin):
    """The daemon's one hook for LSPs (issue 7): the control requests it
    answers (``REQUESTS``), its task (``run``) and what it removes when the
    agent stops (``stop``). It is also signalling's ``dataplane`` hook
    (``on_reserved``, ``on_gone``): binding SIDs at ABRs, SIDs at tails."""

    REQUESTS: tuple = ()

    def __init__(self, core, signalling, srv6, name: str = "agent", *, netlink=None, clock=time.monotonic):
        from pyfrr_pwr.files.lspcfg import LspSettings
        from pyfrr_pwr.proto import control as msg

        self.core, self.signalling, self.srv6, self.name = core, signalling, srv6, name
        self.REQUESTS = (msg.Reserve, msg.Release, msg.Lsps)
        self.settings = getattr(getattr(core, "cfg", None), "lsp", None) or LspSettings()
        s = self.settings
        hold = getattr(signalling, "refresh", 5.0)
        self.config = fsm.LspConfig(
            refresh=hold,
            setup_timeout=s.setup_timeout,
            release_timeout=5.0,
            margin=s.margin,
            min_gain=s.min_gain,
            holddown=s.holddown,
            wtr=s.wtr,
            switch_hold=s.switch_hold,
        )
        self._netlink = netlink
        self.clock = clock
        self.nl = None
        self.heads: dict = {}  # LSP ID -> _Head
        self.bindings: dict = {}  # reservation ID -> LocalSid (we are an ABR on it)
        self.stats: Counter = Counter()
        self._num = 0
        self._ted_sig = None
        self._cleaned = False
        self._lost_since: dict = {}  # reservation ID -> when refreshes began to fail
        self.nl_read = None  # a second Netlink for dumps (counters): never in a Switch's way
        self.live = None  # agent.liveness.LivenessService (every agent with SRv6: the reflector)
        self._fast = None  # agent.liveness.FastSwitch: switches made in the prober's thread (lsp_live)
        self._fast_ifindex: dict = {}  # device -> index, for its exact deletes
        self._live_failed = 0.0  # when starting it last failed (retried every 5 s)
        self._kick_ev: asyncio.Event | None = None
        self._links_sig = None
        if signalling is not None:
            signalling.dataplane = self

    # -- the kernel ----------------------------------------------------------------

    def _kernel(self):
        """Our own Netlink (its registry holds only LSP state: encap routes
        and binding SIDs); at first use, what a dead predecessor left goes."""
        if self.nl is None:
            from pyfrr_pwr.dataplane.netlink import Netlink

            self.nl = _OwnThread(self._netlink or Netlink, getattr(self.srv6, "netns", None))
        if not self._cleaned:
            self._cleaned = True
            self._remove_stale()
        return self.nl

    def _remove_stale(self) -> None:
        from pyfrr_pwr.dataplane.netlink import EncapRoute, SidRoute

        try:
            stale = [e for e in self.nl.find_installed() if isinstance(e, EncapRoute) or (isinstance(e, SidRoute) and e.sid.behaviour == "End.B6.Encaps")]
        except Exception as exc:
            self.core.report("lsp_stale_scan_errors", exc, "scanning the kernel for stale LSP routes")
            return
        if stale:
            self.nl.adopt(stale)
            n = self.nl.remove_all()
            self.stats["stale_lsp_routes_removed"] += n
            log.warning("%s: removed %d LSP route(s)/binding SID(s) a previous agent left (nobody maintains them)", self.name, n)

    def _reader(self):
        """A second Netlink on a thread of its own for dumps (counters), so
        a Switch never waits behind one."""
        if self.nl_read is None:
            from pyfrr_pwr.dataplane.netlink import Netlink

            self.nl_read = _OwnThread(self._netlink or Netlink, getattr(self.srv6, "netns", None))
        return self.nl_read

    def kick(self) -> None:
        """Wake the task now (the daemon calls it when it published a new
        head-end view: re-optimisation follows the view, not a period)."""
        if self._kick_ev is not None:
            self._kick_ev.set()

    # -- control requests ------------------------------------------------------------

    async def control(self, req):
        from pyfrr_pwr.proto import control as msg

        if isinstance(req, msg.Lsps):
            return self.show()
        if isinstance(req, msg.Release):
            return await self.release(req.id)
        if isinstance(req, msg.Reserve):
            if not self._lsp_capable():
                why = getattr(self.srv6, "disabled", None) or ("agent.lsp.enabled is false" if not self.settings.enabled else "SRv6 not started")
                if req.prefixes:
                    raise msg.AgentRefusal(f"{self.core.router_id}: no LSP can carry {', '.join(req.prefixes)}: {why}")
                res = await self.signalling.control(req)  # a reservation only: say so, traffic is not steered
                return dataclasses.replace(res, no_lsp=f"{self.core.router_id}: {why}") if isinstance(res, msg.Reserved) else res
            return await self.reserve(req)
        raise TypeError(f"not an LSP request: {req!r}")

    def _lsp_capable(self) -> bool:
        return bool(self.settings.enabled and self.srv6 is not None and getattr(self.srv6, "nl", None) is not None and not getattr(self.srv6, "disabled", None))

    # -- views -----------------------------------------------------------------------

    def _record(self, h: _Head, counters: dict | None = None) -> dict:
        snap = h.m.snapshot()
        legs = []
        for i in h.legs.values():
            c = (counters or {}).get(i.segs[0]) if i.segs else None
            legs.append(
                {
                    "role": i.role,
                    "reservation": i.rid,
                    "route": list(i.route),
                    "links": list(i.links),
                    "binding": i.binding,
                    "segs": {p: [*i.segs, s] for p, s in sorted(i.dx4.items())},
                    "dev": i.dev,
                    "weight": i.weight,
                    "packets": c.packets if c else None,
                    "bytes": c.bytes if c else None,
                }
            )
        return {
            "id": h.id,
            "tail": h.tail,
            "state": snap["state"],
            "active": snap["active"],
            "bandwidth": h.bw,
            "prefixes": list(h.prefixes),
            "pwr_setup": h.pwr_setup,
            "pwr_now": h.pwr_now,
            "legs": legs,
            "backup": snap["backup"],
            "ecmp": h.ecmp,
            "backup_disjoint": h.backup_kind,
            "backup_srlg": h.backup_srlg,
            "backup_trap": h.backup_trap,
            **self._backup_segments(h),
            "liveness": self._liveness_of(h),
            "up_for": None if h.up_at is None else round(self.clock() - h.up_at, 3),
            "counters": "per first End.X SID (shared by every LSP leaving on that link); the kernel counts no IPv4 route",
            "stats": snap["stats"],
            "last_error": h.error or h.m.last_reason,
        }

    def _backup_segments(self, h: _Head) -> dict:
        """End to end (second seed sec. 4.2): what the backup shares with
        the primary per segment (``segment_disjointness``), from both legs'
        signalled routes; ``backup_disjoint`` is the head-end's choice."""
        m = h.m
        p = h.legs.get(m.primary[0].sig) if m.primary else None
        b = h.legs.get(m.backup.sig) if m.backup is not None else None
        if p is None or b is None:
            return {"backup_segments": None, "backup_end_to_end": None}
        plan = h.plans.get(m.backup.path.edges)
        chain = tuple(plan[2].abr_chain) if plan else ()
        segs, worst = segment_disjointness(p.route, b.route, chain)
        return {"backup_segments": list(segs), "backup_end_to_end": worst}

    def show(self) -> dict:
        counters = {}
        if self.nl is not None:
            try:
                counters = self._reader().sid_counters()
            except Exception as exc:
                self.core.report("lsp_counter_errors", exc, "reading SID counters")
        return {
            "lsps": [self._record(h, counters) for _, h in sorted(self.heads.items()) if not h.id.startswith("pending-")],
            "bindings": {
                rid: {"sid": s.sid, "segs": list(s.segs), "packets": (counters.get(s.sid).packets if counters.get(s.sid) else None)}
                for rid, s in sorted(self.bindings.items())
            },
            "stats": dict(self.stats),
            "liveness": None if self.live is None else {"port": self.live.port, "probers": len(self.live.probers), "stats": dict(self.live.stats)},
        }

    # -- the task --------------------------------------------------------------------

    def _ted_signature(self) -> tuple:
        """What re-optimisation follows: the head-end's published view
        (``core.view_gen``: path_choice chooses from it, so a TED change not
        yet in the view would choose the old path and be lost), else the
        live TEDs' change counters."""
        live = tuple((a, t.stats["updates"], t.stats["withdrawals"]) for a, t in sorted(self.core.teds.items()))
        if getattr(self.core, "view", None) is not None:
            return ("view", self.core.view_gen, live)
        return live

    IDLE = 5.0  # s between wake-ups with no LSP and no binding SID here

    def _sleep_for(self, now: float) -> float:
        s = self.settings
        if not self.heads and not self.bindings:
            return self.IDLE
        t = s.watch_period
        if s.reoptimize_period > 0:
            t = min(t, s.reoptimize_period)
        for h in self.heads.values():
            d = h.m.next_deadline()
            if d is not None:
                t = min(t, d - now)
        return max(t, 0.001)

    async def run(self) -> None:
        """Watch the LSPs: ticks for the machines (at their deadlines), lost
        legs set up again, re-optimisation when the head-end's view changed
        (woken by ``kick``, else every ``reoptimize_period`` s while there
        are LSPs; every ``IDLE`` s without). Never returns."""
        s = self.settings
        self._kick_ev = asyncio.Event()
        last_watch = -1e300
        first = True
        while True:
            wait = min(s.watch_period, 0.5) if first else self._sleep_for(self.clock())
            first = False
            try:
                await asyncio.wait_for(self._kick_ev.wait(), wait)
            except TimeoutError:
                pass
            self._kick_ev.clear()
            if self.core.router_id is None:
                continue
            if not self._cleaned and self._lsp_capable():
                try:
                    self._kernel()
                except Exception as exc:
                    self.core.report("lsp_kernel_errors", exc, "opening rtnetlink")
            now = self.clock()
            if self.live is None and self._lsp_capable() and getattr(self.srv6, "plan", None) is not None and now - self._live_failed >= self.IDLE:
                await self._live_start()
            for h in list(self.heads.values()):
                try:
                    d = h.m.next_deadline()
                    if d is not None and now >= d:
                        self._feed(h, fsm.Tick(now))
                except Exception as exc:
                    self.core.report("lsp_tick_errors", exc, f"LSP {h.id}")
            if now - last_watch >= s.watch_period:
                last_watch = now
                self._watch()
            if s.reoptimize_period > 0:
                sig = self._ted_signature()
                if sig != self._ted_sig:
                    self._ted_sig = sig
                    self._reoptimize()

    async def stop(self) -> None:
        """Release our LSPs (best effort, briefly) and remove exactly the
        routes and binding SIDs we installed."""
        heads = list(self.heads.values())
        try:
            if heads:
                await asyncio.wait_for(asyncio.gather(*(self.release(h.id) for h in heads), return_exceptions=True), 3.0)
        except TimeoutError:
            self.stats["stop_release_timeouts"] += 1
        finally:
            for h in heads:
                for t in list(h.tasks):
                    t.cancel()
            if self.live is not None:
                from pyfrr_pwr.agent.liveness import remove_probe_route

                live, self.live = self.live, None
                try:
                    await live.stop()
                    await asyncio.to_thread(remove_probe_route, getattr(self.srv6, "netns", None))
                except Exception as exc:
                    self.core.report("liveness_stop_errors", exc, "stopping liveness")
            fast, self._fast = self._fast, None
            if fast is not None and fast.sock is not None:
                fast.sock.close()  # the prober's rtnetlink socket
            if self.nl_read is not None:
                self.nl_read.close()
                self.nl_read = None
            if self.nl is not None:
                try:
                    n = self.nl.remove_all()
                    log.info("%s: %d LSP route(s)/binding SID(s) removed", self.name, n)
                finally:
                    self.nl.close()
                    self.nl = None
            self.bindings.clear()
