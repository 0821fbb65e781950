"""``AgentCore``'s inter-area work (draft sec. 2.1, 2.1.9, 2.2; a mixin of
``agent.core``, bodies moved from there verbatim): an ABR's vectors
(``agent.vectors``, with the suppressed-vector refresh of ``agent.core``'s
docstring) and leaked site TLVs (``agent.leak``), and the head-end's choice
from a settled view (``publish_view`` / ``compute_choices`` /
``store_choices``, issue 10).
"""

from __future__ import annotations

from pyfrr_pwr.agent.headend import choose
from pyfrr_pwr.agent.vectors import AbrVectors
from pyfrr_pwr.model.constraints import Constraints
from pyfrr_pwr.model.ted import TED
from pyfrr_pwr.proto.control import AgentRefusal, PathChoice

__all__ = ["InterArea"]

MAX_CHOICES = 256  # head-end choices remembered and recomputed per view
VECTOR_REFRESH_S = 2.0  # a suppressed vector change goes out after this long
LEAK_CHECK_S = 5.0  # s between staleness checks of leaked readings


def _leak_max_age(cfg) -> float:
    """A leaked reading's age limit: the site setting's (cats.energy_advert.max_age)."""
    ea = getattr(getattr(cfg, "cats", None), "energy_advert", None) or {}
    return float(ea.get("max_age", 300.0))


class InterArea:
    """ABR vectors and leaks; the head-end's choices."""

    # -- inter-area (draft sec. 2.1, 2.1.9, 2.2) ------------------------------------

    def leak_update(self, now: float, wall: float | None = None) -> list:
        """ABR: bring the leaked Node Energy / Service Instance LSAs in line
        with the TEDs (``agent.leak``). Runs when a site TLV changed; with
        ``wall`` (unix time, the readings' clock: the daemon's tick) also
        every ``LEAK_CHECK_S`` so readings turning stale stop being leaked.
        Never raises (``leak_errors``, in ``Leaker``)."""
        if self.awaiting_sync:
            return []
        if wall is not None:
            self._wall_skew = wall - now
        elif self._wall_skew is not None:
            wall = now + self._wall_skew  # an LSA's arrival: the readings' clock as last told
        if wall is not None and wall - self._leak_checked >= LEAK_CHECK_S:
            self._leak_checked = wall
            self.leak_dirty = self.leak_dirty or bool(self.leak.lsas)
        if not self.leak_dirty:
            return []
        self.leak_dirty = False
        with self.timings("leak"):
            reqs = self.leak.update(self.router_id, {a: self.teds[a] for a in self.abr_areas() if a in self.teds}, self.ready, wall)
        return self._own_requests(reqs, now)  # ospfd will not tell us our deletes (core_intake)

    def abr_areas(self) -> list:
        return sorted(set(self.ism.values()) & self.ready)

    def vector_snapshot(self):
        """What an ABR's vector computation needs, copied so a worker thread
        can compute while the event loop keeps changing the TEDs."""
        return self.abr.snapshot(self.router_id, self.abr_areas(), self.ted)

    compute_vectors = staticmethod(AbrVectors.compute)

    def apply_vectors(self, by_area: dict, now: float = 0.0) -> list:
        """Originate what changed by band (sec. 2.2), withdraw what is gone.
        Nothing before the LSDB sync is complete; never raises."""
        if self.awaiting_sync:
            self.vectors_dirty = True
            return []
        try:
            reqs = self.abr.apply(by_area, self.ready)
        except Exception as exc:
            self.report("vector_apply_errors", exc, "vector origination failed")
            return []
        try:
            self._track_suppressed(by_area, now)
        except Exception as exc:
            self.report("vector_apply_errors", exc, "tracking suppressed vectors failed")
        return self._own_requests(reqs, now)  # ospfd will not tell us our deletes (core_intake)

    @staticmethod
    def _exact(v) -> tuple:
        return tuple((p.endpoint, p.pwr_sum, p.min_avail_bw, p.hop_count) for p in v.paths)

    def _track_suppressed(self, by_area: dict, now: float) -> None:
        """Remember the exact value of each vector we originated, and since
        when a computed value differs from it (its change was suppressed)."""
        seen = set()
        for into, vecs in by_area.items():
            for v in vecs:
                key = (into, v.abr_chain, v.area)
                cur = self.abr.lsas.get(key)
                if cur is None:
                    continue
                seen.add(key)
                exact = self._exact(v)
                sent = self._vec_sent.get(key)
                if sent is None or sent[0] is not cur:  # originated in this round
                    self._vec_sent[key] = (cur, exact)
                    self._vec_stale.pop(key, None)
                elif sent[1] != exact:
                    self._vec_stale.setdefault(key, now)
                else:
                    self._vec_stale.pop(key, None)
        for key in [k for k in self._vec_sent if k not in self.abr.lsas]:
            del self._vec_sent[key]
            self._vec_stale.pop(key, None)

    def _refresh_suppressed(self, now: float) -> None:
        """A vector whose exact value waited ``VECTOR_REFRESH_S`` behind its
        band goes out at the next vector round."""
        for key, since in list(self._vec_stale.items()):
            cur = self.abr.lsas.get(key)
            if cur is None:
                del self._vec_stale[key]
            elif now - since >= VECTOR_REFRESH_S:
                del self._vec_stale[key]
                cur.sig = None  # differs from every signature: re-originated
                self.abr.dirty = True
                self.stats["vectors_refreshed"] += 1

    def path_choice(self, dst: str, k: int | None = None, constraints: Constraints | None = None) -> PathChoice:
        """The head-end's request (sec. 2.2), as a typed record: from the
        settled view once the daemon published one (remembered, and
        recomputed at every new view), else from the live TEDs."""
        k = k or self.cfg.k
        if self.view is None:
            with self.timings("path_choice"):
                return choose(self.router_id, self.teds, dst, k, constraints)
        key = (dst, k, repr(constraints))
        self._choice_args.pop(key, None)
        self._choice_args[key] = (dst, k, constraints)  # the newest last
        while len(self._choice_args) > MAX_CHOICES:
            old = next(iter(self._choice_args))
            del self._choice_args[old]
            self._choices.pop(old, None)
        hit = self._choices.get(key)
        if hit is None or hit[0] != self.view_gen:
            with self.timings("path_choice"):
                hit = (self.view_gen, self._choose(self.router_id, self.view, dst, k, constraints))
            self._choices[key] = hit
        if isinstance(hit[1], Exception):
            raise hit[1]
        return hit[1]

    @staticmethod
    def _choose(router_id, teds, dst, k, constraints):
        try:
            return choose(router_id, teds, dst, k, constraints)
        except AgentRefusal as exc:
            return exc

    def publish_view(self):
        """The TEDs as they are now become the head-end's view; returns the
        job that recomputes the remembered choices (``compute_choices``), or
        None if there are none.

        A view's TEDs are never changed once published (a worker thread and
        the control socket read them), so an area whose live TED did not
        change since the last view keeps that view's very TED, and one that
        changed only off the graph (vectors, site TLVs: ``TED.graph``'s
        topology generation unchanged, what a reroute elsewhere changes in
        a head-end's area) gets a new copy that takes over the last view's
        CSPF graph instead of building it again (issue 10: every view
        rebuilt the networkx and compiled graphs of every area; 0.3 ms of
        a 1 ms choice round in fig-2-0's fabric, more on a larger area)."""
        view = {}
        src = self._view_src
        for a, t in self.teds.items():
            live = t.lsas
            kept = src.get(a)
            if kept is not None and kept[0] is live and kept[1] == live.gen:
                view[a] = kept[3]
                continue
            c = TED(a, self.profile)
            c.lsas = dict(live)
            if kept is not None and kept[0] is live and kept[2] == live.topo:
                for attr in ("_graph_cache", "_graph_one_sided"):
                    g = kept[3].__dict__.get(attr)
                    if g is not None and g[0] is kept[3].lsas and g[1] == kept[3].lsas.topo and g[2] == a:
                        c.__dict__[attr] = (c.lsas, c.lsas.topo, a, g[3])
            src[a] = (live, live.gen, live.topo, c)
            view[a] = c
        for a in [a for a in src if a not in self.teds]:
            del src[a]
        self.view, self.view_gen = view, self.ted_gen
        self.stats["views_published"] += 1
        if not self._choice_args:
            return None
        return (self.view_gen, self.router_id, view, dict(self._choice_args))

    @staticmethod
    def compute_choices(job) -> dict:
        """Runs on a worker thread: reads only the job's view."""
        gen, router_id, view, args = job
        return {key: InterArea._choose(router_id, view, dst, k, c) for key, (dst, k, c) in args.items()}

    def store_choices(self, job, results: dict) -> None:
        """Keep what ``compute_choices`` found, if its view is still ours;
        count the choices whose best path changed (``choices_changed``)."""
        if job[0] != self.view_gen:
            return
        for key, r in results.items():
            old = self._choices.get(key)
            if old is not None and _chain(old[1]) != _chain(r):
                self.stats["choices_changed"] += 1
            if key in self._choice_args:
                self._choices[key] = (job[0], r)

    def inter_area_path(self, dst: str, k: int | None = None, constraints: Constraints | None = None) -> dict:
        """The head-end's request (sec. 2.2): the best path to dst over the
        vectors ABRs leaked into our area(s), with runners-up and ECMP set."""
        return self.path_choice(dst, k, constraints).to_json()


def _chain(r) -> tuple | None:
    """A choice's ABR chain and head path (None for a refusal)."""
    return None if isinstance(r, Exception) else (tuple(r.best.abr_chain), tuple(r.best.head_path))
