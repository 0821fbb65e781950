"""Inter-area power-shortest paths without a PCE (draft sec. 2, 2.1.9, 2.2).

Pure functions over TE databases (``ted.TED``):

* ``abr_vectors``: what an ABR advertises. For every attached area A and
  every other attached area B it originates into B a vector ``{ABR, [<e,
  Path info>...]}`` with its k power-shortest paths to each TE endpoint e of
  A. Vectors other ABRs originated into A are extended through A into B as
  ``{ABR, ABR2, ...}`` (sec. 2.1.9: "the reachability vector advertised by
  ABR1 also contains the reachability vector of ABR2"), combining each of
  the ABR's k paths to ABR2 with ABR2's entries.
* ``fragment`` / ``complete_vectors``: a vector longer than one LSA body is
  split over several LSAs of one generation; readers use a generation only
  once it is complete and keep the previous one until then (no gap).
* ``VectorComputer``: the same computation, incremental between changes.
* ``select``: the head-end's choice (sec. 2.2): its own k paths to each ABR
  of its area combined with those ABRs' vectors, under the request's
  constraints; the best, the runners-up, and the equal-PWR ECMP set (sec.
  2.1.5).

Two concepts live in their own modules and are re-exported here, so
callers import everything from this one:

* ``paths.transit``: Path info aggregates (sec. 2.1.9, ``Aggregate``) and
  the combination of our paths to an ABR with its vector's entries, in
  flat arrays by the C core (csrc/pwr_transit.c) with the scalar heap walk
  as reference (issue 10), plus the fast construction of wire objects
  (``FAST_WIRE_OBJECTS``; set it on ``paths.transit``).
* ``paths.graphcache``: what is derived once per area graph object (arc
  figures, the compiled graph shared by every computer and updated in place
  when only link figures changed); ``invalidate(G)`` after changing a graph
  object in place.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyfrr_pwr.model import metric
from pyfrr_pwr.model.constraints import Constraints
from pyfrr_pwr.paths.gcpause import pause as gc_pause
from pyfrr_pwr.paths.graphcache import _KSP_JITTER, _cg_current, _compiled, _info
from pyfrr_pwr.paths.graphcache import invalidate as invalidate
from pyfrr_pwr.paths.ksp import CompiledGraph
from pyfrr_pwr.paths.transit import EMPTY, Aggregate, _aggregates, _aggregates_many, _combine_many, _infos_of, _merge_local, _wire_rows
from pyfrr_pwr.paths.transit import FAST_WIRE_OBJECTS as FAST_WIRE_OBJECTS  # read only here: set it on paths.transit
from pyfrr_pwr.paths.transit import JITTER_MAX as JITTER_MAX
from pyfrr_pwr.paths.transit import _combine as _combine
from pyfrr_pwr.paths.transit import _combine_scalar as _combine_scalar
from pyfrr_pwr.paths.transit import _path_infos as _path_infos
from pyfrr_pwr.paths.transit import aggregate as aggregate
from pyfrr_pwr.proto import wire

__all__ = [
    "Aggregate",
    "abr_vectors",
    "VectorComputer",
    "converge",
    "fragment",
    "complete_vectors",
    "Choice",
    "Selection",
    "Unmet",
    "select",
    "aggregate",
    "invalidate",
]

ECMP_EPS = 1e-9  # relative: PWR sums this close are equal (sec. 2.1.5)


# ------------------------------------------------------------ ABR vectors


def _ksp_table(cg: CompiledGraph, G, src: str, targets: list, k: int, constraints: Constraints) -> dict:
    """k aggregates src -> each target (one C batch call). The KSP core
    prunes by bandwidth, groups, hops, delay and (where it knows delay
    variation) jitter; a core that does not know jitter has the bound
    applied to its results (then fewer than k may remain)."""
    targets = [t for t in targets if t in cg.index]
    if src not in cg.index or not targets:
        return {}
    res = cg.one_to_many(src, targets, k, constraints)
    aggs = iter(_aggregates_many(_info(G), [p for ps in res.values() for p in ps]))
    mj = getattr(constraints, "max_jitter", None)
    out = {}
    for t, ps in res.items():
        rows = [(next(aggs), p) for p in ps]
        if mj is not None:
            rows = [r for r in rows if r[0].jitter <= mj]
        if rows:
            out[t] = rows
    return out


BACKBONE = "0.0.0.0"


def abr_vectors(abr: str, teds: dict, k: int = 8, constraints: Constraints | None = None, learnt: dict | None = None) -> dict:
    """Vectors ``abr`` originates, as {area to originate into: [vectors]}.

    ``teds`` maps each attached area ID to its TED. ``learnt`` maps an area
    to the complete vectors other ABRs originated there, ``[(adv, vector)]``
    (default: the unfragmented ones in the TED). For every attached area A
    and every other attached area B, a local vector ``{ABR, [...]}`` with
    the k paths to each endpoint of A goes into B. Transit follows the
    draft's two-level hierarchy (sec. 2): vectors learnt in the backbone are
    extended into the non-backbone areas as ``{ABR, ABR2, [...]}``, never
    the other way, so chains cannot grow in circles. A one-off computation;
    ``VectorComputer`` keeps state between changes.
    """
    return VectorComputer(abr, k, constraints).compute(teds, learnt)


def converge(teds_by_router: dict, k: int = 8, constraints: Constraints | None = None, rounds: int = 4) -> dict:
    """Offline: run every ABR's computation until the vectors stop changing.
    ``teds_by_router`` maps each ABR's router ID to {area: TED} (shared TED
    objects per area are fine: vectors are installed into them). The only
    input one ABR takes from another is what it put into the backbone, so a
    two-level hierarchy is done after two rounds: local vectors, then
    transit. Each ABR keeps one ``VectorComputer`` over the rounds (its
    answer equals a fresh one's). Returns {abr: {area: [vectors]}}."""
    out: dict = {}
    comps = {abr: VectorComputer(abr, k, constraints) for abr in teds_by_router}
    for _ in range(rounds):
        new = {abr: comps[abr].compute(teds) for abr, teds in sorted(teds_by_router.items())}
        done = out and all(new[a].get(BACKBONE) == out[a].get(BACKBONE) for a in new)
        out = new
        for abr, per_area in out.items():
            for area, vecs in per_area.items():
                ted = teds_by_router[abr][area]
                for key in [kk for kk in ted.lsas if kk[0] == abr and kk[1].startswith("vector/")]:
                    del ted.lsas[key]
                for i, v in enumerate(vecs):
                    ted.apply_tlvs(abr, f"vector/{i}", [v])
        if done:
            break
    return out


def _edge_state(G) -> dict:
    return _info(G).edges


def _diff(old: dict, new: dict, keys=None) -> tuple[set, bool]:
    """Edges that got worse or vanished, and whether any got better or
    appeared (then any path may now be beaten by a new one). ``keys``: the
    only edges that can differ (same edge set otherwise), when known."""
    worse, better = set(), False
    if keys is not None:
        old = {e: old[e] for e in keys if e in old}
        if any(e not in old for e in keys):
            better = True
    for e, st in old.items():
        n = new.get(e)
        if n is None:
            worse.add(e)
        elif n != st:
            if n[0] > st[0] or (n[1] or 0) < (st[1] or 0) or n[2] != st[2] or (n[3] or 0) > (st[3] or 0) or n[4] != st[4] or (n[5] or 0) > (st[5] or 0):
                worse.add(e)
            if n[0] < st[0] or (n[1] or 0) > (st[1] or 0) or (n[3] or 0) < (st[3] or 0) or (n[5] or 0) < (st[5] or 0):
                better = True
    if keys is None and any(e not in old for e in new):
        better = True
    return worse, better


class VectorComputer:
    """One ABR's vectors, recomputed incrementally (draft sec. 2.2).

    Per area it keeps the last graph's edges and the k paths to each
    endpoint. After a change only the endpoints whose paths used a link that
    got worse (or vanished) are searched again; a link that got better (or
    appeared) can shorten any path, so then the whole area is. The same
    graph object as last time means nothing changed. Transit entries are
    recombined only for learnt vectors that changed, or whose backbone
    paths did. ``stats`` counts the KSP targets searched, compilations and
    in-place updates of the compiled graphs.
    """

    def __init__(self, abr: str, k: int = 8, constraints: Constraints | None = None):
        self.abr, self.k, self.constraints = abr, k, constraints or Constraints()
        # area -> {"G", "edges", "nodes", "info", "cg": (CompiledGraph, generation) | None, "table": {ep: [(agg, path)]}}
        self.areas: dict = {}
        self.transit: dict = {}  # (adv, chain, area) -> (learnt vector, via aggregates, our vector)
        self.local: dict = {}  # area -> (signature, [(endpoint, its table rows)], our local vector)
        self.local_rows: dict = {}  # area -> {endpoint: (its table rows, their PathInfos, their PWR sums)}
        self.stats = {"targets_searched": 0, "full_area_searches": 0, "compiles": 0, "in_place_updates": 0}

    def _table(self, area: str, G, targets: list) -> dict:
        st = self.areas.get(area)
        gi = _info(G)
        edges, nodes = gi.edges, gi.nodes
        tset = set(targets)
        since, same = None, False
        if st is not None and st["G"] is G:  # the same graph: nothing changed
            keep = {t: ps for t, ps in st["table"].items() if t in tset}
            todo = [t for t in targets if t not in keep]
        elif st is None:
            todo, keep = list(targets), {}
            self.stats["full_area_searches"] += 1
        else:
            since = gi.changed_since(st["info"])  # a patched graph: only these arcs can differ
            worse, better = _diff(st["edges"], edges, since)
            if since is not None:
                same = nodes == st["nodes"] and all(st["edges"].get(e) == edges.get(e) for e in since)
            if better:
                todo, keep = list(targets), {}
                self.stats["full_area_searches"] += 1
            else:
                keep = {t: ps for t, ps in st["table"].items() if t in tset and all(worse.isdisjoint(p.edges) for _, p in ps)}
                todo = [t for t in targets if t not in keep]
        # the CSR form is compiled only when there is a search to run, and
        # reused (or updated in place) while the area's links stay as they were
        entry = st["cg"] if st else None
        if since is None and st is not None and st["G"] is not G:
            same = st["edges"] == edges and st["nodes"] == nodes
        if st is not None and not (st["G"] is G or same):
            if todo:
                entry = _compiled(G, entry, st["info"], self.stats)
            else:
                entry = (None, 0)  # stale: compiled when next needed
        elif _cg_current(entry) is None and todo:
            entry = _compiled(G, None, None, self.stats)
        fresh = _ksp_table(entry[0], G, self.abr, todo, self.k, self.constraints) if todo else {}
        self.stats["targets_searched"] += len(todo)
        table = {**keep, **fresh}
        self.areas[area] = {"G": G, "edges": edges, "nodes": nodes, "info": gi, "cg": entry, "table": table}
        return table

    def _local(self, a: str, eps: list, table: dict, me: bool):
        """The local vector {ABR, [...]} of area ``a``: the previous object
        while its entries are the same objects."""
        sig = (me, tuple((e, id(table.get(e))) for e in eps), Aggregate.info)
        cached = self.local.get(a)
        if cached is not None and cached[0] == sig and all(table.get(e) is ps for e, ps in cached[1]):
            return cached[2]
        head = [(self.abr, EMPTY)] if me else []
        infos = self._local_arrays(a, eps, table, head)
        if infos is None:  # the reference form
            rows = [(e, agg) for e in eps for agg, _ in table.get(e, [])]
            entries = sorted(((agg.pwr, e, agg) for e, agg in rows), key=lambda x: (x[0], x[1]))
            infos = _infos_of(head + [(e, agg) for _, e, agg in entries])
        vec = wire.ReachabilityVector((self.abr,), a, infos) if infos else None
        self.local[a] = (sig, [(e, table.get(e)) for e in eps], vec)
        return vec

    def _local_arrays(self, a: str, eps: list, table: dict, head: list):
        """``_local``'s entries from each endpoint's wire form, converted
        once per table row list (an endpoint whose paths were kept keeps
        its PathInfos; issue 10: one link change converts only the
        endpoints it touched), then merged in one stable sort. None when
        the array form does not apply (``transit._wire_rows``)."""
        if _wire_rows([]) is None:  # Aggregate.info replaced: what is memoised may not be its form
            return None
        memo = self.local_rows.setdefault(a, {})
        cold = [e for e in eps if table.get(e) and (memo.get(e) is None or memo[e][0] is not table[e])]
        if cold:  # one batch for every endpoint whose paths are new
            conv = _wire_rows([(e, agg) for e in cold for agg, _ in table[e]])
            if conv is None:
                return None
            o = 0
            for e in cold:
                rows = table[e]
                memo[e] = (rows, conv[0][o : o + len(rows)], conv[1][o : o + len(rows)])
                o += len(rows)
        parts = [memo[e][1:] for e in eps if table.get(e)]
        if len(memo) > len(eps):
            for e in set(memo) - set(eps):
                del memo[e]
        h = _wire_rows(head) if head else ([], [])
        return None if h is None else _merge_local(h[0], parts)

    def compute(self, teds: dict, learnt: dict | None = None) -> dict:
        """Same answer as ``abr_vectors``, from the previous state."""
        with gc_pause:
            return self._compute(teds, learnt)

    def _compute(self, teds: dict, learnt: dict | None) -> dict:
        abr, k = self.abr, self.k
        if learnt is None:  # only what was learnt in the backbone is extended (sec. 2)
            learnt = {a: [(adv, v) for adv, _, v in teds[a].vectors() if v.fragment is None] for a in teds if a == BACKBONE}
        areas = sorted(teds)
        if len(areas) < 2:
            return {}
        graphs = {a: teds[a].graph() for a in areas}
        out: dict = {a: [] for a in areas}
        for a in areas:
            all_eps = teds[a].endpoints()
            eps = sorted(e for e in all_eps if e != abr)
            # backbone vectors of other ABRs, also those describing an area
            # we are attached to ourselves: a TE path has no reason to prefer
            # our intra-area route to that area over the detour through the
            # backbone and another of its ABRs (issue 11 sec. 6)
            heard = [
                (adv, v) for adv, v in learnt.get(a, []) if a == BACKBONE and v.abr_chain and v.abr_chain[0] == adv and adv != abr and abr not in v.abr_chain
            ]
            # one that describes our other area would go nowhere (never back
            # into the area it describes, nor into the backbone it came
            # from): neither extended nor its ABR searched for
            heard = [(adv, v) for adv, v in heard if any(b not in (a, v.area) for b in areas)]
            targets = sorted(set(eps) | {adv for adv, _ in heard})
            table = self._table(a, graphs[a], targets)
            vec = self._local(a, eps, table, abr in all_eps)
            if vec is not None:
                for b in areas:
                    if b != a:
                        out[b].append(vec)
            if a != BACKBONE:
                continue
            live, todo = set(), {}
            for adv, v in heard:
                key = (adv, v.abr_chain, v.area)
                live.add(key)
                vias = tuple(agg for agg, _ in table.get(adv, []))
                cached = self.transit.get(key)
                if not (cached and cached[1] == vias and (cached[0] is v or cached[0] == v)):
                    todo[key] = (vias, v)
            # every changed vector in one array pass (unchanged ones reuse their object)
            for key, paths in zip(todo, _combine_many(list(todo.values()), k)):
                vias, v = todo[key]
                self.transit[key] = (v, vias, wire.ReachabilityVector((abr, *v.abr_chain), v.area, paths) if paths else None)
            for adv, v in heard:
                vec = self.transit[(adv, v.abr_chain, v.area)][2]
                if vec is not None:
                    for b in areas:
                        if b not in (a, v.area):  # never back into the area it describes
                            out[b].append(vec)
            for key in [kk for kk in self.transit if kk not in live]:
                del self.transit[key]
        for b in out:  # the order abr_vectors produces
            out[b].sort(key=lambda v: (len(v.abr_chain) > 1, v.abr_chain, v.area))
        return {a: v for a, v in out.items() if v}


# ------------------------------------------------------------ fragments


def fragment(vec: wire.ReachabilityVector, generation: int, max_body: int = wire.MAX_BODY) -> list:
    """Split a vector over as many LSA bodies as it needs (same generation)."""
    fixed = 4 + 4 + 4 + 4 * len(vec.abr_chain) + 8  # TLV header, area, counts, chain, fragment
    per = max(1, (max_body - fixed) // wire.PATH_INFO_LEN)
    chunks = [vec.paths[i : i + per] for i in range(0, len(vec.paths), per)] or [()]
    if len(chunks) > 255:
        raise ValueError(f"vector of {len(vec.paths)} paths needs more than 255 fragments")
    return [wire.ReachabilityVector(vec.abr_chain, vec.area, c, wire.Fragment(generation & 0xFFFFFFFF, i, len(chunks))) for i, c in enumerate(chunks)]


def complete_vectors(ted) -> list:
    """[(adv, vector)] from a TED's LSAs: unfragmented vectors as they are,
    fragmented ones reassembled, per (router, chain, area) the newest
    generation that is complete (the originator deletes the old generation
    only after the new one is out, so one is always complete)."""
    from pyfrr_pwr.model.ted import serial_newer

    whole, groups = [], {}
    for adv, _, v in ted.vectors():
        if v.fragment is None:
            whole.append((adv, v))
        else:
            groups.setdefault((adv, v.abr_chain, v.area), {}).setdefault(v.fragment.generation, {})[v.fragment.index] = v
    for (adv, chain, area), gens in sorted(groups.items()):
        best = None
        for g, parts in gens.items():
            count = next(iter(parts.values())).fragment.count
            if len(parts) == count and all(i in parts for i in range(count)) and (best is None or serial_newer(g, best[0])):
                best = (g, parts)
        if best:
            parts = best[1]
            whole.append((adv, wire.ReachabilityVector(chain, area, tuple(p for i in range(len(parts)) for p in parts[i].paths))))
    return whole


def signature(v: wire.ReachabilityVector, band: metric.Banding) -> tuple:
    """What must change before a vector is re-advertised (sec. 2.2): the
    endpoints, and each entry's PWR sum and bandwidth by band, not value."""
    return tuple((p.endpoint, band.band_of(p.pwr_sum), band.band_of(p.min_avail_bw), p.hop_count) for p in v.paths)


# ------------------------------------------------------------ head-end


@dataclass(frozen=True)
class Choice:
    abr_chain: tuple
    head_path: tuple  # nodes, head-end to the first ABR
    head: Aggregate
    rest: Aggregate  # from the first ABR to the tail-end (the vector's Path info)
    total: Aggregate
    area: str  # the tail-end's area


@dataclass(frozen=True)
class Unmet:
    """A bound of the request that no path met (issue 9): the constraint's
    name (a ``Constraints`` field), its limit, and the best figure any
    candidate path had for it (the most bandwidth, the least delay, jitter
    or hops; for ``admin_exclude`` the excluded groups the best path
    carries)."""

    bound: str
    limit: float
    best: float

    def __str__(self) -> str:
        unit = {"max_delay": " us", "max_jitter": " us", "min_bandwidth": " B/s"}.get(self.bound, "")
        if self.bound == "admin_exclude":
            return f"admin_exclude: every path carries excluded groups (best {int(self.best):#x} of {int(self.limit):#x})"
        return f"{self.bound}: best {self.best:g}{unit}, limit {self.limit:g}{unit}"


@dataclass(frozen=True)
class Selection:
    choices: tuple  # best first
    reason: str = ""
    unmet: tuple = ()  # Unmet, when candidate paths existed but none met the bounds

    @property
    def best(self) -> Choice | None:
        return self.choices[0] if self.choices else None

    @property
    def ecmp(self) -> tuple:
        """Alternatives with the best PWR sum (sec. 2.1.5)."""
        if not self.choices:
            return ()
        b = self.choices[0].total.pwr
        return tuple(c for c in self.choices if abs(c.total.pwr - b) <= ECMP_EPS * max(1.0, abs(b)))


# bound -> (figure of an aggregate, True when a larger figure is better)
_BOUNDS = {
    "min_bandwidth": (lambda g, c: g.min_bw, True),
    "max_delay": (lambda g, c: g.delay, False),
    "max_jitter": (lambda g, c: g.jitter, False),
    "max_hops": (lambda g, c: g.hops, False),
    "admin_exclude": (lambda g, c: g.admin & c.admin_exclude, False),
}


def _meets(agg: Aggregate, c: Constraints, bound: str) -> bool:
    if bound == "admin_exclude":
        return not agg.admin & c.admin_exclude
    limit = getattr(c, bound)
    if limit is None:
        return True
    fig = _BOUNDS[bound][0](agg, c)
    return fig >= limit if _BOUNDS[bound][1] else fig <= limit


def _fits(agg: Aggregate, c: Constraints) -> bool:
    """A whole inter-area path against the request; a vector carries only
    aggregates, so the include-any/all groups are checked link by link on
    the head-end's own segment alone."""
    return all(_meets(agg, c, b) for b in _BOUNDS)


def _unmet(aggs: list, c: Constraints) -> tuple:
    """Which bounds failed and the best figure there was (issue 9). A bound
    is reported when even the candidates that meet every other bound fall
    short of it (or, if none meets the others, every candidate does); when
    the bounds only fail together, those the cheapest candidate misses."""
    active = [b for b in _BOUNDS if (c.admin_exclude if b == "admin_exclude" else getattr(c, b)) not in (None, 0)]
    if not aggs or not active:
        return ()

    def best(b, pool):
        fig, larger = _BOUNDS[b]
        vals = [fig(g, c) for g in pool]
        if b == "admin_exclude":
            return min(vals, key=lambda x: (bin(x).count("1"), x))
        return max(vals) if larger else min(vals)

    def limit(b):
        return float(c.admin_exclude if b == "admin_exclude" else getattr(c, b))

    out = []
    for b in active:
        others = [g for g in aggs if all(_meets(g, c, o) for o in active if o != b)] or aggs
        if not any(_meets(g, c, b) for g in others):
            out.append(Unmet(b, limit(b), float(best(b, others))))
    if not out:
        cheapest = min(aggs, key=lambda g: g.pwr)
        out = [Unmet(b, limit(b), float(best(b, aggs))) for b in active if not _meets(cheapest, c, b)]
    return tuple(out)


def _relaxed(c: Constraints) -> Constraints:
    """The request without its bounds (only the excluded nodes and links):
    the search that finds the best figures to report."""
    return Constraints(exclude_nodes=c.exclude_nodes, exclude_edges=c.exclude_edges)


def _why(unmet: tuple) -> str:
    return ("; " + "; ".join(map(str, unmet))) if unmet else ""


def select(
    head: str, dest: str, ted, vectors: list, k: int = 8, constraints: Constraints | None = None, limit: int = 8, compiled: CompiledGraph | None = None
) -> Selection:
    """The head-end's inter-area choice (sec. 2.2) from its own area's TED
    and the vectors ABRs leaked into it (``[(adv, vector)]``). When paths
    exist but none meets the request, ``Selection.unmet`` says which bound
    failed and the best figure available (issue 9)."""
    constraints = constraints or Constraints()
    G = ted.graph()
    cg = compiled or _compiled(G)[0]
    if head not in cg.index:
        return Selection((), f"{head} is not in the TE database of area {ted.area}")
    # what the intra-area search can enforce link by link
    intra = constraints.link_local()
    mj = constraints.max_jitter
    if dest in cg.index:  # same area: plain CSPF (jitter filtered here too, for a core that does not know it)
        ps = cg.k_shortest_paths(head, dest, k if mj is None or _KSP_JITTER else max(4 * k, 16), constraints)
        attrs = _info(G).attrs
        ch = tuple(Choice((), p.nodes, a, EMPTY, a, ted.area) for p in ps for a in [_aggregates(attrs, p)] if mj is None or a.jitter <= mj)[:k]
        if ch:
            return Selection(ch)
        unmet = _unmet([_aggregates(attrs, p) for p in cg.k_shortest_paths(head, dest, k, _relaxed(constraints))], constraints)
        return Selection((), f"no path from {head} to {dest} in area {ted.area} meets the constraints{_why(unmet)}", unmet)
    offers = [(adv, v, p) for adv, v in vectors for p in v.paths if p.endpoint == dest and v.abr_chain and v.abr_chain[0] == adv]
    if not offers:
        return Selection((), f"no ABR of area {ted.area} advertises a path to {dest}")
    abrs = sorted({adv for adv, _, _ in offers})
    table = _ksp_table(cg, G, head, [a for a in abrs if a != head], k, intra)
    if head in abrs:
        table[head] = [(EMPTY, None)]
    cands = []
    for adv, v, p in offers:
        rest = Aggregate.of(p)
        for agg, path in table.get(adv, []):
            tot = agg.then(rest)
            if _fits(tot, constraints):
                nodes = path.nodes if path is not None else (head,)
                cands.append(Choice(v.abr_chain, nodes, agg, rest, tot, v.area))
    cands.sort(key=lambda c: (c.total.pwr, c.total.hops, c.abr_chain, c.head_path))
    seen, out = set(), []
    for c in cands:
        key = (c.abr_chain, c.head_path, round(c.rest.pwr, 12))
        if key not in seen:
            seen.add(key)
            out.append(c)
    if not out:
        loose = _ksp_table(cg, G, head, [a for a in abrs if a != head], k, _relaxed(constraints))
        if head in abrs:
            loose[head] = [(EMPTY, None)]
        unmet = _unmet([agg.then(Aggregate.of(p)) for adv, _, p in offers for agg, _ in loose.get(adv, [])], constraints)
        return Selection(
            (),
            f"no inter-area path from {head} to {dest} meets the constraints ({constraints.describe()}; {len(offers)} offers from {len(abrs)} ABRs){_why(unmet)}",
            unmet,
        )
    return Selection(tuple(out[:limit]))
