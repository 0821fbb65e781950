"""Path info aggregates and their combination through an ABR (draft sec.
2.1.9, 2.2).

Path info holds aggregates only (sec. 2.1.9): PWR sum, minimum available
bandwidth, TE-metric sum, hop count, OR of admin groups, delay sum, and the
sum of the links' delay variation as a conservative jitter bound (RFC 7471
sec. 4.3, issue 9). ``Aggregate`` is one such figure set with its
saturating concatenation (``then``) and its wire form (``info``).

A transit vector (sec. 2.1.9: "the reachability vector advertised by ABR1
also contains the reachability vector of ABR2") combines an ABR's k paths
to ABR2 with ABR2's entries: per endpoint, the k smallest sums. This module
is that combination, kept apart from ``interarea`` (which decides what to
combine) because it is where the round's time goes (issue 10):

* ``_combine_scalar`` is the reference: a heap walk over the sum matrix,
  one ``Aggregate`` per step.
* ``_combine`` / ``_combine_many`` do the same in numpy, one pass per
  learnt vector or one for all of them (the k smallest sums by a stable
  argsort, which is the heap walk's order exactly), and build wire objects
  only for the entries that go out. Inputs the array form cannot reproduce
  bit for bit (unsorted or non-finite figures from the network) take the
  scalar path.

Wire objects: ``_path_infos`` builds the ``wire.PathInfo`` tuples of a
whole batch in one go (``PathInfo._of``), about 4x faster than one
constructor call each. ``FAST_WIRE_OBJECTS = False`` (set on this module)
gives the plain constructor.
"""

from __future__ import annotations

import dataclasses
import gc
import heapq
import math
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain

import numpy as np

from pyfrr_pwr.model import metric
from pyfrr_pwr.proto import wire

__all__ = ["Aggregate", "EMPTY", "aggregate", "FAST_WIRE_OBJECTS", "JITTER_MAX"]


# -- wire objects, built fast ------------------------------------------------

_PI = wire.PathInfo
_PI_FIELDS = tuple(f.name for f in dataclasses.fields(_PI))
_PI_BASE = ("endpoint", "pwr_sum", "min_avail_bw", "te_metric_sum", "hop_count", "admin_groups", "delay_us", "jitter_us")
JITTER_MAX = 0xFFFF  # the wire's 16-bit jitter field saturates here (65.535 ms)
FAST_WIRE_OBJECTS = True  # see the module docstring
# the batch constructor applies while PathInfo is the tuple record of these fields
_FAST_PI = _PI_FIELDS == _PI_BASE and issubclass(_PI, tuple) and hasattr(_PI, "_of")


def _path_infos(eps, pwr, bw, te, hops, admin, delay, jitter) -> list:
    """wire.PathInfo objects from parallel lists (already in range), in one
    batch (``PathInfo._of``: the same objects as the constructor's, which
    matters at 10^5-10^6 entries per round, issue 10)."""
    if not (_FAST_PI and FAST_WIRE_OBJECTS):
        return [_PI(*r) for r in zip(eps, pwr, bw, te, hops, admin, delay, jitter)]
    return _PI._of(eps, pwr, bw, te, hops, admin, delay, jitter)


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


@dataclass(frozen=True, slots=True)  # slots: one object, not two, for the cyclic collector to walk (issue 10)
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


def _wire_rows(rows: list) -> tuple | None:
    """([PathInfo], [PWR sum]) of (endpoint, aggregate) rows in their
    order, in one array pass, the wire form being what ``Aggregate.info``
    gives (every field saturated into its range) and the PWR sum the
    aggregate's own (what the entries are sorted by). None when the array
    form could differ from the reference (``Aggregate.info`` replaced,
    figures of other types or ranges): then the caller converts one by
    one."""
    if Aggregate.info is not _INFO:
        return None
    if not rows:
        return [], []
    try:
        pwr = [g.pwr for _, g in rows]
        bw = [g.min_bw for _, g in rows]
        ints = [(g.te_metric, g.hops, g.admin) for _, g in rows]
        dl = [g.delay for _, g in rows]
        jt = [g.jitter for _, g in rows]
    except AttributeError:
        return None
    if not set(map(type, pwr + bw + dl + jt)) <= {float} or not set(map(type, chain.from_iterable(ints))) <= {int}:
        return None
    try:
        I = np.array(ints, dtype=np.int64).reshape(len(rows), 3)
    except OverflowError:
        return None
    if (I < 0).any() or (I >= 2**40).any():
        return None
    P, B, D, J = (np.array(c, dtype=np.float64) for c in (pwr, bw, dl, jt))
    if np.isnan(P).any() or np.isnan(B).any() or not (np.isfinite(D).all() and np.isfinite(J).all()):
        return None
    FM = metric.FLT_MAX
    infos = _path_infos(
        [e for e, _ in rows],
        np.where(FM < P, FM, P).tolist(),  # min(x, FLT_MAX): x unless FLT_MAX is smaller
        np.where(FM < B, FM, B).tolist(),
        np.minimum(I[:, 0], 0xFFFFFFFF).tolist(),
        np.minimum(I[:, 1], 0xFFFF).tolist(),
        (I[:, 2] & 0xFFFFFFFF).tolist(),
        np.rint(np.minimum(D, float(0xFFFFFFFF))).astype(np.int64).tolist(),  # rint: round half even, as round()
        np.rint(np.minimum(J, float(JITTER_MAX))).astype(np.int64).tolist(),
    )
    return infos, pwr


def _merge_local(head: list, parts: list) -> tuple:
    """A local vector's entries: ``head`` PathInfos first as they are, then
    those of ``parts`` ([(PathInfos, PWR sums)] per endpoint, the
    endpoints in sorted order) sorted stably by (PWR, endpoint), as
    ``sorted`` with that key would (ties keep each endpoint's order)."""
    flat = [i for infos, _ in parts for i in infos]
    if not flat:
        return tuple(head)
    P = np.array([p for _, pw in parts for p in pw], dtype=np.float64)
    rank = np.repeat(np.arange(len(parts)), [len(pw) for _, pw in parts])
    return tuple(head + [flat[i] for i in np.lexsort((rank, P)).tolist()])


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


def _aggregates_many(gi, paths: list) -> list:
    """``_aggregates`` of many paths of one graph (its ``_GraphInfo``) at
    once: the arcs' figures gathered hop by hop into arrays and summed in
    path order, so every sum is the scalar loop's to the bit (``x + 0.0``
    pads shorter paths; the minimum keeps the earlier figure on ties, as
    ``min`` does). The scalar loop runs when the figures' types would make
    the array sums differ (``_GraphInfo.arrays``)."""
    arrs = gi.arrays() if len(paths) > 8 else None
    if arrs is None:
        attrs = gi.attrs
        return [_aggregates(attrs, p) for p in paths]
    eidx, W, BW, TE, AD, DL, JT = arrs
    lens = [len(p.edges) for p in paths]
    L = max(lens, default=0)
    idx = np.full((len(paths), L), len(W) - 1, dtype=np.intp)  # the neutral arc
    idx[np.arange(L)[None, :] < np.array(lens)[:, None]] = [eidx[e] for p in paths for e in p.edges]
    n = len(paths)
    pwr, dl, jt = np.zeros(n), np.zeros(n), np.zeros(n)
    bw = np.full(n, math.inf)
    te, ad = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    for h in range(L):
        c = idx[:, h]
        pwr += W[c]
        b = BW[c]
        bw = np.where(b < bw, b, bw)
        te += TE[c]
        ad |= AD[c]
        dl += DL[c]
        jt += JT[c]
    return list(map(Aggregate, pwr.tolist(), bw.tolist(), te.tolist(), lens, ad.tolist(), dl.tolist(), jt.tolist()))


# -- transit entries: our k paths to an ABR, then its vector's entries ------


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

    __slots__ = ("vec", "eps", "rank", "idx", "count", "pwr", "bw", "te", "hops", "admin", "delay", "jitter", "ok", "Y")

    def __init__(self, v: wire.ReachabilityVector):
        self.vec = v
        self.ok = False
        paths = v.paths
        n = len(paths)
        if _FAST_PI and all(type(p) is _PI for p in paths):  # tuple records: the columns in one go
            cols = list(zip(*paths)) if n else [()] * 8
        else:
            cols = None
        groups: dict = {}
        for pos, e in enumerate(cols[0] if cols is not None else (p.endpoint for p in paths)):
            groups.setdefault(e, []).append(pos)
        self.eps = list(groups)
        if not n:
            return
        try:
            if cols is None:
                cols = [
                    None,
                    [p.pwr_sum for p in paths],
                    [p.min_avail_bw for p in paths],
                    [p.te_metric_sum for p in paths],
                    [p.hop_count for p in paths],
                    [p.admin_groups for p in paths],
                    [p.delay_us for p in paths],
                    [getattr(p, "jitter_us", 0) for p in paths],
                ]
            _, pw, bwc, te, hp, ad, dl, jt = cols
            pwr = np.array([*pw, math.inf], dtype=np.float64)
            bw = np.array([*bwc, 0.0], dtype=np.float64)
            ints = np.array([te, hp, ad, dl], dtype=np.int64).T
            jitter = np.array([*(float(x or 0) for x in jt), 0.0], dtype=np.float64)
            exact = all(type(x) is int for c in (te, hp, ad, dl) for x in c) and all(type(x) is float for c in (pw, bwc) for x in c)
        except (TypeError, ValueError, OverflowError):
            return
        if not exact or (ints < 0).any() or (ints >= 2**32).any():
            return
        ints = np.concatenate([ints, np.zeros((1, 4), dtype=np.int64)])
        if not np.isfinite(pwr[:n]).all() or np.isnan(bw).any() or not np.isfinite(jitter).all():
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
        self.rank, self.idx, self.Y = rank, idx, gp
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


def _vias_arrays_many(viass: list):
    """Our aggregates to the ABRs of many vias tuples as arrays, in one
    conversion: (the concatenated arrays, or None if any conversion
    failed; per tuple whether the array form can reproduce the scalar one:
    sorted, finite figures)."""
    flat = [g for vias in viass for g in vias]
    try:
        xs = np.array([g.pwr for g in flat], dtype=np.float64)
        vbw = np.array([g.min_bw for g in flat], dtype=np.float64)
        vint = np.array([(g.te_metric, g.hops, g.admin) for g in flat], dtype=np.int64).reshape(len(flat), 3)
        vdl = np.array([g.delay for g in flat], dtype=np.float64)
        vjt = np.array([g.jitter for g in flat], dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return None, None
    lens = np.array([len(v) for v in viass], dtype=np.intp)
    owner = np.repeat(np.arange(len(viass)), lens)
    bad = ~np.isfinite(xs) | np.isnan(vbw) | ~np.isfinite(vdl) | ~np.isfinite(vjt) | (vint < 0).any(axis=1) | (vint[:, 0] >= 2**40)
    unsorted = (xs[1:] < xs[:-1]) & (owner[1:] == owner[:-1])
    ok = np.ones(len(viass), dtype=bool)
    ok[owner[bad]] = False
    ok[owner[1:][unsorted]] = False
    return (xs, vbw, vint, vdl, vjt, lens), ok.tolist()


_CELLS: dict = {}  # (NV, J, k) -> the sum-matrix cells that can be among the k smallest


def _cells(NV: int, J: int, k: int):
    """Cells (i, j) of an NV x J sum matrix, row-major, that can be among
    the k smallest in (sum, i, j) order when both lists are sorted: cell
    (i, j) comes after the (i+1)(j+1)-1 cells (i' <= i, j' <= j), so only
    (i+1)(j+1) <= k can (IEEE addition is monotonic, so this holds for the
    rounded sums too)."""
    key = (NV, J, k)
    c = _CELLS.get(key)
    if c is None:
        cells = [(i, j) for i in range(NV) for j in range(J) if (i + 1) * (j + 1) <= k]
        c = _CELLS[key] = (np.array([i for i, _ in cells], dtype=np.intp), np.array([j for _, j in cells], dtype=np.intp))
    return c


def _combine_many(items: list, k: int) -> list:
    """``_combine`` for many (vias, vector) pairs at once: one numpy pass
    over every endpoint row of every vector (rows padded to the widest
    vias and vector, padding at +inf so it sorts last), then one sort by
    (vector, PWR, endpoint) and one batch of wire objects. Only the cells
    of the sum matrix that can be among the k smallest are sorted
    (``_cells``): a stable sort of those, in row-major order, is the
    full sort's prefix. Pairs the array form cannot reproduce take the
    scalar path."""
    out: list = [None] * len(items)
    arrays_ok = Aggregate.then is _THEN and Aggregate.info is _INFO
    cand = []
    for n, (vias, v) in enumerate(items):
        if not vias or not v.paths:
            out[n] = ()
            continue
        va = _vec_arrays(v) if arrays_ok else None
        if va is None or not va.ok:
            out[n] = _combine_scalar(vias, v, k)
        else:
            cand.append((n, va, vias))
    if not cand:
        return out
    arrs, ok = _vias_arrays_many([vias for _, _, vias in cand])
    if arrs is None:  # a figure numpy cannot take: find whose, tuple by tuple
        good = []
        for n, va, vias in cand:
            if _vias_arrays_many([vias])[0] is None:
                out[n] = _combine_scalar(vias, va.vec, k)
            else:
                good.append((n, va, vias))
        cand = good
        arrs, ok = _vias_arrays_many([vias for _, _, vias in cand]) if cand else (None, None)
        if arrs is None:
            return _combine_rest(out, items, [(n, va) for n, va, _ in cand], k)
    batch = []
    for (n, va, vias), good in zip(cand, ok):
        if good:
            batch.append((n, va))
        else:
            out[n] = _combine_scalar(vias, va.vec, k)
    if not batch or k <= 0:
        for n, _ in batch:
            out[n] = ()
        return out
    if len(batch) < len(cand):  # keep the arrays of the good ones only
        keep = [i for i, good in enumerate(ok) if good]
        xs, vbw, vint, vdl, vjt, lens = arrs
        starts = np.concatenate([[0], np.cumsum(lens)])
        sel = np.concatenate([np.arange(starts[i], starts[i + 1]) for i in keep]) if keep else np.zeros(0, dtype=np.intp)
        arrs = (xs[sel], vbw[sel], vint[sel], vdl[sel], vjt[sel], lens[keep])
    vxs, vbw, vint, vdl, vjt, lens = arrs
    nb = len(batch)
    NV = int(lens.max())
    J = max(va.idx.shape[1] for _, va in batch)
    Es = np.array([va.idx.shape[0] for _, va in batch], dtype=np.intp)
    rows = int(Es.sum())
    via_base = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.intp)
    owner = np.repeat(np.arange(nb), lens)
    Vx = np.full((nb, NV), np.inf)
    Vx[owner, np.arange(len(vxs)) - via_base[owner]] = vxs
    vrow = np.repeat(np.arange(nb), Es)  # which batch item each row is
    X = Vx[vrow]
    bases = np.concatenate([[0], np.cumsum([len(va.pwr) for _, va in batch])[:-1]]).astype(np.intp)
    Yb, Pb = [], []
    for b, (_, va) in enumerate(batch):
        E, Jv = va.idx.shape
        if Jv == J:
            Yb.append(va.Y)
            Pb.append(va.idx + bases[b])
        else:
            y = np.full((E, J), np.inf)
            y[:, :Jv] = va.Y
            pp = np.full((E, J), -1, dtype=np.intp)
            pp[:, :Jv] = va.idx + bases[b]
            Yb.append(y)
            Pb.append(pp)
    Y, P = np.concatenate(Yb), np.concatenate(Pb)
    nv_row = lens[vrow]
    cnt_row = np.concatenate([va.count for _, va in batch])
    rank_row = np.concatenate([va.rank for _, va in batch])
    ep_row = np.array([e for _, va in batch for e in va.eps], dtype=object)
    F = {f: np.concatenate([getattr(va, f) for _, va in batch]) for f in ("pwr", "bw", "te", "hops", "admin", "delay", "jitter")}
    ci, cj = _cells(NV, J, k)
    S = X[:, ci] + Y[:, cj]
    kk = min(k, len(ci))
    order = np.argsort(S, axis=1, kind="stable")[:, :kk]
    cnt = np.minimum(k, nv_row * cnt_row)
    valid = np.arange(kk)[None, :] < cnt[:, None]
    flat = order[valid]
    row = np.repeat(np.arange(rows), cnt)
    i, j = ci[flat], cj[flat]
    pos = P[row, j]
    gi = via_base[vrow[row]] + i  # global via index
    if (pos < 0).any() or (i >= nv_row[row]).any():  # padding chosen: cannot be, but never guess
        return _combine_rest(out, items, batch, k)
    sums = vxs[gi] + F["pwr"][pos]
    if not np.isfinite(sums).all():
        return _combine_rest(out, items, batch, k)
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
    infos = _path_infos(ep_row[row].tolist(), pwr.tolist(), bw.tolist(), te.tolist(), hops.tolist(), admin.tolist(), delay.tolist(), jitter.tolist())
    ends = np.searchsorted(item, np.arange(nb + 1)).tolist()
    for b, (n, _) in enumerate(batch):
        out[n] = tuple(infos[ends[b] : ends[b + 1]])
    return out


def _combine_rest(out: list, items: list, batch: list, k: int) -> list:
    for n, _ in batch:
        out[n] = _combine_scalar(items[n][0], items[n][1], k)
    return out
