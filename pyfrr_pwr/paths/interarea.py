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
bandwidth, TE-metric sum, hop count, OR of admin groups, delay sum, and the
sum of the links' delay variation as a conservative jitter bound (RFC 7471
sec. 4.3, issue 9).

Speed (issue 10): transit entries are combined in arrays, one numpy pass per
learnt vector (``_combine``: the k smallest sums by a stable argsort, which
is the heap walk's order exactly), and wire objects are built only for the
entries that go out; each area's graph (``TED.graph()``, cached per
topology generation) maps to one compiled graph shared by every computer,
updated in place when only link figures changed (``CompiledGraph.update_edges``
where the KSP core offers it). Inputs the array form cannot reproduce bit
for bit (unsorted or non-finite figures from the network) take the scalar
path (``_combine_scalar``), which is the reference. A compiled graph is
updated in place only by a ``VectorComputer`` that compiled it for an
earlier graph (its generation tells every other holder it is stale); in the
agent those graphs belong to the worker thread's TED snapshots, so no other
thread queries a graph while it changes.

Memory for speed: ``_path_infos`` fills each new ``wire.PathInfo``'s
instance dict directly (2-3x faster than the dataclass constructor, about
250 bytes more per entry while it lives: ~150 MiB at the 10 x 200-router
scale of ``bench/test_bench_interarea.py``, nothing that matters at an
agent's few hundred entries). ``FAST_WIRE_OBJECTS = False`` gives the
plain constructor.
"""

from __future__ import annotations

import dataclasses
import gc
import heapq
import inspect
import math
import weakref
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from pyfrr_pwr.model import metric
from pyfrr_pwr.model.constraints import Constraints
from pyfrr_pwr.paths.ksp import CompiledGraph
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
]

ECMP_EPS = 1e-9  # relative: PWR sums this close are equal (sec. 2.1.5)


# -- wire objects, built fast ------------------------------------------------

_PI = wire.PathInfo
_PI_FIELDS = tuple(f.name for f in dataclasses.fields(_PI))
_PI_BASE = ("endpoint", "pwr_sum", "min_avail_bw", "te_metric_sum", "hop_count", "admin_groups", "delay_us")
HAS_JITTER = "jitter_us" in _PI_FIELDS  # wire.PathInfo's jitter sum (issue 9), when the wire has it
JITTER_MAX = 0xFFFF  # the wire's 16-bit jitter field saturates here (65.535 ms)
_PI_EXTRA: dict = {}  # fields beyond the ones we fill, at their defaults
FAST_WIRE_OBJECTS = True  # see the module docstring: speed for memory
_FAST_PI = _PI_FIELDS[:7] == _PI_BASE and not hasattr(_PI, "__post_init__") and "__slots__" not in vars(_PI)
for _f in dataclasses.fields(_PI)[7:]:
    if _f.name == "jitter_us":
        continue
    if _f.default is dataclasses.MISSING:
        _FAST_PI = False
    else:
        _PI_EXTRA[_f.name] = _f.default


def _path_infos(eps, pwr, bw, te, hops, admin, delay, jitter) -> list:
    """wire.PathInfo objects from parallel lists (already in range). A
    frozen dataclass's ``__init__`` sets each field through
    ``object.__setattr__``; filling the new instances' dicts directly gives
    the same objects (same fields, equality, hash, repr) at a third of the
    cost, which matters at 10^5-10^6 entries per round (issue 10)."""
    if not (_FAST_PI and FAST_WIRE_OBJECTS):
        if HAS_JITTER:
            return [_PI(*r[:7], jitter_us=r[7]) for r in zip(eps, pwr, bw, te, hops, admin, delay, jitter)]
        return [_PI(*r) for r in zip(eps, pwr, bw, te, hops, admin, delay)]
    new = object.__new__
    out = [new(_PI) for _ in eps]
    for o, e, p, b, t, h, a, d, j in zip(out, eps, pwr, bw, te, hops, admin, delay, jitter):
        dd = o.__dict__
        dd["endpoint"] = e
        dd["pwr_sum"] = p
        dd["min_avail_bw"] = b
        dd["te_metric_sum"] = t
        dd["hop_count"] = h
        dd["admin_groups"] = a
        dd["delay_us"] = d
        if HAS_JITTER:
            dd["jitter_us"] = j
        if _PI_EXTRA:
            dd.update(_PI_EXTRA)
    return out


@contextmanager
def _no_gc():
    """No cyclic collection while building many acyclic objects (they
    cannot form cycles; the collector would rescan them repeatedly). Left
    as it was found, so a caller that disabled it keeps it disabled."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@dataclass(frozen=True)
class Aggregate:
    pwr: float
    min_bw: float
    te_metric: int
    hops: int
    admin: int
    delay: float
    jitter: float = 0.0  # sum of the links' delay variation, µs (RFC 7471 sec. 4.3)

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
            self.jitter + other.jitter,
        )

    @classmethod
    def of(cls, p: wire.PathInfo) -> Aggregate:
        return cls(p.pwr_sum, p.min_avail_bw, p.te_metric_sum, p.hop_count, p.admin_groups, float(p.delay_us), float(getattr(p, "jitter_us", 0) or 0))

    def info(self, endpoint: str) -> wire.PathInfo:
        """The wire form, every field saturated into its range."""
        return _infos(((endpoint, self),))[0]


def _infos(rows) -> list:
    """``Aggregate.info`` for many (endpoint, aggregate) rows at once."""
    rows = list(rows)
    FM, DM, JM = metric.FLT_MAX, float(0xFFFFFFFF), float(JITTER_MAX)
    return _path_infos(
        [e for e, _ in rows],
        [min(g.pwr, FM) for _, g in rows],
        [min(g.min_bw, FM) for _, g in rows],
        [min(g.te_metric, 0xFFFFFFFF) for _, g in rows],
        [min(g.hops, 0xFFFF) for _, g in rows],
        [g.admin & 0xFFFFFFFF for _, g in rows],
        [int(round(min(g.delay, DM))) for _, g in rows],
        [int(round(min(g.jitter, JM))) for _, g in rows],
    )


_THEN, _INFO = Aggregate.then, Aggregate.info  # the array and batch paths are their vectorised form


def _infos_of(rows) -> tuple:
    """The wire form of (endpoint, aggregate) rows, in one batch unless
    ``Aggregate.info`` was replaced (then one call each, as it says)."""
    if Aggregate.info is _INFO:
        return tuple(_infos(rows))
    return tuple(g.info(e) for e, g in rows)


EMPTY = Aggregate(0.0, math.inf, 0, 0, 0, 0.0, 0.0)


def aggregate(G, path) -> Aggregate:
    """Path info of one path in a TED graph (sec. 2.1.9)."""
    pwr, bw, te, admin, delay, jitter = 0.0, math.inf, 0, 0, 0.0, 0.0
    for e in path.edges:
        d = G.edges[e]
        pwr += d["weight"]
        bw = min(bw, d.get("avail_bw", math.inf))
        te += d.get("te_metric") or 0
        admin |= d.get("admin_group") or 0
        delay += d.get("delay") or 0.0
        jitter += d.get("delay_var") or 0.0
    return Aggregate(pwr, bw, te, len(path.edges), admin, delay, jitter)


# -- per-graph state, shared by every computer ----------------------------


class _GraphInfo:
    """What the computation needs of one area graph, derived once per graph
    object (``TED.graph()`` returns one object per topology generation):
    every arc's figures for the change diff, the same figures in the form
    the aggregates read, and the node set."""

    __slots__ = ("edges", "nodes", "attrs", "__weakref__")

    def __init__(self, G):
        edges, attrs = {}, {}
        for u, v, k, d in G.edges(keys=True, data=True):
            e = (u, v, k)
            dv = d.get("delay_var")
            edges[e] = (d["weight"], d.get("avail_bw"), d.get("admin_group"), d.get("delay"), d.get("te_metric"), dv)
            attrs[e] = (d["weight"], d.get("avail_bw", math.inf), d.get("te_metric") or 0, d.get("admin_group") or 0, d.get("delay") or 0.0, dv or 0.0)
        self.edges, self.attrs, self.nodes = edges, attrs, frozenset(G)


# the KSP core knows delay variation (arc attribute, Constraints.max_jitter) when it compiles it
_KSP_JITTER = "jitter" in inspect.signature(CompiledGraph.from_networkx).parameters

_INFO_OF: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # graph -> _GraphInfo
_CG_OF: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # graph -> (CompiledGraph, its generation)
_CG_GEN: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # CompiledGraph -> in-place updates so far


def _info(G) -> _GraphInfo:
    gi = _INFO_OF.get(G)
    if gi is None:
        gi = _INFO_OF[G] = _GraphInfo(G)
    return gi


def _cg_current(entry) -> CompiledGraph | None:
    """A (compiled graph, generation) pair's graph if nobody has updated it
    in place since (then it describes another graph now)."""
    if entry is None or entry[0] is None:
        return None
    cg, gen = entry
    return cg if _CG_GEN.get(cg, 0) == gen else None


def _compiled(G, prev=None, prev_info: _GraphInfo | None = None, stats: dict | None = None) -> tuple:
    """The compiled form of area graph ``G`` as (cg, generation): shared
    with every computer that has the same graph object; else ``prev`` (the
    caller's compiled previous graph) updated in place when only link
    figures changed (same nodes and arcs in the same order) and the KSP
    core can do that; else compiled afresh."""
    cg = _cg_current(_CG_OF.get(G))
    if cg is not None:
        return _CG_OF[G]
    old = _cg_current(prev)
    gi = _info(G)
    if old is not None and prev_info is not None and hasattr(old, "update_edges") and gi.nodes == prev_info.nodes and list(old.nodes) == list(G.nodes):
        if tuple(old.edge_keys) == tuple(gi.edges):
            changes = {}
            for e, st in gi.edges.items():
                was = prev_info.edges.get(e)
                if was != st:
                    a = gi.attrs[e]
                    changes[e] = {"weight": a[0], "avail_bw": a[1], "admin_group": a[3], "delay": a[4]}
                    if _KSP_JITTER:
                        changes[e]["delay_var"] = a[5]
            try:
                if changes:
                    _CG_GEN[old] = _CG_GEN.get(old, 0) + 1  # stale for every other holder from here on
                    old.update_edges(changes)
            except (KeyError, ValueError, TypeError):
                pass  # a core that cannot take these attributes: compile afresh below
            else:
                entry = _CG_OF[G] = (old, _CG_GEN.get(old, 0))
                if stats is not None:
                    stats["in_place_updates"] = stats.get("in_place_updates", 0) + 1
                return entry
    cg = CompiledGraph.from_networkx(G)
    if stats is not None:
        stats["compiles"] += 1
    entry = _CG_OF[G] = (cg, 0)
    return entry


def _aggregates(attrs: dict, path) -> Aggregate:
    """``aggregate`` from a graph's precomputed arc figures (same sums, in
    the same order)."""
    pwr, bw, te, admin, delay, jitter = 0.0, math.inf, 0, 0, 0.0, 0.0
    for e in path.edges:
        w, b, t, a, d, j = attrs[e]
        pwr += w
        bw = min(bw, b)
        te += t
        admin |= a
        delay += d
        jitter += j
    return Aggregate(pwr, bw, te, len(path.edges), admin, delay, jitter)


def _ksp_table(cg: CompiledGraph, G, src: str, targets: list, k: int, constraints: Constraints) -> dict:
    """k aggregates src -> each target (one C batch call). The KSP core
    prunes by bandwidth, groups, hops, delay and (where it knows delay
    variation) jitter; a core that does not know jitter has the bound
    applied to its results (then fewer than k may remain)."""
    targets = [t for t in targets if t in cg.index]
    if src not in cg.index or not targets:
        return {}
    res = cg.one_to_many(src, targets, k, constraints)
    attrs = _info(G).attrs
    mj = getattr(constraints, "max_jitter", None)
    out = {}
    for t, ps in res.items():
        rows = [(_aggregates(attrs, p), p) for p in ps]
        if mj is not None:
            rows = [r for r in rows if r[0].jitter <= mj]
        if rows:
            out[t] = rows
    return out


BACKBONE = "0.0.0.0"


def _k_smallest_sums(xs: list, ys: list, k: int) -> list:
    """Index pairs (i, j) of the k smallest xs[i] + ys[j], both lists sorted
    ascending: a heap walk over the sum matrix, O(k log k) instead of the
    k x k products. Ties pop by (i, j): the walk yields the matrix's
    entries in (sum, i, j) order, which ``_combine`` reproduces."""
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


def _combine_scalar(vias: tuple, v: wire.ReachabilityVector, k: int) -> tuple:
    """Transit entries of ``vias`` (our k aggregates to the vector's ABR)
    extended by vector ``v``'s entries, sorted by (PWR, endpoint): the
    reference form, one Python object per step."""
    by_ep: dict = {}
    for p in v.paths:
        by_ep.setdefault(p.endpoint, []).append(p)
    entries = []
    for ep, plist in by_ep.items():
        for i, j in _k_smallest_sums([g.pwr for g in vias], [p.pwr_sum for p in plist], k):
            agg = vias[i].then(Aggregate.of(plist[j]))
            entries.append((agg.pwr, ep, agg))
    entries.sort(key=lambda x: (x[0], x[1]))
    return _infos_of((e, agg) for _, e, agg in entries)


class _VecArrays:
    """A learnt vector's entries as arrays, grouped by endpoint (first
    appearance order), padded with a sentinel position ``n`` whose PWR is
    +inf. ``ok`` is False when the array form could differ from the scalar
    one (an endpoint's entries not sorted by PWR, non-finite or
    out-of-range figures): then ``_combine_scalar`` runs."""

    __slots__ = ("vec", "eps", "rank", "idx", "count", "pwr", "bw", "te", "hops", "admin", "delay", "jitter", "ok")

    def __init__(self, v: wire.ReachabilityVector):
        self.vec = v
        self.ok = False
        paths = v.paths
        n = len(paths)
        groups: dict = {}
        for pos, p in enumerate(paths):
            groups.setdefault(p.endpoint, []).append(pos)
        self.eps = list(groups)
        if not n:
            return
        try:
            pwr = np.array([p.pwr_sum for p in paths] + [math.inf], dtype=np.float64)
            bw = np.array([p.min_avail_bw for p in paths] + [0.0], dtype=np.float64)
            ints = np.array([(p.te_metric_sum, p.hop_count, p.admin_groups, p.delay_us) for p in paths] + [(0, 0, 0, 0)], dtype=np.int64)
            jitter = np.array([float(getattr(p, "jitter_us", 0) or 0) for p in paths] + [0.0], dtype=np.float64)
            exact = all(type(x) is int and 0 <= x < 2**32 for p in paths for x in (p.te_metric_sum, p.hop_count, p.admin_groups, p.delay_us))
            exact = exact and all(type(p.pwr_sum) is float and type(p.min_avail_bw) is float for p in paths)
        except (TypeError, ValueError, OverflowError):
            return
        if not exact or not np.isfinite(pwr[:n]).all() or np.isnan(bw).any() or not np.isfinite(jitter).all():
            return
        J = max(len(g) for g in groups.values())
        idx = np.full((len(groups), J), n, dtype=np.intp)
        for r, g in enumerate(groups.values()):
            idx[r, : len(g)] = g
        gp = pwr[idx]
        if (gp[:, 1:] < gp[:, :-1]).any():  # the padding is +inf: only real disorder shows
            return
        order = sorted(range(len(self.eps)), key=self.eps.__getitem__)
        rank = np.empty(len(self.eps), dtype=np.intp)
        rank[order] = np.arange(len(self.eps))
        self.rank, self.idx = rank, idx
        self.count = np.array([len(g) for g in groups.values()], dtype=np.intp)
        self.pwr, self.bw, self.jitter = pwr, bw, jitter
        self.te, self.hops, self.admin = ints[:, 0], ints[:, 1], ints[:, 2]
        self.delay = ints[:, 3].astype(np.float64)
        self.ok = True


_VEC_ARRAYS: dict = {}  # id(vector) -> _VecArrays, shared: every ABR hears the same vectors
_VEC_ARRAYS_MAX = 4096


def _vec_arrays(v: wire.ReachabilityVector) -> _VecArrays:
    a = _VEC_ARRAYS.get(id(v))
    if a is None or a.vec is not v:
        if len(_VEC_ARRAYS) >= _VEC_ARRAYS_MAX:
            _VEC_ARRAYS.clear()
        a = _VEC_ARRAYS[id(v)] = _VecArrays(v)
    return a


def _combine(vias: tuple, v: wire.ReachabilityVector, k: int) -> tuple:
    """``_combine_scalar`` in arrays, equal to it entry for entry.

    For each endpoint the sums xs[i] + ys[j] of the (nv x J) matrix,
    flattened row-major, are sorted stably: ties keep (i, j) order, which is
    the heap walk's (sum, i, j) order when both lists are sorted; the first
    min(k, nv * count) are the walk's. The entries are then sorted stably
    by (saturated PWR, endpoint) like the scalar form, and saturated into
    the wire's ranges as ``Aggregate.then`` and ``Aggregate.info`` do.
    """
    if not vias or not v.paths or Aggregate.then is not _THEN or Aggregate.info is not _INFO:
        return _combine_scalar(vias, v, k) if vias else ()
    va = _vec_arrays(v)
    xs = np.array([g.pwr for g in vias], dtype=np.float64)
    if not va.ok or not np.isfinite(xs).all() or (xs[1:] < xs[:-1]).any():
        return _combine_scalar(vias, v, k)
    try:
        vbw = np.array([g.min_bw for g in vias], dtype=np.float64)
        vint = np.array([(g.te_metric, g.hops, g.admin) for g in vias], dtype=np.int64)
        vdl = np.array([g.delay for g in vias], dtype=np.float64)
        vjt = np.array([g.jitter for g in vias], dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return _combine_scalar(vias, v, k)
    if np.isnan(vbw).any() or not (np.isfinite(vdl).all() and np.isfinite(vjt).all()) or (vint < 0).any() or (vint[:, 0] >= 2**40).any():
        return _combine_scalar(vias, v, k)
    nv = len(vias)
    E, J = va.idx.shape
    ys = va.pwr[va.idx]  # (E, J)
    S = (xs[None, :, None] + ys[:, None, :]).reshape(E, nv * J)
    kk = min(k, nv * J)
    if kk <= 0:
        return ()
    order = np.argsort(S, axis=1, kind="stable")[:, :kk]
    cnt = np.minimum(kk, nv * va.count)
    valid = np.arange(kk)[None, :] < cnt[:, None]
    flat = order[valid]
    row = np.repeat(np.arange(E), cnt)
    i, j = np.divmod(flat, J)
    pos = va.idx[row, j]
    sums = xs[i] + va.pwr[pos]
    if not np.isfinite(sums).all():
        return _combine_scalar(vias, v, k)
    pwr = np.minimum(sums, metric.FLT_MAX)
    srt = np.lexsort((va.rank[row], pwr))  # stable: (PWR, endpoint), then walk order
    i, pos, row, pwr = i[srt], pos[srt], row[srt], pwr[srt]
    bw = np.minimum(np.minimum(vbw[i], va.bw[pos]), metric.FLT_MAX)
    te = np.minimum(vint[i, 0] + va.te[pos], 0xFFFFFFFF)
    hops = np.minimum(vint[i, 1] + va.hops[pos], 0xFFFF)
    admin = (vint[i, 2] | va.admin[pos]) & 0xFFFFFFFF
    delay = np.rint(np.minimum(vdl[i] + va.delay[pos], float(0xFFFFFFFF))).astype(np.int64)  # rint: round half even, as round()
    jitter = np.rint(np.minimum(vjt[i] + va.jitter[pos], float(JITTER_MAX))).astype(np.int64)
    eps = va.eps
    return tuple(
        _path_infos([eps[r] for r in row.tolist()], pwr.tolist(), bw.tolist(), te.tolist(), hops.tolist(), admin.tolist(), delay.tolist(), jitter.tolist())
    )


def _via_arrays(vias: tuple):
    """Our aggregates to an ABR as arrays, or None when the array form
    could differ from the scalar one (unsorted or non-finite figures)."""
    try:
        xs = np.array([g.pwr for g in vias], dtype=np.float64)
        vbw = np.array([g.min_bw for g in vias], dtype=np.float64)
        vint = np.array([(g.te_metric, g.hops, g.admin) for g in vias], dtype=np.int64).reshape(len(vias), 3)
        vdl = np.array([g.delay for g in vias], dtype=np.float64)
        vjt = np.array([g.jitter for g in vias], dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return None
    if not np.isfinite(xs).all() or (xs[1:] < xs[:-1]).any() or np.isnan(vbw).any():
        return None
    if not (np.isfinite(vdl).all() and np.isfinite(vjt).all()) or (vint < 0).any() or (vint[:, 0] >= 2**40).any():
        return None
    return xs, vbw, vint, vdl, vjt


def _combine_many(items: list, k: int) -> list:
    """``_combine`` for many (vias, vector) pairs at once: one numpy pass
    over every endpoint row of every vector (rows padded to the widest
    vias and vector, padding at +inf so it sorts last), then one sort by
    (vector, PWR, endpoint) and one batch of wire objects. Pairs the array
    form cannot reproduce take the scalar path."""
    out: list = [None] * len(items)
    batch = []
    arrays_ok = Aggregate.then is _THEN and Aggregate.info is _INFO
    for n, (vias, v) in enumerate(items):
        if not vias or not v.paths:
            out[n] = ()
            continue
        va = _vec_arrays(v) if arrays_ok else None
        via = _via_arrays(vias) if va is not None and va.ok else None
        if via is None:
            out[n] = _combine_scalar(vias, v, k)
        else:
            batch.append((n, va, via))
    if not batch or k <= 0:
        for n, _, _ in batch:
            out[n] = ()
        return out
    NV = max(len(via[0]) for _, _, via in batch)
    J = max(va.idx.shape[1] for _, va, _ in batch)
    rows = sum(va.idx.shape[0] for _, va, _ in batch)
    X = np.full((rows, NV), np.inf)
    Y = np.full((rows, J), np.inf)
    P = np.full((rows, J), -1, dtype=np.intp)  # global entry positions
    nv_row = np.empty(rows, dtype=np.intp)
    cnt_row = np.empty(rows, dtype=np.intp)
    vrow = np.empty(rows, dtype=np.intp)  # which batch item
    rank_row = np.empty(rows, dtype=np.intp)
    ep_row: list = []
    fields = {f: [] for f in ("pwr", "bw", "te", "hops", "admin", "delay", "jitter")}
    vfields = {f: [] for f in ("bw", "int", "dl", "jt")}
    via_base = np.empty(len(batch), dtype=np.intp)
    r = base = vb = 0
    for b, (_, va, via) in enumerate(batch):
        E, Jv = va.idx.shape
        nv = len(via[0])
        X[r : r + E, :nv] = via[0]
        Y[r : r + E, :Jv] = va.pwr[va.idx]
        P[r : r + E, :Jv] = va.idx + base
        nv_row[r : r + E] = nv
        cnt_row[r : r + E] = va.count
        vrow[r : r + E] = b
        rank_row[r : r + E] = va.rank
        ep_row += va.eps
        for f in fields:
            fields[f].append(getattr(va, f))
        vfields["bw"].append(via[1])
        vfields["int"].append(via[2])
        vfields["dl"].append(via[3])
        vfields["jt"].append(via[4])
        via_base[b] = vb
        r += E
        base += len(va.pwr)
        vb += nv
    F = {f: np.concatenate(x) for f, x in fields.items()}
    vbw, vint, vdl, vjt = (np.concatenate(vfields[f]) for f in ("bw", "int", "dl", "jt"))
    vxs = np.concatenate([via[0] for _, _, via in batch])
    S = (X[:, :, None] + Y[:, None, :]).reshape(rows, NV * J)
    kk = min(k, NV * J)
    order = np.argsort(S, axis=1, kind="stable")[:, :kk]
    cnt = np.minimum(k, nv_row * cnt_row)
    valid = np.arange(kk)[None, :] < cnt[:, None]
    flat = order[valid]
    row = np.repeat(np.arange(rows), cnt)
    i, j = np.divmod(flat, J)
    pos = P[row, j]
    gi = via_base[vrow[row]] + i  # global via index
    sums = vxs[gi] + F["pwr"][pos]
    if not np.isfinite(sums).all() or (pos < 0).any() or (i >= nv_row[row]).any():  # padding chosen: cannot be, but never guess
        for n, _, _ in batch:
            out[n] = _combine_scalar(items[n][0], items[n][1], k)
        return out
    pwr = np.minimum(sums, metric.FLT_MAX)
    item = vrow[row]
    srt = np.lexsort((rank_row[row], pwr, item))  # stable: per vector by (PWR, endpoint), then walk order
    gi, pos, row, pwr, item = gi[srt], pos[srt], row[srt], pwr[srt], item[srt]
    bw = np.minimum(np.minimum(vbw[gi], F["bw"][pos]), metric.FLT_MAX)
    te = np.minimum(vint[gi, 0] + F["te"][pos], 0xFFFFFFFF)
    hops = np.minimum(vint[gi, 1] + F["hops"][pos], 0xFFFF)
    admin = (vint[gi, 2] | F["admin"][pos]) & 0xFFFFFFFF
    delay = np.rint(np.minimum(vdl[gi] + F["delay"][pos], float(0xFFFFFFFF))).astype(np.int64)  # rint: round half even, as round()
    jitter = np.rint(np.minimum(vjt[gi] + F["jitter"][pos], float(JITTER_MAX))).astype(np.int64)
    infos = _path_infos(
        [ep_row[x] for x in row.tolist()], pwr.tolist(), bw.tolist(), te.tolist(), hops.tolist(), admin.tolist(), delay.tolist(), jitter.tolist()
    )
    ends = np.searchsorted(item, np.arange(len(batch) + 1)).tolist()
    for b, (n, _, _) in enumerate(batch):
        out[n] = tuple(infos[ends[b] : ends[b + 1]])
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


def _diff(old: dict, new: dict) -> tuple[set, bool]:
    """Edges that got worse or vanished, and whether any got better or
    appeared (then any path may now be beaten by a new one)."""
    worse, better = set(), False
    for e, st in old.items():
        n = new.get(e)
        if n is None:
            worse.add(e)
        elif n != st:
            if n[0] > st[0] or (n[1] or 0) < (st[1] or 0) or n[2] != st[2] or (n[3] or 0) > (st[3] or 0) or n[4] != st[4] or (n[5] or 0) > (st[5] or 0):
                worse.add(e)
            if n[0] < st[0] or (n[1] or 0) > (st[1] or 0) or (n[3] or 0) < (st[3] or 0) or (n[5] or 0) < (st[5] or 0):
                better = True
    if any(e not in old for e in new):
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
        self.stats = {"targets_searched": 0, "full_area_searches": 0, "compiles": 0, "in_place_updates": 0}

    def _table(self, area: str, G, targets: list) -> dict:
        st = self.areas.get(area)
        gi = _info(G)
        edges, nodes = gi.edges, gi.nodes
        tset = set(targets)
        if st is not None and st["G"] is G:  # the same graph: nothing changed
            keep = {t: ps for t, ps in st["table"].items() if t in tset}
            todo = [t for t in targets if t not in keep]
        elif st is None:
            todo, keep = list(targets), {}
            self.stats["full_area_searches"] += 1
        else:
            worse, better = _diff(st["edges"], edges)
            if better:
                todo, keep = list(targets), {}
                self.stats["full_area_searches"] += 1
            else:
                keep = {t: ps for t, ps in st["table"].items() if t in tset and not any(e in worse for _, p in ps for e in p.edges)}
                todo = [t for t in targets if t not in keep]
        # the CSR form is compiled only when there is a search to run, and
        # reused (or updated in place) while the area's links stay as they were
        entry = st["cg"] if st else None
        if st is not None and not (st["G"] is G or (st["edges"] == edges and st["nodes"] == nodes)):
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
        entries = sorted(((agg.pwr, e, agg) for e in eps for agg, _ in table.get(e, [])), key=lambda x: (x[0], x[1]))
        if me:
            entries.insert(0, (0.0, self.abr, EMPTY))
        vec = wire.ReachabilityVector((self.abr,), a, _infos_of((e, agg) for _, e, agg in entries)) if entries else None
        self.local[a] = (sig, [(e, table.get(e)) for e in eps], vec)
        return vec

    def compute(self, teds: dict, learnt: dict | None = None) -> dict:
        """Same answer as ``abr_vectors``, from the previous state."""
        with _no_gc():
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
