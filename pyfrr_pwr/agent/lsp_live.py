"""Liveness of protected LSPs (issue 7 sec. 4, docs/protection.md): what a
probe covers, the prober per LSP and its verdicts to the LSP machine, the
reflector every agent runs. A mixin of ``agent.lsps.LspManager``.

The switch in the prober's thread (docs/protection.md sec. 4c;
``agent.lsp.liveness.fast_switch``, on by default). The
``LivenessService`` runs in a thread of its own; after every event the
LSP machine handled (``_probe_sync``, the end of ``_feed``) the loop
prepares the kernel side of the machine's answer to "primary lost"
(``liveness.switch_plan``: a copy of the machine asked, so it is the
machine's decision, not a second one) as an ``agent.liveness.FastPlan``
for the prober's primary sessions. Usually (the backup pre-installed at
its metric, as the Switch wants it) that is an exact delete of the
primary route, sent by the prober's thread on its own rtnetlink socket:
the kernel deletes it only while it is exactly the route the plan was
made from (a make-before-break that replaced it wins), and traffic takes
the backup route. Otherwise (multipath, ...) the plan's route changes run
on the kernel's one thread (the ``Netlink`` every LSP route goes through,
FIFO) behind a compare of the registry entries. The plan is dropped
before the prober's paths change and re-armed for the sessions they give
(``_probe_sync``), so a verdict on a primary replaced meanwhile finds no
plan for its sessions, and the loop drops it. The loop is told afterwards
as before (``_on_liveness``): the machine handles ``LivenessLost`` (state,
``show lsps``, switch hold, re-signalling) and carries out its Switch,
which re-creates the primary metric with the backup (same traffic). The
loop never leaves a switch it does not follow: a verdict the thread
switched for and the loop then drops (its sessions replaced between the
thread's switch and the loop's turn, the LSP gone) or that the machine
answers with no route change has its switch undone, the machine's routes
put back as the registry holds them (``_fast_settle``). A release stops
the prober and drops the plan (``_probe_stop``) before any route goes.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket

from pyfrr_pwr.agent.lsp_head import _Head, _LegInfo
from pyfrr_pwr.dataplane import lsp as fsm
from pyfrr_pwr.dataplane import sidlist

log = logging.getLogger("pyfrr_pwr.agent.lsps")


def _remove_if_ours(nl, prefix: str, metric: int) -> None:
    if (socket.AF_INET, prefix, metric) in nl.registry:
        nl.remove_encap(prefix, metric)


class LivenessMixin:
    """The prober/reflector side of ``LspManager``."""

    def _fast_switch(self):
        """The LSPs' prepared switches (``agent.liveness.FastSwitch``) on the
        kernel's thread, once that exists (``agent.lsps._OwnThread``: its one
        executor, its Netlink's registry); None before, or without a
        threaded service."""
        fs, nl = self._fast, self.nl
        if fs is None and nl is not None and self.live is not None and self.live.threaded and hasattr(nl, "submit"):
            from pyfrr_pwr.agent.liveness import FastSwitch, netlink_socket

            try:
                sock = netlink_socket(getattr(self.srv6, "netns", None))
            except OSError as exc:  # the kernel's thread does every switch then
                self.core.report("liveness_netlink_errors", exc, "opening the prober's rtnetlink socket")
                sock = None
            fs = self._fast = FastSwitch(nl.submit, nl.plain.registry, self._fast_done, sock, netlink=nl.plain)
        return fs

    def _fast_done(self, plan, result: str) -> None:
        """The kernel's thread: how a switch made in the prober's thread went."""
        self.stats[f"liveness_fast_{result}"] += 1
        if result == "done":
            log.info("%s: LSP %s: switched to the backup in the prober's thread", self.name, plan.name)

    def _tail_address(self, tail: str, dt6: str | None, table) -> str | None:
        """The tail's node address (LOC::1, where every agent's reflector
        listens): from its advertised locator, else from its End.DT6 SID's
        /48 (the default locator length, ``sids``)."""
        from pyfrr_pwr.dataplane import sids

        loc = table.locators.get(tail) if table is not None else None
        try:
            if loc is not None:
                return sids.node_address(loc)
            if dt6:
                return str(ipaddress.IPv6Address(int(ipaddress.IPv6Network(f"{dt6}/48", strict=False).network_address) | 1))
        except (ValueError, sids.SidError):
            return None
        return None

    def _probe_path(self, info: _LegInfo | None):
        """What the prober covers for a leg (docs/protection.md):

        * intra-area (no binding SID): ``liveness.probe_path`` over the
          leg's own links: End.X per hop to the tail, the echo back on the
          reverse links' End.X SIDs; both directions of exactly the LSP's
          links are tested;
        * inter-area: the leg's own SID list (End.X to the first ABR, its
          binding SID: the ABRs' segments as traffic takes them) to the
          tail's node address; the echo returns over the IGP to the first
          ABR's End SID, then on the reverse of the head-end's own links
          (the head-end holds no other area's End.X SIDs). Every forward
          failure on the LSP is seen, and both directions of the head-end's
          segment; a failure on the IGP's return route beyond the first ABR
          too, until OSPF repairs it (primary and backup then fail together:
          the LSP falls to the IGP).
        """
        from pyfrr_pwr.dataplane import liveness as lv

        if info is None or not info.target:
            return None
        if info.binding is None:
            edges = tuple((u, v, k) for u, v, k in zip(info.route, info.route[1:], info.links))
            for area, ted in sorted(self.core.teds.items()):
                G = ted.graph()
                if all(G.has_edge(*e) for e in edges):
                    try:
                        return lv.probe_path(edges, self.core.sid_table(area), G)
                    except (ValueError, sidlist.SidListError, KeyError) as exc:
                        self.stats["probe_path_forward_only"] += 1
                        log.debug("%s: probe path of %s: %s: forward only", self.name, info.rid, exc)
                    break
        try:
            return lv.ProbePath(info.segs, info.target, self._return_via_first_abr(info))
        except ValueError:
            return None

    def _return_via_first_abr(self, info: _LegInfo) -> tuple:
        """An inter-area leg's echo route: over the IGP to the first ABR's
        End SID, then the reverse of the head-end's own links (their End.X
        SIDs), so each leg's echo crosses its own head-end segment and not
        the other leg's (a failure there cannot take both down); () if a
        SID is missing (the echo then follows the IGP all the way)."""
        from pyfrr_pwr.dataplane import sids

        n = len(info.links)
        edges = tuple(zip(info.route[:n], info.route[1 : n + 1], info.links))
        if not edges:
            return ()
        abr = edges[-1][1]
        for area, ted in sorted(self.core.teds.items()):
            G = ted.graph()
            if not all(G.has_edge(*e) for e in edges):
                continue
            try:
                table = self.core.sid_table(area)
                ret = [sids.end_sid(table.locators[abr])]
                for u, v, k in reversed(edges):
                    ret.append(table.end_x_of(v, G.edges[u, v, k]["remote"]))
                return tuple(ret)
            except (KeyError, ValueError, sidlist.SidListError, sids.SidError) as exc:
                self.stats["probe_return_igp"] += 1
                log.debug("%s: echo route of %s: %s: over the IGP", self.name, info.rid, exc)
                return ()
        return ()

    def _probe_stop(self, h: _Head) -> None:
        """No prober and no prepared switch for ``h`` any more (before a
        release removes its routes: a verdict still on its way finds no
        plan)."""
        if h.probed is not None:
            if self._fast is not None:
                self._fast.drop(h.probed[0])
            if self.live is not None:
                self.live.remove(h.probed[0])
        h.probed = None

    def _fast_arm(self, h: _Head) -> None:
        """Prepare the switch the prober's thread makes on SwitchToBackup:
        the kernel actions of the machine's answer (``switch_plan``) as
        route changes, against the LSP's routes in the registry now
        (``agent.liveness.run_plan``). None when the machine would change
        nothing or a route cannot be built here: the loop then does it, as
        without a threaded service."""
        from pyfrr_pwr.dataplane import liveness as lv

        fs = self._fast_switch()
        if fs is None:
            return
        n, plan = h.probed[0], None
        if self.settings.liveness.fast_switch:
            try:
                plan = self._plan_of(h, lv.switch_plan(h.m, self.clock()), fs.registry, self.live.primary_sessions(n))
            except Exception as exc:  # a leg without its route info, a device gone: the loop switches, as before
                self.stats["liveness_fast_unprepared"] += 1
                log.debug("%s: LSP %s: no fast switch: %s", self.name, h.id, exc)
        fs.arm(n, plan)

    def _plan_of(self, h: _Head, actions, registry, sessions):
        """``actions`` (the machine's, kernel only) as a ``FastPlan``: exact
        deletes when they come to the same (``_exact_deletes``), else steps
        on the plain Netlink built as ``HeadEndMixin._install`` and ``_do``
        build them, so the loop's later Switch is the same route replace."""
        import functools

        from pyfrr_pwr.agent.liveness import FastPlan

        if not actions or not sessions:
            return None
        nl = self.nl.plain
        prefixes = [str(ipaddress.IPv4Network(p)) for p in h.prefixes]
        hops = {
            (id(a), p): self._hops(h, a.legs if isinstance(a, (fsm.InstallEncap, fsm.Switch)) else (a.leg,), p)
            for a in actions
            if isinstance(a, (fsm.InstallEncap, fsm.Switch, fsm.InstallBackup))
            for p in prefixes
        }
        if self._fast is not None and self._fast.sock is not None:
            deletes = self._exact_deletes(actions, registry, prefixes, hops)
            if deletes:
                return FastPlan(h.m.lsp_id, h.id, tuple(sessions), deletes=tuple(m for _, m in deletes), deleted=tuple(e for e, _ in deletes))
        # both of the LSP's routes per prefix, touched or not: a new backup (InstallBackup) or its
        # removal since the plan was made changes what the machine would do, and shows here
        keys = [(socket.AF_INET, p, m) for p in prefixes for m in (self.config.primary_metric, self.config.backup_metric)]
        steps = []
        for a in actions:
            for p in prefixes:
                if (id(a), p) in hops:
                    steps.append(functools.partial(nl.add_multipath, p, hops[id(a), p], a.metric))
                else:  # RemoveEncap / RemoveBackup: as _do, only a route we hold
                    steps.append(functools.partial(_remove_if_ours, nl, p, a.metric))
        return FastPlan(h.m.lsp_id, h.id, tuple(sessions), tuple((k, registry.get(k)) for k in keys), tuple(steps))

    @staticmethod
    def _hops(h: _Head, legs, prefix: str) -> tuple:
        """The nexthops of ``legs`` for one prefix, as ``_install`` gives
        them to ``Netlink.add_multipath`` (segments normalised as it
        registers them)."""
        from pyfrr_pwr.dataplane.netlink import Nexthop

        infos = [h.by_segs[l.segs] for l in legs]
        return tuple(Nexthop(tuple(str(ipaddress.IPv6Address(x)) for x in (*i.segs, i.dx4[prefix])), i.dev, l.weight) for i, l in zip(infos, legs))

    def _exact_deletes(self, actions, registry, prefixes, hops) -> tuple | None:
        """The machine's answer as exact deletes (``Netlink.exact_delete_msg``)
        when that is what it comes to in the kernel: a Switch of the primary
        route to the backup's leg that is installed, unchanged, at the
        backup metric (deleting the primary route puts traffic on exactly
        that route: the machine's Switch then re-creates the primary metric
        with it, the same traffic); or removals only (to the IGP), as
        ``((registry key, entry), request)`` per route. None otherwise
        (multipath, a backup not installed as the Switch wants it): the
        plan then runs its steps on the kernel's thread."""
        from pyfrr_pwr.dataplane.netlink import EncapRoute

        pm, bm = self.config.primary_metric, self.config.backup_metric
        a0 = actions[0]
        if len(actions) == 1 and isinstance(a0, fsm.Switch) and a0.to == "backup" and a0.metric == pm:
            for p in prefixes:
                b = registry.get((socket.AF_INET, p, bm))
                if not (isinstance(b, EncapRoute) and b.nexthops == hops[id(a0), p]):
                    return None
            gone = [registry.get((socket.AF_INET, p, pm)) for p in prefixes]
        elif all(isinstance(a, (fsm.RemoveEncap, fsm.RemoveBackup)) for a in actions):
            gone = [e for e in (registry.get((socket.AF_INET, p, a.metric)) for a in actions for p in prefixes) if e is not None]
        else:
            return None
        if not gone or not all(isinstance(e, EncapRoute) and len(e.nexthops) == 1 for e in gone):
            return None
        return tuple(((e.key, e), self.nl.plain.exact_delete_msg(e, self._ifindex(e.nexthops[0].dev))) for e in gone)

    def _ifindex(self, dev: str) -> int:
        """A device's index, asked once (a device recreated since makes an
        exact delete miss: ESRCH, and the loop's Switch does the job)."""
        cache = self._fast_ifindex
        if dev not in cache:
            cache[dev] = self.nl.ifindex(dev)
        return cache[dev]

    def _probe_sync(self, h: _Head) -> None:
        """Give the LSP's prober its paths (set-up, re-optimisation, a new
        backup): a Prober per protected LSP, its verdicts fed to the machine."""
        if self.live is None or h.backup_kind is None:
            return
        m = h.m
        if m.state in (fsm.State.DOWN, fsm.State.RELEASING, fsm.State.GONE) or self.heads.get(h.id) is not h:
            self._probe_stop(h)
            return
        from pyfrr_pwr.dataplane import liveness as lv

        # every leg of an equal-PWR set (--ecmp) is probed over its own SID list (docs/protection.md)
        legs = tuple(self._probe_path(h.legs.get(l.sig)) for l in m.primary)
        pp = None if not legs or None in legs else (legs[0] if len(legs) == 1 else legs)
        bp = self._probe_path(h.legs.get(m.backup.sig)) if m.backup is not None else None
        key = (m.lsp_id, pp, bp)
        if key != h.probed:
            if self._fast is not None:
                # the plan goes before the paths change, re-armed below for the sessions they
                # give (atomic with any fire: FastSwitch's lock): a verdict on the sessions these
                # paths replace, still on its way out of the service (delivered even inside the
                # handle() below), finds no plan, so no thread switches for a verdict this loop
                # would then drop as stale (docs/protection.md sec. 4c)
                self._fast.drop(m.lsp_id)
            if h.probed is None or h.probed[0] != m.lsp_id:
                self._probe_stop(h)
                c = self.settings.liveness
                pr = lv.Prober(m.lsp_id, lv.ProberConfig(c.interval, c.multiplier, c.up_after, c.grace))
                self.live.add(pr, lambda a, h=h, n=m.lsp_id: self._on_liveness(h, n, a), lambda a, n=m.lsp_id: self._fast_fire(n, a))
            self.live.handle(m.lsp_id, lv.SetPaths(self.clock(), pp, bp))
            h.probed = key
        self._fast_arm(h)  # the machine may have moved: what "primary lost" means now

    def _fast_fire(self, lsp_id: int, a) -> None:
        """The prober's thread, at a verdict (``FastSwitch.fire``)."""
        fs = self._fast
        if fs is None:
            return
        ready = fs.plan(lsp_id)
        if ready is not None and tuple(getattr(a, "sessions", ())) == ready.sessions:  # logged first: the verdict's time
            log.info("%s: LSP %s: liveness SwitchToBackup (switching in the prober's thread)", self.name, ready.name)
        fs.fire(lsp_id, a)

    def _on_liveness(self, h: _Head, lsp_id: int, a) -> None:
        """A prober's verdict (SwitchToBackup, SwitchBack, BackupDown,
        BackupUp) as LivenessLost/Restored to the LSP's machine, at once:
        the Switch is one netlink request (no dump). If the prober's thread
        already switched for it (``FastSwitch.fired``), the switch is then
        settled: kept where the machine's own route changes follow it,
        undone where they do not (``_fast_settle``)."""
        fired = self._fast.fired(lsp_id, a) if self._fast is not None else None
        followed = False
        try:
            followed = self._take_verdict(h, lsp_id, a)
        finally:
            if fired is not None:
                self._fast_settle(h, fired, followed)

    def _take_verdict(self, h: _Head, lsp_id: int, a) -> bool:
        """``_on_liveness`` proper; True when the machine answered with
        route changes (it followed the verdict)."""
        from pyfrr_pwr.dataplane.liveness import KERNEL_ACTIONS

        if h.m.lsp_id != lsp_id or self.heads.get(h.id) is not h:
            return False
        sessions = getattr(a, "sessions", None)
        if sessions and self.live is not None and tuple(sessions) != self.live.primary_sessions(lsp_id):
            # made in the prober's thread on sessions replaced before we got it (a make-before-
            # break, a new probe path): it says nothing about the path the machine holds now
            self.stats["liveness_stale_verdicts"] += 1
            return False
        self.stats[f"liveness_{type(a).__name__}"] += 1
        log.info("%s: LSP %s: liveness %s%s", self.name, h.id, type(a).__name__, f" leg {a.leg}" if hasattr(a, "leg") else "")
        ev = a.event()
        if ev is None:  # a leg's verdict before lspmsg knows legs: nothing to feed
            return False
        return any(type(x).__name__ in KERNEL_ACTIONS for x in self._feed(h, ev))

    def _fast_settle(self, h: _Head, rec, followed: bool) -> None:
        """The loop has handled a verdict the prober's thread switched for.
        The switch was the machine's answer carried out early; the loop
        never leaves one it does not follow (docs/protection.md sec. 4c):
        a verdict it drops (stale sessions, the LSP released or set up
        anew) or that the machine answers with no route change of its own
        (it had moved on) has its switch undone, the machine's routes put
        back exactly as the registry holds them (``FastSwitch.settle``, a
        compare per route on the kernel's thread: what the loop changed
        since wins). Undo, not adopt: the machine's state is the one that
        ``show lsps``, wait-to-restore and re-optimisation act on, and a
        verdict it refuses says nothing about the path it holds now (its
        new sessions judge that path afresh), so traffic goes back where
        it says, as it would be had the thread not switched."""
        self.stats["liveness_fast_followed" if followed else "liveness_fast_undone"] += 1
        if not followed:
            log.warning("%s: LSP %s: the prober's thread switched on a verdict the LSP machine did not take: undone", self.name, rec.plan.name)
        fut = self._fast.settle(rec, followed)
        if fut is not None:
            fut.add_done_callback(self._fast_settled)

    def _fast_settled(self, fut) -> None:
        """The kernel's thread: routes a settle put back (or why it failed)."""
        exc = fut.exception()
        if exc is not None:
            self.core.report("liveness_netlink_errors", exc, "undoing a switch made in the prober's thread")
        elif fut.result():
            self.stats["liveness_fast_restored"] += fut.result()

    def _liveness_of(self, h: _Head):
        if self.live is None or h.probed is None:
            return None
        return self.live.snapshot(h.probed[0])

    async def _live_start(self) -> None:
        """Every agent with SRv6: the reflector (answers probes) and, at a
        head-end, the probers. Needs sr0/sr0p up (the probe route)."""
        from pyfrr_pwr.agent.liveness import LivenessService, install_probe_route

        c = self.settings.liveness
        netns = getattr(self.srv6, "netns", None)
        try:
            await asyncio.to_thread(install_probe_route, netns)
            self._probe_target_route()
            sock = await asyncio.to_thread(self._live_socket, netns, c.port)
            # threaded: its timers and the switch do not wait for this loop (docs/protection.md sec. 4c)
            live = LivenessService(sock=sock, port=c.port, key=c.key, allowed=c.allowed, rate=c.rate, clock=self.clock, threaded=c.threaded, nice=c.nice)
            await live.start()
        except Exception as exc:
            self._live_failed = self.clock()
            self.core.report("liveness_start_errors", exc, "starting the liveness prober/reflector (retried)")
            return
        self.live = live
        self.stats["liveness_started"] += 1
        for h in list(self.heads.values()):
            self._probe_sync(h)

    def _probe_target_route(self) -> None:
        """Probes through binding SIDs reach us by End.DT6, which looks the
        inner packet up in the main table only: a ``local`` route for our
        node address there delivers them (``Netlink.add_local``; removed
        with the rest at stop)."""
        from pyfrr_pwr.dataplane import sids

        plan = getattr(self.srv6, "plan", None)
        loc = getattr(plan, "locator", None)
        if loc is None:
            return
        self._kernel().add_local(sids.node_address(loc), getattr(plan, "sid_dev", None) or "sr0")

    @staticmethod
    def _live_socket(netns, port: int):
        import socket as _so

        from pyfrr_pwr.agent.liveness import in_netns

        def make():
            sk = _so.socket(_so.AF_INET6, _so.SOCK_DGRAM)
            sk.setsockopt(_so.SOL_SOCKET, _so.SO_REUSEADDR, 1)
            sk.bind(("::", port))
            return sk

        return in_netns(netns, make)
