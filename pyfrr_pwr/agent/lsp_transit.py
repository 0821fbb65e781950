"""Every router's part of an LSP's set-up (issue 7 sec. 2): signalling's
data plane hook. The tail-end answers its SIDs, a transit hop its reserved
link, an ABR that expanded its segment (draft sec. 2.2) installs a binding
SID (End.B6.Encaps, RFC 8986 sec. 4.13) for it. A mixin of
``agent.lsps.LspManager``."""

from __future__ import annotations

import asyncio
import logging

from pyfrr_pwr.agent.lsp_plan import LspError, parse_rid, predict_binding_segs
from pyfrr_pwr.agent.trace import trace
from pyfrr_pwr.dataplane import sidlist

log = logging.getLogger("pyfrr_pwr.agent.lsps")


class Ahead:
    """A binding SID installed on the forward leg (``pre_install``): the
    SID, and the kernel's answer once ``settle`` has awaited it (``error``
    None: installed)."""

    __slots__ = ("sid", "_fut", "error", "done")

    def __init__(self, sid, fut):
        self.sid, self._fut, self.error, self.done = sid, fut, None, False

    async def settle(self) -> None:
        if self.done:
            return
        try:
            await asyncio.shield(self._fut)  # a cancelled waiter leaves the install to finish (the booking's expiry removes it)
        except Exception as exc:
            self.error = exc
        self.done = True

    @property
    def ok(self) -> bool:
        return self.done and self.error is None


class TransitMixin:
    """``on_reserved`` / ``on_gone``: binding SIDs at ABRs, SIDs at tails."""

    # -- signalling's data plane hook (every router on an LSP) ---------------------------

    def _end_x(self, table, u: str, local: str) -> str:
        try:
            return table.end_x_of(u, local)
        except sidlist.SidListError:
            s = self._own_end_x(u, local)
            if s is None:
                raise LspError(f"{self.core.router_id}: SID list cannot be built: no End.X SID advertised by {u} for link {local}") from None
            return s

    def _own_end_x(self, u: str, local: str) -> str | None:
        plan = getattr(self.srv6, "plan", None)
        if u != self.core.router_id or plan is None:
            return None
        try:
            return plan.end_x(local).sid
        except Exception:
            return None

    def pre_install(self, req, step: dict):
        """Forward leg, an ABR that expanded its segment (issue 7 sec. 5):
        install the binding SID its answer will need (``predict_binding_segs``)
        on the kernel's thread now, while the request travels on; an
        ``Ahead`` for ``on_reserved`` to check against the answer, or None
        (nothing installed: it cannot be told yet, and the answer installs
        it as before). From here the booking's release or expiry removes it
        (``on_gone``: queued after the install on the same thread)."""
        c = self.core
        me = c.router_id
        plan = getattr(self.srv6, "plan", None)
        if not self.settings.enabled or plan is None or getattr(self.srv6, "disabled", None) or not req.plan:
            return None
        link = c.links.get((c.reservations.get(req.id) or {}).get("ifname"))
        if link is None or not link.ifaddr:
            return None
        try:
            head, num = parse_rid(req.id)
        except LspError:
            return None
        area = req.plan[0].area
        ted = c.teds.get(area) if isinstance(getattr(c, "teds", None), dict) else None
        segs = predict_binding_segs(
            me,
            link.ifaddr,
            step.get("hops") or (),
            ted.graph() if ted is not None else None,
            c.sid_table(area),
            head=head,
            num=num,
            end_expands=bool(step.get("plan")),
            tail=req.plan[-1].to,
            own_end_x=self._own_end_x,
        )
        if segs is None or len(segs) > self.settings.max_depth:
            self.stats["bindings_not_ahead"] += 1
            return None
        sid = plan.binding(head, num, segs)
        nl = self._kernel()
        submit = getattr(nl, "submit", None)
        if submit is not None:
            fut = asyncio.wrap_future(submit(self._add_ahead, nl.plain, sid, req.id))
        else:  # a kernel without a thread of its own (tests): at once
            fut = asyncio.get_running_loop().create_future()
            try:
                fut.set_result(self._add_ahead(nl, sid, req.id))
            except Exception as exc:
                fut.set_exception(exc)
        self.bindings[req.id] = sid  # queued (or in): a release or expiry from now removes it after the install

        def failed(f, rid=req.id):  # not installed: nothing for a release to remove
            if (f.cancelled() or f.exception() is not None) and self.bindings.get(rid) is sid:
                del self.bindings[rid]

        fut.add_done_callback(failed)
        return Ahead(sid, fut)

    def _add_ahead(self, nl, sid, rid: str) -> None:
        """On the kernel's thread: the binding SID in, logged once it is."""
        trace("lsp_bsid_add", rid)
        nl.add_sid(sid)
        trace("lsp_bsid_added", rid)
        log.info("%s: binding SID %s for %s: %s (ahead of the answer)", self.name, sid.sid, rid, ",".join(sid.segs))

    def on_reserved(self, req, step: dict, down, expands: bool, pre: Ahead | None = None):
        """Our part of an LSP's set-up, once the rest of the path answered
        (``down``; None: we are the tail). Returns our answer (a Route).
        ``pre``: our binding SID as installed on the forward leg
        (``pre_install``), kept if the answer asks for exactly it."""
        from pyfrr_pwr.proto import control as msg

        c = self.core
        me = c.router_id
        if not self.settings.enabled:
            raise LspError(f"{me}: LSPs are disabled here (agent.lsp.enabled)")
        if down is None:  # the tail-end: its SIDs
            adv = (self.srv6.advertised() if self.srv6 is not None else None) or {}
            served = dict(adv.get("dx4") or {})
            dt6 = adv.get("dt6")
            if not dt6:
                raise LspError(f"{me}: the tail-end runs no SRv6 (no End.DT6 SID installed)")
            want = tuple(req.prefixes) or tuple(sorted(served))
            if not want:
                raise LspError(f"{me}: the tail-end serves no prefix (no End.DX4 SID): name none it does not have")
            bad = [p for p in want if p not in served]
            if bad:
                raise LspError(f"{me}: {', '.join(bad)} is not a prefix this tail-end serves (it serves {', '.join(sorted(served)) or 'none'})")
            return msg.Route(route=(me,), dt6=dt6, dx4=tuple(msg.PrefixSid(prefix=p, sid=served[p]) for p in want))
        e = c.reservations.get(req.id) or {}
        link = c.links.get(e.get("ifname"))
        if link is None or not link.ifaddr:
            raise LspError(f"{me}: the link reserved for {req.id} has no IPv4 address")
        rest = tuple(down.route)
        links = (link.ifaddr, *down.links)
        if not expands:
            return msg.Route(route=(me, *rest), links=links, binding=down.binding, dt6=down.dt6, dx4=down.dx4)
        # an ABR that expanded its segment: a binding SID for it (RFC 8986 sec. 4.13)
        if not down.dt6:
            raise LspError(f"{me}: the tail answered no End.DT6 SID: the binding SID's list cannot end")
        area = req.plan[0].area
        table = c.sid_table(area)
        routers = (me, *rest)
        segs = [self._end_x(table, u, l) for u, l in zip(routers, links)]
        if down.binding:
            segs.append(down.binding)
        segs.append(down.dt6)
        if len(segs) > self.settings.max_depth:
            raise LspError(f"{me}: the binding SID's list for area {area} needs {len(segs)} segments, over agent.lsp.max_depth {self.settings.max_depth}")
        plan = getattr(self.srv6, "plan", None)
        if plan is None or getattr(self.srv6, "disabled", None):
            raise LspError(f"{me}: no SRv6 here ({getattr(self.srv6, 'disabled', None) or 'no SID plan'}): cannot install a binding SID")
        head, num = parse_rid(req.id)
        sid = plan.binding(head, num, segs)
        if pre is not None and pre.ok and pre.sid == sid and self.bindings.get(req.id) is pre.sid:
            self.stats["bindings_installed"] += 1
            self.stats["bindings_ahead"] += 1
            return msg.Route(route=(me, *rest), links=(), binding=sid.sid, dt6=down.dt6, dx4=down.dx4)
        if pre is not None:  # the answer differs (or the early install failed): installed now, replacing it
            self.stats["bindings_ahead_missed"] += 1
        trace("lsp_bsid_add", req.id)
        self._kernel().add_sid(sid)
        trace("lsp_bsid_added", req.id)
        self.bindings[req.id] = sid
        self.stats["bindings_installed"] += 1
        log.info("%s: binding SID %s for %s: %s", self.name, sid.sid, req.id, ",".join(segs))
        return msg.Route(route=(me, *rest), links=(), binding=sid.sid, dt6=down.dt6, dx4=down.dx4)

    def on_gone(self, rid: str) -> None:
        """A booking went (released or expired): its binding SID too."""
        sid = self.bindings.pop(rid, None)
        if sid is None or self.nl is None:
            return
        from pyfrr_pwr.dataplane.netlink import NetlinkError

        try:
            self.nl.remove_sid(sid)
            self.stats["bindings_removed"] += 1
        except NetlinkError as exc:
            self.core.report("binding_remove_errors", exc, f"binding SID of {rid}")
