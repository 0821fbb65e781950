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

Path info holds aggregates only (sec. 2.1.9): PWR sum, minimum available
bandwidth, TE-metric sum, hop count, OR of admin groups, delay sum.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

from pyfrr_pwr.model import metric
from pyfrr_pwr.model.constraints import Constraints
from pyfrr_pwr.paths.ksp import CompiledGraph
from pyfrr_pwr.proto import wire

__all__ = ["Aggregate", "abr_vectors", "VectorComputer", "converge", "fragment", "complete_vectors", "Choice", "Selection", "select", "aggregate"]

ECMP_EPS = 1e-9  # relative: PWR sums this close are equal (sec. 2.1.5)


@dataclass(frozen=True)
class Aggregate:
    pwr: float
    min_bw: float
    te_metric: int
    hops: int
    admin: int
    delay: float

    def then(self, other: Aggregate) -> Aggregate:
        # sums saturate at the wire's float32 range: a hostile (or merely
        # huge) PWR learnt from the network must not make our own vector
        # unencodable (issue 11 sec. 1); FLT_MAX still sorts last
        return Aggregate(
            min(self.pwr + other.pwr, metric.FLT_MAX),
            min(self.min_bw, other.min_bw),
            min(self.te_metric + other.te_metric, 0xFFFFFFFF),
            self.hops + other.hops,
            self.admin | other.admin,
            self.delay + other.delay,
        )

    @classmethod
    def of(cls, p: wire.PathInfo) -> Aggregate:
        return cls(p.pwr_sum, p.min_avail_bw, p.te_metric_sum, p.hop_count, p.admin_groups, float(p.delay_us))

    def info(self, endpoint: str) -> wire.PathInfo:
        """The wire form, every field saturated into its range."""
        pwr = min(self.pwr, metric.FLT_MAX)
        bw = min(self.min_bw, metric.FLT_MAX)
        delay = min(self.delay, float(0xFFFFFFFF))
        return wire.PathInfo(endpoint, pwr, bw, min(self.te_metric, 0xFFFFFFFF), min(self.hops, 0xFFFF), self.admin & 0xFFFFFFFF, int(round(delay)))


EMPTY = Aggregate(0.0, math.inf, 0, 0, 0, 0.0)


def aggregate(G, path) -> Aggregate:
    """Path info of one path in a TED graph (sec. 2.1.9)."""
    pwr, bw, te, admin, delay = 0.0, math.inf, 0, 0, 0.0
    for e in path.edges:
        d = G.edges[e]
        pwr += d["weight"]
        bw = min(bw, d.get("avail_bw", math.inf))
        te += d.get("te_metric") or 0
        admin |= d.get("admin_group") or 0
        delay += d.get("delay") or 0.0
    return Aggregate(pwr, bw, te, len(path.edges), admin, delay)


def _ksp_table(cg: CompiledGraph, G, src: str, targets: list, k: int, constraints: Constraints) -> dict:
    """k aggregates src -> each target (one C batch call)."""
    targets = [t for t in targets if t in cg.index]
    if src not in cg.index or not targets:
        return {}
    res = cg.one_to_many(src, targets, k, constraints)
    return {t: [(aggregate(G, p), p) for p in ps] for t, ps in res.items() if ps}


BACKBONE = "0.0.0.0"


def _k_smallest_sums(xs: list, ys: list, k: int) -> list:
    """Index pairs (i, j) of the k smallest xs[i] + ys[j], both lists sorted
    ascending: a heap walk over the sum matrix, O(k log k) instead of the
    k x k products."""
    if not xs or not ys:
        return []
    heap = [(xs[0] + ys[0], 0, 0)]
    seen = {(0, 0)}
    out = []
    while heap and len(out) < k:
        _, i, j = heapq.heappop(heap)
        out.append((i, j))
        for ni, nj in ((i + 1, j), (i, j + 1)):
            if ni < len(xs) and nj < len(ys) and (ni, nj) not in seen:
                seen.add((ni, nj))
                heapq.heappush(heap, (xs[ni] + ys[nj], ni, nj))
    return out


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
    transit. Returns {abr: {area: [vectors]}}."""
    out: dict = {}
    for _ in range(rounds):
        new = {abr: abr_vectors(abr, teds, k, constraints) for abr, teds in sorted(teds_by_router.items())}
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
    return {
        (u, v, k): (d["weight"], d.get("avail_bw"), d.get("admin_group"), d.get("delay"), d.get("te_metric")) for u, v, k, d in G.edges(keys=True, data=True)
    }


def _diff(old: dict, new: dict) -> tuple[set, bool]:
    """Edges that got worse or vanished, and whether any got better or
    appeared (then any path may now be beaten by a new one)."""
    worse, better = set(), False
    for e, st in old.items():
        n = new.get(e)
        if n is None:
            worse.add(e)
        elif n != st:
            if n[0] > st[0] or (n[1] or 0) < (st[1] or 0) or n[2] != st[2] or (n[3] or 0) > (st[3] or 0) or n[4] != st[4]:
                worse.add(e)
            if n[0] < st[0] or (n[1] or 0) > (st[1] or 0) or (n[3] or 0) < (st[3] or 0):
                better = True
    if any(e not in old for e in new):
        better = True
    return worse, better


class VectorComputer:
    """One ABR's vectors, recomputed incrementally (draft sec. 2.2).

    Per area it keeps the last graph's edges and the k paths to each
    endpoint. After a change only the endpoints whose paths used a link that
    got worse (or vanished) are searched again; a link that got better (or
    appeared) can shorten any path, so then the whole area is. Transit
    entries are recombined only for learnt vectors that changed, or whose
    backbone paths did. ``stats`` counts the KSP targets searched.
    """

    def __init__(self, abr: str, k: int = 8, constraints: Constraints | None = None):
        self.abr, self.k, self.constraints = abr, k, constraints or Constraints()
        # area -> {"edges", "nodes", "cg": CompiledGraph | None, "table": {ep: [(agg, path)]}}
        self.areas: dict = {}
        self.transit: dict = {}  # (adv, chain, area) -> (learnt vector, via aggregates, our vector)
        self.stats = {"targets_searched": 0, "full_area_searches": 0, "compiles": 0}

    def _table(self, area: str, G, targets: list) -> dict:
        st = self.areas.get(area)
        edges, nodes = _edge_state(G), frozenset(G)
        if st is None:
            todo, keep = list(targets), {}
            self.stats["full_area_searches"] += 1
        else:
            worse, better = _diff(st["edges"], edges)
            if better:
                todo, keep = list(targets), {}
                self.stats["full_area_searches"] += 1
            else:
                keep = {t: ps for t, ps in st["table"].items() if t in targets and not any(e in worse for _, p in ps for e in p.edges)}
                todo = [t for t in targets if t not in keep]
        # the CSR form is compiled only when there is a search to run, and
        # reused while the area's links stay as they were
        cg = st["cg"] if st and st["edges"] == edges and st["nodes"] == nodes else None
        if todo and cg is None:
            cg = CompiledGraph.from_networkx(G)
            self.stats["compiles"] += 1
        fresh = _ksp_table(cg, G, self.abr, todo, self.k, self.constraints) if todo else {}
        self.stats["targets_searched"] += len(todo)
        table = {**keep, **fresh}
        self.areas[area] = {"edges": edges, "nodes": nodes, "cg": cg, "table": table}
        return table

    def compute(self, teds: dict, learnt: dict | None = None) -> dict:
        """Same answer as ``abr_vectors``, from the previous state."""
        abr, k = self.abr, self.k
        if learnt is None:
            learnt = {a: [(adv, v) for adv, _, v in teds[a].vectors() if v.fragment is None] for a in teds}
        areas = sorted(teds)
        if len(areas) < 2:
            return {}
        graphs = {a: teds[a].graph() for a in areas}
        out: dict = {a: [] for a in areas}
        for a in areas:
            eps = sorted(e for e in teds[a].endpoints() if e != abr)
            # backbone vectors of other ABRs, also those describing an area
            # we are attached to ourselves: a TE path has no reason to prefer
            # our intra-area route to that area over the detour through the
            # backbone and another of its ABRs (issue 11 sec. 6)
            heard = [
                (adv, v) for adv, v in learnt.get(a, []) if a == BACKBONE and v.abr_chain and v.abr_chain[0] == adv and adv != abr and abr not in v.abr_chain
            ]
            targets = sorted(set(eps) | {adv for adv, _ in heard})
            table = self._table(a, graphs[a], targets)
            entries = sorted(((agg.pwr, e, agg) for e in eps for agg, _ in table.get(e, [])), key=lambda x: (x[0], x[1]))
            if abr in teds[a].endpoints():
                entries.insert(0, (0.0, abr, EMPTY))
            if entries:
                vec = wire.ReachabilityVector((abr,), a, tuple(agg.info(e) for _, e, agg in entries))
                for b in areas:
                    if b != a:
                        out[b].append(vec)
            if a != BACKBONE:
                continue
            live = set()
            for adv, v in heard:
                key = (adv, v.abr_chain, v.area)
                live.add(key)
                vias = tuple(agg for agg, _ in table.get(adv, []))
                cached = self.transit.get(key)
                if cached and cached[1] == vias and (cached[0] is v or cached[0] == v):
                    vec = cached[2]  # unchanged: the vector object itself is reused
                else:
                    by_ep: dict = {}
                    for p in v.paths:
                        by_ep.setdefault(p.endpoint, []).append(p)
                    entries = []
                    for ep, plist in by_ep.items():
                        for i, j in _k_smallest_sums([g.pwr for g in vias], [p.pwr_sum for p in plist], k):
                            agg = vias[i].then(Aggregate.of(plist[j]))
                            entries.append((agg.pwr, ep, agg))
                    entries.sort(key=lambda x: (x[0], x[1]))
                    vec = wire.ReachabilityVector((abr, *v.abr_chain), v.area, tuple(agg.info(e) for _, e, agg in entries)) if entries else None
                    self.transit[key] = (v, vias, vec)
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
class Selection:
    choices: tuple  # best first
    reason: str = ""

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


def _fits(agg: Aggregate, c: Constraints) -> bool:
    """A whole inter-area path against the request; a vector carries only
    aggregates, so the include-any/all groups are checked link by link on
    the head-end's own segment alone."""
    if c.min_bandwidth is not None and agg.min_bw < c.min_bandwidth:
        return False
    if c.max_delay is not None and agg.delay > c.max_delay:
        return False
    if c.max_hops is not None and agg.hops > c.max_hops:
        return False
    return not agg.admin & c.admin_exclude


def select(
    head: str, dest: str, ted, vectors: list, k: int = 8, constraints: Constraints | None = None, limit: int = 8, compiled: CompiledGraph | None = None
) -> Selection:
    """The head-end's inter-area choice (sec. 2.2) from its own area's TED
    and the vectors ABRs leaked into it (``[(adv, vector)]``)."""
    constraints = constraints or Constraints()
    G = ted.graph()
    cg = compiled or CompiledGraph.from_networkx(G)
    if head not in cg.index:
        return Selection((), f"{head} is not in the TE database of area {ted.area}")
    # what the intra-area search can enforce link by link
    intra = constraints.link_local()
    if dest in cg.index:  # same area: plain CSPF
        ps = cg.k_shortest_paths(head, dest, k, constraints)
        ch = tuple(Choice((), p.nodes, a, EMPTY, a, ted.area) for p in ps for a in [aggregate(G, p)])
        return Selection(ch, "" if ch else f"no path from {head} to {dest} in area {ted.area} meets the constraints")
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
        return Selection(
            (), f"no inter-area path from {head} to {dest} meets the constraints ({constraints.describe()}; {len(offers)} offers from {len(abrs)} ABRs)"
        )
    return Selection(tuple(out[:limit]))
