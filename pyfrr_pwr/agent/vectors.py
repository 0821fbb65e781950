"""An ABR's reachability vectors (draft sec. 2.1, 2.1.9): snapshot,
compute, originate (pure, no I/O).

An ABR (a router with ready interfaces in two or more areas) summarises,
for each area it borders, the power-shortest paths from itself to every TE
endpoint it can reach through its other areas, and leaks that vector into
the area (sec. 2.1.1). The computation runs on a worker thread (sec. 2.3:
extra cores), so ``snapshot`` copies what it needs while the event loop keeps
changing the TEDs; ``compute`` is what the thread runs; ``apply`` turns the
result into requests: a vector is re-originated only when it changed by band
(the second sec. 2.2, suppression of frequent updates), each under new
opaque IDs first and the old ones deleted after (no gap for readers).

Everything here is computed from what other routers advertised, so none of
it may raise out to the agent (issue 11 sec. 1): a vector that cannot be
fragmented or encoded is dropped and counted (``dropped_vector_encode``),
what was advertised for it before stays, and the other vectors go out. A
fragment ospfd flushed behind our back (``flushed``) makes its vector go
out again, whole, under new IDs.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from pyfrr_pwr.files.power import PowerConfig
from pyfrr_pwr.model import metric
from pyfrr_pwr.model.ted import TED
from pyfrr_pwr.proto import ospfapi as api
from pyfrr_pwr.proto import wire

__all__ = ["VecLsa", "AbrVectors", "show"]

log = logging.getLogger("pyfrr_pwr.agent")
_MISSING = object()


@dataclass
class VecLsa:
    generation: int
    opaque_ids: list
    sig: tuple


class AbrVectors:
    """What this ABR originated: (into area, ABR chain, described area) ->
    VecLsa, and the incremental computer that keeps state between runs."""

    def __init__(self, cfg: PowerConfig, opaque_type: int, profile: str, stats: Counter, alloc: Callable):
        self.cfg = cfg
        self.opaque_type = opaque_type
        self.profile = profile
        self.stats = stats
        self.alloc = alloc
        self.lsas: dict = {}
        self.generation = 0
        self.band = metric.Banding.geometric(1e-15, 1e13, cfg.band_ratio, 0.0)
        self.dirty = True  # a TED changed since the last snapshot
        # our own link was withdrawn since the last snapshot: compute without
        # letting a burst settle (agent.core_intake._forget_own)
        self.urgent = False
        self.vcomp = None  # interarea.VectorComputer
        # area -> (source TED's lsas, its change count when copied, our copy):
        # the snapshot TEDs, kept from round to round (see ``snapshot``)
        self._copies: dict = {}
        self._busy = threading.Lock()  # held while a worker computes from the copies

    def used_ids(self) -> set:
        return {i for v in self.lsas.values() for i in v.opaque_ids}

    def wanted(self) -> set:
        """(area, opaque ID) of every fragment we mean to have in the LSDB."""
        return {(key[0], i) for key, v in self.lsas.items() for i in v.opaque_ids}

    def flushed(self, area: str, opaque_id: int) -> bool:
        """ospfd no longer holds fragment ``opaque_id`` in ``area``: its
        vector goes out again (new generation, new IDs) at the next
        ``apply``; the other fragments are deleted after it. True if it was
        one of ours."""
        hit = False
        for key, v in self.lsas.items():
            if key[0] == area and opaque_id in v.opaque_ids:
                v.opaque_ids = [i for i in v.opaque_ids if i != opaque_id]
                v.sig = None  # differs from every signature: re-originated
                hit = True
        if hit:
            self.dirty = True
        return hit

    def reset(self) -> None:
        self.lsas.clear()
        self.dirty = True

    def snapshot(self, router_id: str | None, areas: list, ted_of: Callable[[str], TED]):
        """Copies of the TEDs of ``areas`` (ours, ready) and the vectors they
        hold, or None if we are no ABR (yet).

        The copies are kept from round to round and brought up to date with
        only the LSAs that changed (issue 10): an unchanged area keeps its
        very ``graph()`` object (the computer's "nothing changed" path, no
        rebuild, no diff), and an LSA replaced under its own ID with only
        link figures changed is patched into a copy of the previous graph
        (``TED._patched``, which ``graphcache`` follows to update the
        compiled graph in place); anything else rebuilds that area's graph,
        as every round did before. (Agents re-originate under a new opaque
        ID, make-before-break, which is no same-ID replacement.) A TED
        never changes a graph it has handed out, and the copies are
        changed here only while no computation reads them (``_busy``); when
        one still does (a round abandoned by its task), this round gets
        fresh copies of its own, as every round did before."""
        if router_id is None or len(areas) < 2:
            return None
        from pyfrr_pwr.paths.interarea import BACKBONE, complete_vectors

        mine = self._busy.acquire(blocking=False)
        try:
            if mine:
                teds = {a: self._copy(a, ted_of(a)) for a in areas}
                for a in [a for a in self._copies if a not in teds]:
                    del self._copies[a]
            else:
                teds = {a: self._fresh(a, ted_of(a)) for a in areas}
            # only vectors learnt in the backbone are extended (draft sec. 2): the
            # other areas' (often many) transit vectors need no reassembly here
            learnt = {a: complete_vectors(teds[a]) for a in areas if a == BACKBONE}
        finally:
            if mine:
                self._busy.release()
        self.dirty = self.urgent = False
        if self.vcomp is None or self.vcomp.abr != router_id:
            from pyfrr_pwr.paths.interarea import VectorComputer

            self.vcomp = VectorComputer(router_id, self.cfg.k, self.cfg.ksp_constraints)
        return (self.vcomp, teds, learnt, self._busy)

    def _fresh(self, area: str, src_ted: TED) -> TED:
        t = TED(area, self.profile)
        t.lsas = dict(src_ted.lsas)
        return t

    def _copy(self, area: str, src_ted: TED) -> TED:
        """Our copy of ``src_ted``: the kept one with the LSAs that changed
        since replaced (the same TLV lists as the source, as ``dict(lsas)``
        shares them), or a fresh one when the kept one cannot be made equal,
        key order included (a TED's views take the last of two LSAs naming
        one router, so the order is part of what a copy must equal)."""
        src = src_ted.lsas
        kept = self._copies.get(area)
        if kept is not None:
            seen, gen, t = kept
            if seen is src and gen == src.gen:  # not one change since
                return t
            lsas = t.lsas
            for key in [k for k in lsas if k not in src]:
                del lsas[key]
            for key, tlvs in src.items():
                if dict.get(lsas, key, _MISSING) is not tlvs:
                    lsas[key] = tlvs
            if len(lsas) != len(src) or any(a != b for a, b in zip(lsas, src)):
                kept = None  # an LSA withdrawn and back: in another place
        if kept is None:
            t = self._fresh(area, src_ted)
        self._copies[area] = (src, src.gen, t)
        return t

    @staticmethod
    def compute(snapshot) -> dict:
        """Runs on a worker thread (the C core releases the GIL); the
        VectorComputer and the snapshot's TEDs are touched by one
        computation at a time (``_busy``: ``snapshot`` leaves the copies
        alone meanwhile)."""
        vcomp, teds, learnt, busy = snapshot
        with busy:
            return vcomp.compute(teds, learnt)

    def _delete(self, oid: int, area: str):
        return api.DeleteRequest(api.LSA_OPAQUE_AREA, self.opaque_type, oid, area)

    def apply(self, by_area: dict, ready: set) -> list:
        """Originate what changed by band, withdraw what is gone."""
        from pyfrr_pwr.paths.interarea import fragment, signature

        wanted = {(into, v.abr_chain, v.area): v for into, vecs in by_area.items() if into in ready for v in vecs}
        reqs = []
        for key, v in sorted(wanted.items()):
            try:
                sig = signature(v, self.band)
                cur = self.lsas.get(key)
                if cur is not None and cur.sig == sig:
                    self.stats["vectors_suppressed"] += 1
                    continue
                gen = (self.generation + 1) & 0xFFFFFFFF
                bodies = [wire.encode([f], self.profile) for f in fragment(v, gen)]
            except Exception as exc:  # computed from received data: drop it, keep serving
                self.stats["dropped_vector_encode"] += 1
                n = self.stats["dropped_vector_encode"]
                if n & (n - 1) == 0:  # 1, 2, 4, ...: a repeated fault cannot flood the log
                    log.warning(
                        "vector %s into area %s dropped, cannot encode it: %s: %s (dropped_vector_encode: %d)",
                        "-".join(key[1]),
                        key[0],
                        type(exc).__name__,
                        exc,
                        n,
                    )
                continue
            self.generation = gen
            ids = []
            for body in bodies:
                oid = self.alloc(set(ids))
                ids.append(oid)
                reqs.append(api.OriginateRequest(api.LSA_OPAQUE_AREA, self.opaque_type, oid, body, area=key[0]))
            if cur is not None:
                reqs += [self._delete(oid, key[0]) for oid in cur.opaque_ids]
            self.lsas[key] = VecLsa(self.generation, ids, sig)
            self.stats["vectors_originated"] += 1
        for key in [k for k in self.lsas if k not in wanted]:
            if key[0] in ready:
                reqs += [self._delete(oid, key[0]) for oid in self.lsas[key].opaque_ids]
            del self.lsas[key]
            self.stats["vectors_withdrawn"] += 1
        return reqs


def show(teds: dict) -> dict:
    """The vectors every TED holds (the control socket's ``vectors``)."""
    from pyfrr_pwr.paths.interarea import complete_vectors

    return {
        a: [
            {
                "from": adv,
                "abr_chain": list(v.abr_chain),
                "area": v.area,
                "paths": [{"endpoint": p.endpoint, "pwr": p.pwr_sum, "min_avail_bw": p.min_avail_bw, "hops": p.hop_count} for p in v.paths],
            }
            for adv, v in complete_vectors(t)
        ]
        for a, t in sorted(teds.items())
    }
