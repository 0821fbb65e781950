"""``AgentCore``'s LSA intake and opaque-ID allocation (a mixin of
``agent.core``; the bodies moved from there verbatim, the state they use is
set up by ``AgentCore.__init__``).

What ospfd tells us (``handle``: RFC 2328 interface and neighbour states,
RFC 5250 sec. 3 READY notifications, router LSAs for the age-out rule and
our own opaque type's LSAs) goes into the TEDs; an LSA of ours ospfd
reports is checked against what we want (restart safety, ``agent.core``'s
docstring: leftovers taken over and deleted, flushes re-originated after
``FLUSH_GRACE``), and every new opaque ID comes from ``_alloc`` (24 bits,
never one ospfd holds or held for us).

Our own deletes (issue 10): ospfd 8.4.4 never notifies the client that
asked for a delete (DELETE_REQUEST) of it, while every other router's agent
gets LSA_DELETE_NOTIFY (measured in fig-2-0: ABR2's withdrawn Link TLV
stayed in ABR2's own TED, and each replaced vector or link instance piled
up there). So what we ask to delete leaves our own TED as the others' would
see it go (``_own_requests``): a plain withdrawal at once (an ABR's own
link going down reaches its vectors without waiting for the far end's
delete to flood round), an instance replaced make-before-break once the
update of its replacement is in (RFC 5250 sec. 3 leaves the order to the
originator; every reader gets the new instance first, so do we), and any
other own LSA we no longer want after ``FLUSH_GRACE`` (``_sweep_own``).
A late update of an instance of ours we already replaced or withdrew this
session is not put back into the TED.
"""

from __future__ import annotations

import logging

from pyfrr_pwr.model.ted import TED, serial_newer
from pyfrr_pwr.proto import ospfapi as api
from pyfrr_pwr.proto import wire

__all__ = ["LsaIntake"]

log = logging.getLogger("pyfrr_pwr.agent")

MAX_AGE = 3600  # RFC 2328 sec. B, MaxAge
LSA_ROUTER = 1
ID_SPACE = 1 << 24  # opaque IDs are 24 bits (RFC 5250 sec. 3)
ID_BLOCK = 4096  # IDs reserved per write of the state file (on_id_block)

FLUSH_GRACE = 0.5  # s: a delete of our LSA not replaced by then is a flush

_LEAK_TLVS = (wire.NodeEnergy, wire.ServiceInstance, wire.AreaBorder)  # what agent.leak's plan reads
BACKBONE = "0.0.0.0"  # area 0 (RFC 2328 sec. 3.1): the only area whose vectors an ABR extends


def _age(h) -> int:
    return h.age & 0x7FFF  # without DoNotAge (RFC 1793)


class LsaIntake:
    """What arrives from ospfd, and the IDs of what we originate."""

    def _wanted(self) -> set:
        return self.adv.wanted() | self.abr.wanted() | self.leak.wanted()

    def _alloc(self, taken: set = frozenset()) -> int:
        """A free 24-bit opaque ID (RFC 5250 sec. 3) for any LSA of ours:
        the next one, never one we hold, nor one ospfd holds or held for us
        (``own_ids``)."""
        used = self.adv.used_ids() | self.abr.used_ids() | self.leak.used_ids() | taken
        for _ in range(ID_SPACE):
            oid = self.next_id
            self.next_id = self.next_id + 1 if self.next_id < ID_SPACE - 1 else 1
            self._id_steps -= 1
            if oid not in used and oid not in self.own_ids:
                break
        else:
            raise RuntimeError("no free opaque ID")
        if self._id_steps <= 0 and self.on_id_block is not None:
            # persisted before the ID is used: a later process starts past it
            mark = (oid + ID_BLOCK) % ID_SPACE or 1
            try:
                self.on_id_block(mark)
            except Exception as exc:  # the LSDB sync still protects us
                self.report("id_state_errors", exc, "cannot persist the opaque ID mark")
            self._id_steps = ID_BLOCK
        self.session_ids.add(oid)
        return oid

    def continue_ids_past(self, oid: int) -> None:
        """Allocate after ``oid`` from now on if it is ahead of ``next_id``
        (24-bit serial order: at most half the space ahead)."""
        if 0 <= (oid - self.next_id) % ID_SPACE < ID_SPACE // 2:
            self.next_id = oid + 1 if oid < ID_SPACE - 1 else 1
            self._id_steps = 0  # a new block: persist the new mark

    # -- inputs ----------------------------------------------------------------

    def _ours(self, lsa_type: int, opaque_type: int) -> bool:
        return lsa_type == api.LSA_OPAQUE_AREA and opaque_type == self.opaque_type

    def handle(self, m, now: float) -> list:
        """One message from ospfd -> requests to send. Never raises: a fault
        is counted (``handle_errors``) and the message dropped."""
        try:
            return self._own_requests(self._handle(m, now), now)
        except Exception as exc:
            self.report("handle_errors", exc, f"dropped {type(m).__name__}")
            return []

    # -- our own deletes (module docstring) ------------------------------------

    def _own_requests(self, reqs: list, now: float) -> list:
        """Apply to our own TED the deletes in ``reqs`` (what ospfd will not
        tell us): a delete with no origination before it in that area in
        the same batch is a withdrawal and goes at once; one after an
        origination (make-before-break, ``agent.advertise``,
        ``agent.vectors``: new IDs first, the old deleted after) waits for
        the updates of those originations (``_own_update``). Returns
        ``reqs``, with what a leak update asks for appended."""
        rid = self.router_id
        if not reqs or rid is None:
            return reqs
        born: dict = {}
        pend = self._own_dels
        leak = False
        for r in reqs:
            if getattr(r, "lsa_type", None) != api.LSA_OPAQUE_AREA or r.opaque_type != self.opaque_type:
                continue
            if isinstance(r, api.OriginateRequest):
                born.setdefault(r.area, set()).add(r.opaque_id)
            elif isinstance(r, api.DeleteRequest):
                waits = born.get(r.addr, set()) - {r.opaque_id}
                if waits:
                    pend[(r.addr, r.opaque_id)] = (now, waits)
                else:
                    pend.pop((r.addr, r.opaque_id), None)
                    leak = self._forget_own(r.addr, r.opaque_id, withdrawal=True) or leak
        if leak:
            reqs = reqs + self._own_requests(self.leak_update(now), now)
        return reqs

    def _own_update(self, area: str, oid: int, now: float) -> list:
        """The update of our LSA ``oid`` is in: the deletes that waited for
        it (and for nothing else) apply now."""
        pend = self._own_dels
        if not pend:
            return []
        leak = False
        for key, (_since, waits) in list(pend.items()):
            if key[0] == area and oid in waits:
                waits.discard(oid)
                if not waits:
                    del pend[key]
                    leak = self._forget_own(*key) or leak
        return self._own_requests(self.leak_update(now), now) if leak else []

    def _forget_own(self, area: str, oid: int, withdrawal: bool = False) -> bool:
        """Our LSA ``oid`` leaves our TED of ``area`` as a delete
        notification would take it out (``_lsa``); True if it held a TLV
        the leak plan reads. A ``withdrawal`` (no replacement) of a Link
        TLV of ours that the vectors are computed from makes the next
        vector round urgent (``AbrVectors.urgent``: our own link went down,
        its far end's delete changes no graph after it, see
        ``_vector_input``, so there is no burst to let settle)."""
        rid, ted = self.router_id, self.teds.get(area)
        if rid is None or ted is None:
            return False
        lsid = wire.make_lsid(self.opaque_type, oid)
        was = ted.lsas.get((rid, lsid))
        if was is None:
            return False
        mine = self._lsids.get((area, rid), set())
        changed = not _superseded(ted, rid, lsid, was, mine)
        ted.withdraw(rid, lsid)
        mine.discard(lsid)
        self.stats["own_deletes_applied"] += 1
        if changed:
            vi = self._vector_input(area, rid, was, lsid)
            self._ted_changed(vi)
            if vi and withdrawal and any(isinstance(t, wire.LinkTLV) for t in was):
                self.abr.urgent = True
        return any(type(t) in _LEAK_TLVS for t in was)

    def _sweep_own(self, now: float) -> None:
        """Own LSAs still in our TED that we no longer want: a delete whose
        replacement's update never came (refused, or the session went), or
        one asked for outside ``_own_requests``' reach, leaves after
        ``FLUSH_GRACE`` s (a leak plan input among them: the next
        ``leak_update`` runs it)."""
        rid = self.router_id
        if rid is None:
            return
        pend = self._own_dels
        wanted = None
        leak = False
        for (area, adv), lsids in list(self._lsids.items()):
            if adv != rid or not lsids:
                continue
            if wanted is None:
                wanted = self._wanted()
            for lsid in list(lsids):
                oid = wire.split_lsid(lsid)[1]  # from ospfd's headers: always a dotted quad
                if (area, oid) in wanted:
                    continue
                since = pend.setdefault((area, oid), (now, set()))[0]
                if now - since >= FLUSH_GRACE:
                    del pend[(area, oid)]
                    leak = self._forget_own(area, oid) or leak
        for key in [k for k, (since, _) in pend.items() if now - since >= 4 * FLUSH_GRACE]:
            del pend[key]  # nothing of it in the TED any more
        if leak:
            self.leak_dirty = True

    def _handle(self, m, now: float) -> list:
        if isinstance(m, api.RouterIdChange):
            self.router_id = m.router_id if m.router_id != "0.0.0.0" else None
        elif isinstance(m, api.ReadyNotify):
            if self._ours(m.lsa_type, m.opaque_type):
                self.ready.add(m.addr)
        elif isinstance(m, (api.NewIf, api.IsmChange)):
            if isinstance(m, api.IsmChange) and m.status <= api.IsmState.DOWN:
                self.ism.pop(m.ifaddr, None)
            else:
                self.ism[m.ifaddr] = m.area
        elif isinstance(m, api.DelIf):
            self.ism.pop(m.ifaddr, None)
        elif isinstance(m, api.NsmChange):
            # ospfd also reports its per-interface "self" neighbour
            # (nbr_self, our own router ID): keyed by neighbour address too
            key = (m.ifaddr, m.nbraddr)
            if m.status <= api.NsmState.DOWN:
                self.nbrs.pop(key, None)
            else:
                self.nbrs[key] = (m.router_id, m.status)
        elif isinstance(m, (api.LsaUpdate, api.LsaDelete)):
            return self._lsa(m, now)
        return self.evaluate(now)

    def _lsa(self, m, now: float) -> list:
        h = m.header
        live = isinstance(m, api.LsaUpdate) and _age(h) < MAX_AGE  # a sync reports MaxAge copies too
        if h.type == LSA_ROUTER:
            rs = self.router_lsas.setdefault(m.area, set())
            if live:
                rs.add(h.adv_router)
                self.orphan_since.pop((m.area, h.adv_router), None)
                if (m.area, h.adv_router) in self._aged_out:
                    # its LSAs are still in ospfd's LSDB, not in our TED
                    self._aged_out.discard((m.area, h.adv_router))
                    self._asked_resync = f"router {h.adv_router} has a router LSA in area {m.area} again, after its LSAs aged out"
                if self._resync_routers is not None:
                    self._resync_routers.add((m.area, h.adv_router))
            else:
                rs.discard(h.adv_router)
            return []
        if not self._ours(h.type, h.opaque_type):
            return []
        reqs: list = []
        own = h.adv_router == self.router_id or (self.router_id is None and m.self_originated)
        # an instance we replaced or withdrew in this session, its update
        # late: our own delete was applied already (module docstring)
        late = own and live and h.adv_router == self.router_id and h.opaque_id in self.session_ids and (m.area, h.opaque_id) not in self._wanted()
        if own:
            reqs = self._own_lsa(m, live, now)
        ted = self.ted(m.area)
        key = (h.adv_router, h.lsid)
        was = ted.lsas.get(key, ())
        changed = True
        if late:
            self.stats["own_late_updates"] += 1
            return reqs
        if own and not live and h.adv_router == self.router_id and key not in ted.lsas:
            return reqs  # applied when we asked for it (_own_requests)
        if live:
            if self.resync_seen is not None:
                self.resync_seen.add((m.area, h.adv_router, h.lsid))
                if (h.adv_router, h.lsid) not in ted.lsas:
                    self._resync_changes += 1
            try:
                ok = ted.apply(h.adv_router, h.lsid, m.body)
            except Exception as exc:  # DecodeError is handled in apply; anything else is a fault
                self.report("ted_apply_errors", exc, f"area {m.area}: LSA {h.lsid} from {h.adv_router} dropped")
                return reqs
            if ok:
                self._touch(ted, h.adv_router, h.lsid, now)
                self._lsids.setdefault((m.area, h.adv_router), set()).add(h.lsid)
                if own:
                    reqs += self._own_update(m.area, h.opaque_id, now)
            else:
                self.stats["malformed_lsas"] += 1
                changed = False  # the TED kept what it had
        else:
            # the delete of an instance a make-before-break replacement
            # superseded changes nothing a reader computes (issue 10: it
            # cost every ABR a second vector round and every head-end a
            # second view per update)
            mine = self._lsids.get((m.area, h.adv_router), set())
            changed = key in ted.lsas and not _superseded(ted, h.adv_router, h.lsid, was, mine)
            if not changed:
                self.stats["superseded_deletes"] += 1
            ted.withdraw(h.adv_router, h.lsid)
            mine.discard(h.lsid)
        if changed:
            self._ted_changed(self._vector_input(m.area, h.adv_router, (*was, *ted.lsas.get(key, ())), h.lsid))
        if any(type(t) in _LEAK_TLVS for t in (*was, *ted.lsas.get((h.adv_router, h.lsid), ()))):
            self.leak_dirty = True
            reqs += self.leak_update(now)
        return reqs

    def _ted_changed(self, vector_input: bool = True) -> None:
        """A TED changed (``ted_gen``: the head-end's view follows it); with
        ``vector_input``, in something this router's vectors are computed
        from (``vec_gen``: the ABR vector loop follows it)."""
        self.ted_gen += 1
        self.stats["ted_changes"] += 1
        if vector_input:
            self.abr.dirty = True
            self.vec_gen += 1

    def _vector_input(self, area: str, adv: str, tlvs, lsid: str | None = None) -> bool:
        """Do these TLVs (an LSA's, before and after a change) enter this
        router's vector computation? Every TLV but a reachability vector
        does (links, endpoints, area borders); a vector only when another
        router leaked it into the backbone: an ABR extends only those
        (draft sec. 2; ``paths.interarea.VectorComputer``, which skips its
        own, those whose chain holds us, and never leaks a vector back into
        the area it describes): a backbone vector about area X matters only
        to an ABR attached to an area besides the backbone and X. So an
        area-1 ABR's settle is not held up by its peers' vectors flooding
        into area 1 (issue 10: 55 ms a round in fig-2-0), nor does an area-2
        ABR compute again for its peers' vectors about area 2.

        Nor does the change of LSA ``lsid`` (the TED as it is after it)
        when it held only Link TLVs whose far ends are absent: one-sided
        links stay out of the CSPF graph (``TED.graph``, OSPF's two-way
        check, RFC 2328 sec. 16.1 (2b)), so the far end of a link whose
        near end went down, or the first end of a link coming up, changes
        no graph (``_one_sided_only``; issue 10: in fig-2-0 R4's delete
        after ABR2's held the area-2 ABRs' settle or ran a second round)."""
        if lsid is not None and self._one_sided_only(area, adv, lsid, tlvs):
            self.stats["one_sided_link_changes"] += 1
            return False
        mine = set(self.ism.values())
        for t in tlvs:
            if not isinstance(t, wire.ReachabilityVector):
                return True
            if area == BACKBONE and adv != self.router_id and self.router_id not in t.abr_chain and (not mine or mine - {BACKBONE, t.area}):
                return True
        return False

    def _one_sided_only(self, area: str, adv: str, lsid: str, tlvs) -> bool:
        """Does the change of ``adv``'s LSA ``lsid`` (holding ``tlvs``,
        before and after) leave ``TED.graph()`` of ``area`` as it was? Yes
        when every TLV is a numbered Link TLV (the graph pairs ends by
        their addresses) whose far end the TED holds no Link TLV for
        (not even an unnumbered one towards ``adv``, which could pair by
        router IDs), and ``adv`` keeps another LSA in the TED (a router
        with an LSA is a graph node: the node set is unchanged too).
        Anything else: False, the change is taken for an input."""
        ted = self.teds.get(area)
        if ted is None or not tlvs:
            return False
        lsas = ted.lsas
        if not all(isinstance(t, wire.LinkTLV) and t.local_addrs and t.remote_addrs for t in tlvs):
            return False
        if not any(l != lsid and (adv, l) in lsas for l in self._lsids.get((area, adv), ())):
            return False
        for t in tlvs:
            far = t.link_id
            for l in self._lsids.get((area, far), ()):
                for o in lsas.get((far, l), ()):
                    if isinstance(o, wire.LinkTLV) and o.link_id == adv:
                        if not (o.local_addrs and o.remote_addrs):
                            return False
                        if o.local_addrs[0] == t.remote_addrs[0] and o.remote_addrs[0] == t.local_addrs[0]:
                            return False
        return True

    def _own_lsa(self, m, live: bool, now: float) -> list:
        """An LSA of ours in ospfd's LSDB (restart safety, module docstring)."""
        h, area = m.header, m.area
        oid = h.opaque_id
        new = oid not in self.own_ids
        self.own_ids[oid] = now
        if new and self.awaiting_sync:
            self.stats["own_lsas_learnt"] += 1
        self.continue_ids_past(oid)
        key = (area, oid)
        if live:
            self.flush_pending.pop(key, None)  # a replacement: delete, then this update
            if key in self._wanted():
                return []
            if key in self._given_up:
                # we took it for flushed, but ospfd still holds it (a late
                # replacement): ours in this session, so a plain delete
                self._given_up.discard(key)
                self.stats["late_replacement_deleted"] += 1
                return [api.DeleteRequest(api.LSA_OPAQUE_AREA, self.opaque_type, oid, area)]
            if oid in self.session_ids:
                return []  # one we replaced or withdrew; its update came late
            # live, ours, and not from this session: a leftover of an earlier
            # agent or ospfd. ospfd deletes only LSAs its client originated,
            # so take it over (same LS ID: ospfd replaces it, past its
            # sequence number) and delete it
            self.session_ids.add(oid)
            self.stats["stale_own_flushed"] += 1
            log.info("area %s: flushing %s, a leftover LSA of ours", area, h.lsid)
            return [
                api.OriginateRequest(api.LSA_OPAQUE_AREA, self.opaque_type, oid, b"", area=area),
                api.DeleteRequest(api.LSA_OPAQUE_AREA, self.opaque_type, oid, area),
            ]
        if key not in self._wanted():
            return []  # one we deleted (make-before-break, withdrawal), or MaxAge from before
        if isinstance(m, api.LsaUpdate) or _age(h) >= MAX_AGE:
            self._flushed(area, oid, "flushed (MaxAge)")
            return self.evaluate(now)
        # ospfd reports a replaced instance as a delete and then an update:
        # the delete is a flush only if no update follows (tick)
        self.flush_pending.setdefault(key, now)
        return []

    def _flushed(self, area: str, oid: int, why: str) -> int:
        """ospfd no longer holds our LSA (area, oid) that we still want: it
        goes out again under a new ID at the next evaluation."""
        self.flush_pending.pop((area, oid), None)
        hit = self.adv.flushed(area, oid) | self.abr.flushed(area, oid)
        if self.leak.flushed(area, oid):
            hit = self.leak_dirty = True
        if hit:
            self._given_up.add((area, oid))
            self.stats["reoriginated_flushed"] += 1
            log.warning("area %s: our LSA %s was %s; originating it again under a new opaque ID", area, wire.make_lsid(self.opaque_type, oid), why)
        return int(hit)

    def _touch(self, ted: TED, adv: str, lsid: str, now: float) -> None:
        for t in ted.lsas.get((adv, lsid), []):
            if isinstance(t, wire.LinkTLV):
                self.ted_changed_at[(adv, t.link_id, t.local_addrs[0] if t.local_addrs else lsid)] = now

    def set_interfaces(self, ifaddrs: dict, now: float) -> list:
        self.ifaddrs = dict(ifaddrs)
        return self._own_requests(self.evaluate(now), now)

    def set_measurements(self, used_bps: dict, measured_w: dict, now: float) -> list:
        self.used_bps = dict(used_bps)
        self.measured_w = dict(measured_w)
        return self._own_requests(self.evaluate(now), now)

    def _due_flushes(self, now: float) -> None:
        for (area, oid), t in list(self.flush_pending.items()):
            if now - t >= FLUSH_GRACE:
                self._flushed(area, oid, "deleted by ospfd and not replaced")
        if now - self._own_swept >= FLUSH_GRACE / 2:
            self._own_swept = now
            self._sweep_own(now)

    def refused(self, req, err: int) -> None:
        """ospfd refused a request: an area that is not ready any more."""
        if isinstance(req, api.OriginateRequest) and err == api.ApiErr.NOTREADY:
            self.ready.discard(req.area)
            self.adv.refused(req.opaque_id)


def _superseded(ted: TED, adv: str, lsid: str, tlvs, lsids=None) -> bool:
    """Would withdrawing ``adv``'s LSA ``lsid`` (holding ``tlvs``) leave
    what readers of ``ted`` compute unchanged? Yes when every TLV in it is
    a Link TLV or a vector fragment that ``adv`` advertises in a strictly
    newer generation in another LSA (make-before-break, ``agent.advertise``
    and ``agent.vectors``: the new ID first, the old one deleted after;
    ``TED.ends`` keeps the newest Link TLV of a link end,
    ``interarea.complete_vectors`` the newest complete generation). Any
    other TLV, or a Link TLV without a local address (its identity is its
    LS ID), makes it a change. ``lsids``: the LS IDs ``adv`` holds in
    the TED as far as the caller knows (each is looked up, so stale ones do
    no harm, and a missing one only makes the delete count as a change),
    so a delete costs what ``adv`` advertises, not the whole TED."""
    if not tlvs:
        return False
    if lsids is None:
        lsids = {l for a, l in ted.lsas if a == adv}
    others = [t for l in lsids if l != lsid for t in ted.lsas.get((adv, l), ())]
    for t in tlvs:
        g = t.generation if isinstance(t, wire.LinkTLV) else None
        if isinstance(t, wire.LinkTLV) and t.local_addrs:
            ident = (t.link_id, t.local_addrs[0])
            if not any(
                isinstance(o, wire.LinkTLV) and o.local_addrs and (o.link_id, o.local_addrs[0]) == ident and serial_newer(o.generation or 0, g or 0)
                for o in others
            ):
                return False
        elif isinstance(t, wire.ReachabilityVector) and t.fragment is not None:
            gens: dict = {}
            for o in others:
                if isinstance(o, wire.ReachabilityVector) and o.fragment is not None and (o.abr_chain, o.area) == (t.abr_chain, t.area):
                    if serial_newer(o.fragment.generation, t.fragment.generation):
                        gens.setdefault((o.fragment.generation, o.fragment.count), set()).add(o.fragment.index)
            if not any(idx == set(range(count)) for (_, count), idx in gens.items()):
                return False
        else:
            return False
    return True
