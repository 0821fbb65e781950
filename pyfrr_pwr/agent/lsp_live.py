"""Liveness of protected LSPs (issue 7 sec. 4, docs/protection.md): what a
probe covers, the prober per LSP and its verdicts to the LSP machine, the
reflector every agent runs. A mixin of ``agent.lsps.LspManager``."""

from __future__ import annotations

import asyncio
import ipaddress
import logging

from pyfrr_pwr.agent.lsp_head import _Head, _LegInfo
from pyfrr_pwr.dataplane import lsp as fsm
from pyfrr_pwr.dataplane import sidlist

log = logging.getLogger("pyfrr_pwr.agent.lsps")


class LivenessMixin:
    """The prober/reflector side of ``LspManager``."""

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
        if h.probed is not None and self.live is not None:
            self.live.remove(h.probed[0])
        h.probed = None

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
        if key == h.probed:
            return
        if h.probed is None or h.probed[0] != m.lsp_id:
            self._probe_stop(h)
            c = self.settings.liveness
            pr = lv.Prober(m.lsp_id, lv.ProberConfig(c.interval, c.multiplier, c.up_after, c.grace))
            self.live.add(pr, lambda a, h=h, n=m.lsp_id: self._on_liveness(h, n, a))
        self.live.handle(m.lsp_id, lv.SetPaths(self.clock(), pp, bp))
        h.probed = key

    def _on_liveness(self, h: _Head, lsp_id: int, a) -> None:
        """A prober's verdict (SwitchToBackup, SwitchBack, BackupDown,
        BackupUp) as LivenessLost/Restored to the LSP's machine, at once:
        the Switch is one netlink request (no dump)."""
        if h.m.lsp_id != lsp_id or self.heads.get(h.id) is not h:
            return
        self.stats[f"liveness_{type(a).__name__}"] += 1
        log.info("%s: LSP %s: liveness %s%s", self.name, h.id, type(a).__name__, f" leg {a.leg}" if hasattr(a, "leg") else "")
        ev = a.event()
        if ev is not None:  # a leg's verdict before lspmsg knows legs: nothing to feed
            self._feed(h, ev)

    def _liveness_of(self, h: _Head):
        if self.live is None or h.probed is None:
            return None
        e = self.live.probers.get(h.probed[0])
        return e[0].snapshot() if e else None

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
            live = LivenessService(sock=sock, port=c.port, key=c.key, allowed=c.allowed, rate=c.rate, clock=self.clock)
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

        def make():
            sk = _so.socket(_so.AF_INET6, _so.SOCK_DGRAM)
            sk.setsockopt(_so.SOL_SOCKET, _so.SO_REUSEADDR, 1)
            sk.bind(("::", port))
            return sk

        if netns is None:
            return make()
        from pyroute2 import netns as _netns

        box: dict = {}

        def run():
            try:
                _netns.setns(netns, flags=0)
                box["v"] = make()
            except BaseException as exc:  # handed to the caller
                box["e"] = exc

        import threading

        t = threading.Thread(target=run, daemon=True)
        t.start()
        t.join()
        if "e" in box:
            raise box["e"]
        return box["v"]
