"""The head-end's LSP runtime (issue 7 sec. 2-4): set-up, release, lost legs,
re-optimisation (draft sec. 2.2, make-before-break) and backups (second
seed sec. 4.2), driving one ``dataplane.lsp.Lsp`` machine per LSP and
carrying out its actions against signalling and the kernel. A mixin of
``agent.lsps.LspManager``."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from pyfrr_pwr.agent.lsp_plan import LspError, backup_candidate, candidate_path, ecmp_set, head_segs, ucmp_weights
from pyfrr_pwr.agent.trace import trace
from pyfrr_pwr.dataplane import lsp as fsm

log = logging.getLogger("pyfrr_pwr.agent.lsps")


@dataclass
class _LegInfo:
    """A signalled leg as the head-end knows it: its reservation, the
    answer's route and the SID list per prefix."""

    rid: str
    route: tuple
    links: tuple
    binding: str | None
    segs: tuple  # path order, without the last (per-prefix End.DX4) SID
    dx4: dict  # prefix -> the tail's End.DX4 SID
    dev: str
    pwr: float
    role: str = "primary"
    weight: int = 1  # its share of a multipath route (UCMP, draft sec. 2.1.5)
    target: str | None = None  # the tail's node address (LOC::1): the probes' destination


@dataclass
class _Head:
    id: str  # the user's name: the ID of its first reservation
    num: int  # the machine's LSP ID
    tail: str
    bw: float
    want_prefixes: tuple  # asked for (empty: the tail's)
    k: int | None
    constraints: dict
    m: fsm.Lsp
    plans: dict = field(default_factory=dict)  # path edges -> (hops, plan, candidate)
    legs: dict = field(default_factory=dict)  # sig -> _LegInfo
    by_segs: dict = field(default_factory=dict)  # EncapLeg.segs -> _LegInfo
    prefixes: tuple = ()  # what it carries (the tail's answer)
    pwr_setup: float | None = None
    pwr_now: float | None = None
    created: float = 0.0
    up_at: float | None = None
    backup_kind: str | None = None  # "node", "link", "none"; None: no backup asked
    backup_srlg: bool | None = None  # backup disjoint in shared-risk groups too (None: unknown)
    backup_trap: bool = False  # no disjoint backup for this primary, though a disjoint pair exists
    probed: object = None  # the probe paths last given to the prober (None: no prober)
    ecmp: bool = False  # carries the equal-PWR set (--ecmp)
    waiter: asyncio.Future | None = None
    primary_known: asyncio.Event = field(default_factory=asyncio.Event)  # a primary leg answered (or failed)
    error: str | None = None
    tasks: set = field(default_factory=set)


class HeadEndMixin:
    """The head-end's side of ``LspManager``."""

    # -- the head-end ------------------------------------------------------------------

    def _choose(self, tail: str, k, constraints: dict, bw: float | None):
        from pyfrr_pwr.agent.control import constraints as _cons

        cons = _cons(dict(constraints), min_bandwidth=bw) if bw else _cons(dict(constraints))
        return self.core.path_choice(tail, k, cons)

    def _path_of(self, h: _Head, cand) -> fsm.LspPath:
        from pyfrr_pwr.agent import reservations

        p = candidate_path(cand, h.tail, self.core.teds)
        h.plans[p.edges] = (*reservations.plan(cand, h.tail), cand)
        return p

    def _bundle(self, h: _Head, choice) -> tuple:
        """The LSP's primary legs: the best path, or with ``ecmp`` the
        equal-PWR set weighted by available bandwidth (UCMP)."""
        import dataclasses

        if not h.ecmp:
            return (self._path_of(h, choice.best),)
        cands = ecmp_set(choice, h.tail, self.core.teds)
        return tuple(dataclasses.replace(self._path_of(h, c), weight=w) for c, w in zip(cands, ucmp_weights(cands)))

    def _spawn(self, h: _Head, coro) -> None:
        t = asyncio.get_running_loop().create_task(coro)
        h.tasks.add(t)
        t.add_done_callback(h.tasks.discard)

    def _feed(self, h: _Head, ev) -> list:
        """``ev`` to the LSP's machine, its actions carried out; returns
        them (``agent.lsp_live``: did the machine follow a verdict the
        prober's thread switched for)."""
        acts = h.m.handle(ev)
        for a in acts:
            try:
                self._do(h, a)
            except Exception as exc:
                self._kernel_failed(h, a, exc)
                break  # the rest was for an LSP that is now released
        if h.m.state is fsm.State.GONE and self.heads.get(h.id) is h:
            del self.heads[h.id]
        self._probe_sync(h)
        self._settle(h)
        self.kick()  # its deadlines may have moved
        return acts

    def _settle(self, h: _Head) -> None:
        w = h.waiter
        if w is None or w.done():
            return
        if h.m.state is fsm.State.UP and h.m.active == "primary":
            w.set_result(None)
        elif h.error or h.m.state in (fsm.State.DOWN, fsm.State.GONE, fsm.State.RELEASING):
            w.set_result(h.error or h.m.last_reason or f"LSP {h.id} is {h.m.state.value}")

    def _kernel_failed(self, h: _Head, a, exc: Exception) -> None:
        """A kernel action failed: the LSP cannot carry traffic as asked;
        it goes (nothing half installed)."""
        self.stats["kernel_errors"] += 1
        h.error = f"{self.core.router_id}: {type(a).__name__} failed: {exc}"
        log.warning("%s: LSP %s: %s", self.name, h.id, h.error)
        if h.m.state not in (fsm.State.RELEASING, fsm.State.GONE):
            for b in h.m.handle(fsm.ReleaseRequested(self.clock())):
                try:
                    self._do(h, b)
                except Exception as exc2:  # removals are best effort
                    self.core.report("lsp_unwind_errors", exc2, f"LSP {h.id}")
        self._remove_routes(h)

    def _remove_routes(self, h: _Head) -> None:
        import socket as _so

        nl = self.nl
        if nl is None:
            return
        for p in h.prefixes:
            for m in (self.config.primary_metric, self.config.backup_metric):
                if (_so.AF_INET, p, m) in nl.registry:
                    nl.remove_encap(p, m)

    def _install(self, h: _Head, legs, metric: int) -> None:
        from pyfrr_pwr.dataplane.netlink import Nexthop

        infos = [h.by_segs[l.segs] for l in legs]
        nl = self._kernel()
        for p in h.prefixes:
            hops = [Nexthop((*i.segs, i.dx4[p]), i.dev, l.weight) for i, l in zip(infos, legs)]
            nl.add_multipath(p, hops, metric)

    def _do(self, h: _Head, a) -> None:
        import socket as _so

        if isinstance(a, fsm.Signal):
            self._spawn(h, self._signal(h, a))
        elif isinstance(a, fsm.Release):
            i = h.legs.pop(a.sig, None)
            if i is not None:
                self._spawn(h, self._release(h, a.sig, i.rid))
        elif isinstance(a, (fsm.InstallEncap, fsm.Switch)):
            self._install(h, a.legs, a.metric)
            trace("lsp_route", h.id, a.metric)
            if h.up_at is None:
                h.up_at = self.clock()
        elif isinstance(a, fsm.InstallBackup):
            self._install(h, (a.leg,), a.metric)
        elif isinstance(a, (fsm.RemoveEncap, fsm.RemoveBackup)):
            nl = self.nl
            for p in h.prefixes:
                if nl is not None and (_so.AF_INET, p, a.metric) in nl.registry:
                    nl.remove_encap(p, a.metric)
        elif isinstance(a, fsm.Recompute):
            self._spawn(h, self._recompute(h, a.reason))
        # Refresh: signalling refreshes every reservation we head (run_timers)

    async def _signal(self, h: _Head, a: fsm.Signal) -> None:
        hops, plan, cand = h.plans[a.path.edges]
        trace("lsp_signal", h.id, a.sig, a.role)
        rid = None
        try:
            avoid = await self._primary_route(h) if a.role == "backup" else ()
            kw = {"avoid": avoid} if avoid else {}
            rid, route = await asyncio.wait_for(
                self.signalling.reserve_lsp(hops, a.bandwidth or h.bw, plan, h.want_prefixes, **kw), self.settings.setup_timeout
            )
            trace("lsp_signalled", h.id, rid)
            info = self._leg(h, rid, route, a.path.pwr)
            info.role, info.weight = a.role, a.path.weight
        except Exception as exc:
            if rid is not None:
                await self._quiet_release(rid)
            reason = str(exc) or type(exc).__name__
            if isinstance(exc, TimeoutError):
                reason = f"signalling did not answer within {self.settings.setup_timeout:g} s"
            self.stats["signal_failures"] += 1
            if h.waiter is not None and not h.waiter.done():
                h.error = reason
            if a.role == "primary":
                h.primary_known.set()
            self._feed(h, fsm.SignallingFailed(self.clock(), a.sig, reason))
            return
        h.legs[a.sig] = info
        if a.role == "primary":
            h.primary_known.set()
        h.by_segs[info.segs + (next(iter(info.dx4.values())),)] = info
        self._feed(h, fsm.SignallingSucceeded(self.clock(), a.sig, info.segs + (next(iter(info.dx4.values())),), None))

    async def _primary_route(self, h: _Head) -> tuple:
        """The primary's route as signalled (every router, every area), for
        its backup's ABRs to expand away from (second seed sec. 4.2); it is
        signalled at the same time, so wait for its answer a little."""
        try:
            await asyncio.wait_for(h.primary_known.wait(), self.settings.setup_timeout / 2)
        except TimeoutError:
            return ()
        cur = h.legs.get(h.m.primary[0].sig) if h.m.primary else None
        ps = [i for i in h.legs.values() if i.role == "primary"]
        return tuple((cur or ps[-1]).route) if cur or ps else ()

    def _leg(self, h: _Head, rid: str, route, pwr: float) -> _LegInfo:
        table = self.core.sid_table()
        segs = head_segs(route, table, self._own_end_x, self.settings.max_depth)
        dx4 = {p.prefix: p.sid for p in route.dx4}
        if not dx4:
            raise LspError(f"tail {h.tail} answered no End.DX4 SID")
        if h.prefixes and set(h.prefixes) != set(dx4):
            raise LspError(f"tail {h.tail} answered prefixes {sorted(dx4)}, the LSP carries {list(h.prefixes)}")
        h.prefixes = h.prefixes or tuple(sorted(dx4))
        dev = self._kernel().ifname_of(route.links[0])
        return _LegInfo(rid, tuple(route.route), tuple(route.links), route.binding, segs, dx4, dev, pwr, target=self._tail_address(h.tail, route.dt6, table))

    def _head_backup(self, best, path: fsm.LspPath, h: _Head | None = None) -> tuple:
        """No other choice avoids the primary's links: a backup of the
        head-end's own segment to the same first ABR (or tail) from
        ``paths.disjoint``, the later segments as the primary's.
        It shares that ABR, so it is at most link-disjoint."""
        import dataclasses

        # imported when a backup is first wanted: it pulls paths.ksp, which an
        # agent heading no LSP never needs (issue 10: agent RSS)
        from pyfrr_pwr.paths import disjoint as _disjoint

        head_edges = [e for e in path.edges if not str(e[2]).startswith("area ")]
        if not head_edges:
            return None, "none"
        src, dst = head_edges[0][0], head_edges[-1][1]
        for _, ted in sorted(self.core.teds.items()):
            G = ted.graph()
            if not all(G.has_edge(u, v, k) for u, v, k in head_edges):
                continue
            try:
                b = _disjoint.protect(G, head_edges, src, dst)
                p, kind = b.path, b.kind
                if h is not None:
                    h.backup_srlg, h.backup_trap = b.srlg, b.trap
            except Exception as exc:
                self.core.report("backup_path_errors", exc, "backup path")
                return None, "none"
            if p is None:
                return None, "none"
            extra = p.cost - sum(G.edges[e].get("weight", 0.0) for e in head_edges)
            kind = kind if best.abr_chain == () else "link"  # the first ABR is shared
            return dataclasses.replace(best, head_path=tuple(p.nodes), pwr=best.pwr + max(extra, 0.0)), kind
        return None, "none"

    async def _quiet_release(self, rid: str) -> None:
        try:
            await self.signalling.release(rid)
        except Exception as exc:
            self.stats["release_errors"] += 1
            log.info("%s: release of %s: %s (it expires by itself)", self.name, rid, exc)

    async def _release(self, h: _Head, sig: int, rid: str) -> None:
        await self._quiet_release(rid)
        self._feed(h, fsm.Released(self.clock(), sig))

    async def _recompute(self, h: _Head, reason: str) -> None:
        try:
            choice = self._choose(h.tail, h.k, h.constraints, None)
        except Exception as exc:
            self.stats["recompute_failures"] += 1
            log.info("%s: LSP %s: %s: no path: %s", self.name, h.id, reason, exc)
            return
        ps = self._bundle(h, choice)
        now = self.clock()
        if h.m.state is fsm.State.DOWN:
            self._feed(h, fsm.SetupRequested(now, ps))
        else:
            self._feed(h, fsm.PwrChanged(now, ps))

    async def reserve(self, req):
        """Set up an LSP (see module docstring); its Reserved record, or an
        AgentRefusal naming what failed (nothing left installed)."""
        from pyfrr_pwr.proto import control as msg

        sg = self.signalling
        if sg.signer is None:
            raise msg.AgentRefusal(sg.no_key)
        bw = sg._check_bw(float(req.bw))
        choice = self._choose(req.to, req.k, req.constraints, bw)
        self._kernel()
        self._num += 1
        m = fsm.Lsp(self._num, self.core.router_id, req.to, tuple(req.prefixes) or ("*",), bw, self.config)
        h = _Head(f"pending-{self._num}", self._num, req.to, bw, tuple(req.prefixes), req.k, dict(req.constraints), m, created=self.clock())
        h.waiter = asyncio.get_running_loop().create_future()
        h.ecmp = bool(getattr(req, "ecmp", False) or self.settings.ecmp)
        paths = self._bundle(h, choice)
        path = paths[0]
        backup = None
        if getattr(req, "backup", False) or self.settings.protection:  # issue 7 sec. 4: pre-installed at a worse metric
            bc, h.backup_kind = backup_candidate(choice, choice.best)
            if bc is None:
                bc, h.backup_kind = self._head_backup(choice.best, path, h)
            backup = self._path_of(h, bc) if bc is not None else None
        self.heads[h.id] = h
        self._feed(h, fsm.SetupRequested(self.clock(), paths, backup))
        why = await h.waiter
        h.waiter = None
        if why is not None:  # nothing half installed: release what is left
            self.heads.pop(h.id, None)
            if h.m.state not in (fsm.State.RELEASING, fsm.State.GONE):
                self._feed(h, fsm.ReleaseRequested(self.clock()))
            self._remove_routes(h)
            await asyncio.gather(*list(h.tasks), return_exceptions=True)
            self.stats["setup_failures"] += 1
            raise msg.AgentRefusal(f"LSP to {req.to} not set up: {why}")
        leg = next(iter(h.legs.values()))
        self.heads.pop(h.id, None)
        h.id = leg.rid
        self.heads[h.id] = h
        h.pwr_setup = h.pwr_now = h.m.primary_pwr
        self.stats["lsps_up"] += 1
        log.info("%s: LSP %s to %s up: %s", self.name, h.id, h.tail, " ".join(leg.route))
        return msg.Reserved(id=h.id, bw=bw, route=leg.route, path=choice, lsp=self._record(h))

    def _find(self, ident: str) -> _Head | None:
        h = self.heads.get(ident)
        if h is not None:
            return h
        for h in self.heads.values():
            if any(i.rid == ident for i in h.legs.values()):
                return h
        return None

    async def release(self, ident: str):
        """Release an LSP (its ID or one of its reservations' IDs): routes,
        reservations and binding SIDs along the path; else a plain
        reservation."""
        from pyfrr_pwr.proto import control as msg

        h = self._find(ident)
        if h is None:
            return await self.signalling.release(ident)
        rids = [i.rid for i in h.legs.values()]
        self._probe_stop(h)
        self._feed(h, fsm.ReleaseRequested(self.clock()))
        self._remove_routes(h)
        self.heads.pop(h.id, None)
        await asyncio.gather(*list(h.tasks), return_exceptions=True)
        self.stats["lsps_released"] += 1
        log.info("%s: LSP %s released (%s)", self.name, h.id, ", ".join(rids))
        return msg.Released(id=h.id)

    def _lost(self, t, rid: str, now: float) -> bool:
        """A leg is lost when its booking here is gone, a hop said it holds
        none, or refreshes kept failing for the hold time (the hops further
        on have dropped it by then); one refresh that timed out is not."""
        e = t.get(rid)
        if e is None:
            return True
        if e.get("state") != "lost":
            self._lost_since.pop(rid, None)
            return False
        if "no reservation here" in str((e.get("lost") or {}).get("reason")):
            return True
        since = self._lost_since.setdefault(rid, now)
        return now - since >= t.hold

    def _watch(self) -> None:
        """Legs whose reservation was lost (see ``_lost``): the LSP is set
        up again (IGP meanwhile)."""
        links = tuple(sorted((n, getattr(l, "ifaddr", None), getattr(l, "up", None)) for n, l in (getattr(self.core, "links", None) or {}).items()))
        if links != self._links_sig:  # an address may have moved: ifname_of asks the kernel again
            self._links_sig = links
            if self.nl is not None:
                self.nl.forget_addresses()
        t = self.signalling.table if self.signalling is not None else None
        if t is None:
            return
        now = self.clock()
        for h in list(self.heads.values()):
            if h.m.state is not fsm.State.UP or h.id.startswith("pending-"):
                continue
            bad = [i.rid for i in h.legs.values() if self._lost(t, i.rid, now)]
            if bad:
                self.stats["legs_lost"] += len(bad)
                log.warning("%s: LSP %s: reservation(s) %s lost: setting it up again", self.name, h.id, ", ".join(bad))
                self._restart(h)

    def _restart(self, h: _Head) -> None:
        self._feed(h, fsm.ReleaseRequested(self.clock()))
        self._remove_routes(h)
        self._num += 1
        h.m = fsm.Lsp(self._num, self.core.router_id, h.tail, h.want_prefixes or ("*",), h.bw, self.config)
        h.legs.clear()
        h.primary_known = asyncio.Event()
        h.by_segs.clear()
        h.up_at = None
        self.heads[h.id] = h
        self._spawn(h, self._recompute(h, "reservation lost"))

    def _reoptimize(self) -> None:
        """Draft sec. 2.2: the best path now, to the machines (hysteresis)."""
        for h in list(self.heads.values()):
            if h.m.state is not fsm.State.UP or h.id.startswith("pending-"):
                continue
            try:
                choice = self._choose(h.tail, h.k, h.constraints, None)
            except Exception as exc:
                self.stats["reopt_no_path"] += 1
                log.debug("%s: LSP %s: %s", self.name, h.id, exc)
                continue
            cur = [l.path for l in h.m.primary]
            cur_pwr = None
            for c in (choice.best, *choice.ecmp, *choice.runners_up):
                p = candidate_path(c, h.tail, self.core.teds)
                if cur and p.edges == cur[0].edges:
                    cur_pwr = p.pwr
                    break
            listed = [c.pwr for c in (choice.best, *choice.ecmp, *choice.runners_up)]
            if cur_pwr is None and cur and listed:
                # our path is not among the candidates any more: they are the k
                # cheapest (KSP), so it costs at least the dearest of them, a
                # lower bound that holds whether or not its head path is still
                # listed. (The first ABR's best over the same head path, used
                # before when the head path was listed, is the minimum over
                # every chain from there: it is the new best itself when only
                # a later area got dearer, so a power rise in area 2 that
                # pushed our chain out of the list never moved the LSP:
                # fig-2-0, ABR2's area-2 ports at 10x, "within_margin".)
                cur_pwr = max(listed)
                self.stats["reopt_lower_bound"] += 1
            if cur_pwr is not None:
                h.pwr_now = cur_pwr
            trace("lsp_reopt", h.id, cur_pwr)
            self._feed(h, fsm.PwrChanged(self.clock(), self._bundle(h, choice), cur_pwr))
