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
* ``_combine`` / ``_combine_many`` do the same in arrays, one pass for
  every learnt vector of a round, in the C core (csrc/pwr_transit.c: the
  heap walk keyed by (sum, i, j), then a stable sort by (PWR, endpoint)),
  and build wire objects only for the entries that go out. Inputs the
  array form cannot reproduce bit for bit (unsorted or non-finite figures
  from the network) take the scalar path.
* ``_aggregates_many``, ``_wire_rows`` and ``_merge_local`` (a local
  vector's figures, wire form and order) are C kernels of the same file.

No numpy: the kernels take flat buffers (the ``array`` module) and write
into buffers allocated here (issue 10: numpy and its BLAS were 11.6 MiB of
every ABR's RSS). A C core built without the kernels (``KERNEL`` False)
leaves every combination to the scalar reference.

Wire objects: ``_path_infos`` builds the ``wire.PathInfo`` tuples of a
whole batch in one go (``PathInfo._of``), about 4x faster than one
constructor call each. ``FAST_WIRE_OBJECTS = False`` (set on this module)
gives the plain constructor.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
from array import array
from dataclasses import dataclass
from itertools import accumulate, chain

from pyfrr_pwr._core import ffi, lib
from pyfrr_pwr.model import metric
from pyfrr_pwr.proto import wire

__all__ = ["Aggregate", "EMPTY", "aggregate", "FAST_WIRE_OBJECTS", "JITTER_MAX", "KERNEL"]


# -- the C kernels (csrc/pwr_transit.c) --------------------------------------

KERNEL = hasattr(lib, "pwr_tr_combine")  # False: a C core built without them (then the scalar reference runs)
_new = ffi.new_allocator(should_clear_after_alloc=False)  # every element is written before it is read
_buf = ffi.from_buffer
_unpack = ffi.unpack
assert array("i").itemsize == 4 and array("q").itemsize == 8 and array("d").itemsize == 8


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
    if Aggregate.info is not _INFO or not KERNEL:
        return None
    if not rows:
        return [], []
    try:
        pwr = [g.pwr for _, g in rows]
        bw = [g.min_bw for _, g in rows]
        te = [g.te_metric for _, g in rows]
        hops = [g.hops for _, g in rows]
        admin = [g.admin for _, g in rows]
        dl = [g.delay for _, g in rows]
        jt = [g.jitter for _, g in rows]
    except AttributeError:
        return None
    if not set(map(type, pwr + bw + dl + jt)) <= {float} or not set(map(type, te + hops + admin)) <= {int}:
        return None
    try:
        cols = (array("d", pwr), array("d", bw), array("q", te), array("q", hops), array("q", admin), array("d", dl), array("d", jt))
    except OverflowError:
        return None
    n = len(rows)
    o = [_new("double[]", n), _new("double[]", n)] + [_new("int64_t[]", n) for _ in range(5)]
    P, B, T, H, A, D, J = (_buf("double[]" if c.typecode == "d" else "int64_t[]", c) for c in cols)
    if not lib.pwr_tr_wire(n, P, B, T, H, A, D, J, *o):  # a NaN, a non-finite delay, a figure out of range
        return None
    return _path_infos([e for e, _ in rows], *(_unpack(x, n) for x in o)), pwr


def _merge_local(head: list, parts: list) -> tuple:
    """A local vector's entries: ``head`` PathInfos first as they are, then
    those of ``parts`` ([(PathInfos, PWR sums)] per endpoint, the
    endpoints in sorted order) sorted stably by (PWR, endpoint), as
    ``sorted`` with that key would (ties keep each endpoint's order)."""
    flat = [i for infos, _ in parts for i in infos]
    if not flat:
        return tuple(head)
    P = array("d", chain.from_iterable(pw for _, pw in parts))
    off = array("i", accumulate((len(pw) for _, pw in parts), initial=0))
    n = len(P)
    if not KERNEL:
        rank = [r for r, (_, pw) in enumerate(parts) for _ in pw]
        order = sorted(range(len(flat)), key=lambda t: (P[t], rank[t]))
    else:
        idx = _new("int32_t[]", n)
        if lib.pwr_tr_order(n, _buf("double[]", P), len(parts), _buf("int32_t[]", off), idx, _new("int32_t[]", n), _new("int32_t[]", n)) != lib.PWR_TR_OK:
            raise ValueError("pwr_tr_order: inconsistent parts")
        order = _unpack(idx, n)
    return tuple(head + list(map(flat.__getitem__, order)))


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
    once: the arcs' figures (``_GraphInfo.arrays``) summed in path order in
    the C core (``pwr_tr_aggregates``), so every sum is the scalar loop's
    to the bit (the minimum keeps the earlier figure on ties, as ``min``
    does). The scalar loop runs when the figures' types would make the
    array sums differ (``arrays`` is None then)."""
    arrs = gi.arrays() if len(paths) > 8 and KERNEL else None
    cols = _arc_columns(arrs) if arrs is not None else None
    if cols is None:
        attrs = gi.attrs
        return [_aggregates(attrs, p) for p in paths]
    eidx, narc, W, BW, TE, AD, DL, JT = cols
    lens = [len(p.edges) for p in paths]
    arcs = array("i", [eidx[e] for p in paths for e in p.edges])
    off = array("i", accumulate(lens, initial=0))
    n = len(paths)
    o = [_new("double[]", n), _new("double[]", n), _new("int64_t[]", n), _new("int64_t[]", n), _new("double[]", n), _new("double[]", n)]
    if lib.pwr_tr_aggregates(n, _buf("int32_t[]", off), _buf("int32_t[]", arcs), narc, W, BW, TE, AD, DL, JT, *o) != lib.PWR_TR_OK:
        raise ValueError("pwr_tr_aggregates: an arc index out of range")  # eidx and the columns disagree: never guess
    pwr, bw, te, ad, dl, jt = (_unpack(x, n) for x in o)
    return list(map(Aggregate, pwr, bw, te, lens, ad, dl, jt))


_F64, _I64 = frozenset("d"), frozenset("ql")  # buffer formats of 8-byte floats and signed ints ('l' is numpy's int64 here)


def _arc_columns(arrs):
    """``_GraphInfo.arrays``' columns as C buffers: (arc index by edge, arcs,
    weight, bandwidth, TE, admin, delay, delay variation); None unless every
    column is a flat buffer of the expected element type and one length
    (the array module's or numpy's: both export the buffer protocol)."""
    eidx, *cols = arrs
    try:
        views = [memoryview(c) for c in cols]
    except TypeError:
        return None
    fmts = (_F64, _F64, _I64, _I64, _F64, _F64)
    if len(views) != 6 or any(v.ndim != 1 or v.itemsize != 8 or not v.c_contiguous or v.format.lstrip("@=<") not in f for v, f in zip(views, fmts)):
        return None
    narc = len(views[0])
    if any(len(v) != narc for v in views) or narc >= 2**31:
        return None
    return (eidx, narc, *(_buf("double[]" if f is _F64 else "int64_t[]", c) for c, f in zip(cols, fmts)))


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
    """A learnt vector's entries as C buffers (``pwr_tr_vec``), grouped by
    endpoint (first appearance order). ``ok`` is False when the array form
    could differ from the scalar one (an endpoint's entries not sorted by
    PWR, non-finite or out-of-range figures, ``pwr_tr_vec_check``): then
    ``_combine_scalar`` runs."""

    __slots__ = ("vec", "eps", "ok", "c", "_keep")

    def __init__(self, v: wire.ReachabilityVector):
        self.vec, self.ok, self.c, self._keep = v, False, None, None
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
        if not n or not KERNEL:
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
            if not (all(type(x) is int for c in (te, hp, ad, dl) for x in c) and all(type(x) is float for c in (pw, bwc) for x in c)):
                return
            fl = (array("d", pw), array("d", bwc), array("d", [float(x or 0) for x in jt]))
            ints = tuple(array("q", c) for c in (te, hp, ad, dl))
        except (TypeError, ValueError, OverflowError):
            return
        E = len(self.eps)
        rank = array("i", bytes(4 * E))
        for r, g in enumerate(sorted(range(E), key=self.eps.__getitem__)):
            rank[g] = r
        ibufs = [
            _buf("int32_t[]", x) for x in (array("i", accumulate(map(len, groups.values()), initial=0)), array("i", chain.from_iterable(groups.values())), rank)
        ]
        fbufs = [_buf("double[]", x) for x in fl]
        qbufs = [_buf("int64_t[]", x) for x in ints]
        c = ffi.new("pwr_tr_vec *")
        c.n, c.ne = n, E
        c.gstart, c.gpos, c.rank = ibufs
        c.pwr, c.bw, c.jitter = fbufs
        c.te, c.hops, c.admin, c.delay = qbufs
        self.c, self._keep = c, (ibufs, fbufs, qbufs)  # the buffers live as long as the struct that points at them
        self.ok = lib.pwr_tr_vec_check(c) == 1


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
    """``_combine_scalar`` in arrays, equal to it entry for entry (one
    pair of ``_combine_many``)."""
    return _combine_many([(vias, v)], k)[0]


def _vias_arrays(viass: list):
    """Our aggregates to the ABRs of many vias tuples as one ``pwr_tr_vias``
    (with the buffers it points at), or None when a figure does not
    convert (not a number, an int beyond 64 bits); which figures the array
    form takes (finite, sorted) the C core checks per tuple."""
    flat = [g for vias in viass for g in vias]
    try:
        fl = [
            array("d", [g.pwr for g in flat]),
            array("d", [g.min_bw for g in flat]),
            array("d", [g.delay for g in flat]),
            array("d", [g.jitter for g in flat]),
        ]
        ints = [array("q", [g.te_metric for g in flat]), array("q", [g.hops for g in flat]), array("q", [g.admin for g in flat])]
    except (TypeError, ValueError, OverflowError):
        return None
    V = ffi.new("pwr_tr_vias *")
    keep = [_buf("double[]", x) for x in fl] + [_buf("int64_t[]", x) for x in ints]
    V.n = len(flat)
    V.pwr, V.bw, V.delay, V.jitter, V.te, V.hops, V.admin = keep
    return V, keep


_K_MAX = 2**31 - 1  # k is an int32_t in C; no endpoint has that many entries to combine


def _combine_many(items: list, k: int) -> list:
    """``_combine`` for many (vias, vector) pairs at once: one C call
    (``pwr_tr_combine``) over every endpoint of every vector, then one
    batch of wire objects. Pairs the array form cannot reproduce take the
    scalar path (the C core says which)."""
    out: list = [None] * len(items)
    arrays_ok = Aggregate.then is _THEN and Aggregate.info is _INFO and KERNEL
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
    if k <= 0:  # no entries at all (as the heap walk takes none)
        for n, _, _ in cand:
            out[n] = ()
        return out
    conv = _vias_arrays([vias for _, _, vias in cand])
    if conv is None:  # a figure that does not convert: find whose, tuple by tuple
        good = []
        for n, va, vias in cand:
            if _vias_arrays([vias]) is None:
                out[n] = _combine_scalar(vias, va.vec, k)
            else:
                good.append((n, va, vias))
        cand = good
        conv = _vias_arrays([vias for _, _, vias in cand]) if cand else None
        if conv is None:
            return _combine_rest(out, items, cand, k)
    V = conv[0]
    nb, kk = len(cand), min(k, _K_MAX)
    vecs = ffi.new("pwr_tr_vec *[]", [va.c for _, va, _ in cand])
    via_off = _buf("int32_t[]", array("i", accumulate((len(vias) for _, _, vias in cand), initial=0)))
    sz = ffi.new("int64_t[3]")
    if lib.pwr_tr_combine_size(nb, vecs, via_off, V.n, kk, sz, sz + 1, sz + 2) != lib.PWR_TR_OK:
        return _combine_rest(out, items, cand, k)
    total, nd, ni = sz[0], sz[1], sz[2]
    o = ffi.new("pwr_tr_out *")
    bufs = [_new("int32_t[]", total), _new("double[]", total), _new("double[]", total)] + [_new("int64_t[]", total) for _ in range(5)]
    o.cap = total
    o.row, o.pwr, o.bw, o.te, o.hops, o.admin, o.delay, o.jitter = bufs
    ws = ffi.new("pwr_tr_ws *")
    wd, wi = _new("double[]", nd), _new("int32_t[]", ni)
    ws.d, ws.nd, ws.i, ws.ni = wd, nd, wi, ni
    status, out_off = _new("int32_t[]", nb), _new("int32_t[]", nb + 1)
    if lib.pwr_tr_combine(nb, vecs, via_off, V, kk, status, out_off, o, ws) != lib.PWR_TR_OK:
        return _combine_rest(out, items, cand, k)  # cannot be (sizes from the same call): never guess
    T = out_off[nb]
    ep_row = list(chain.from_iterable(va.eps for _, va, _ in cand))
    row, *figs = (_unpack(x, T) for x in bufs)
    infos = _path_infos(list(map(ep_row.__getitem__, row)), *figs)
    ends, st, ARRAY = _unpack(out_off, nb + 1), _unpack(status, nb), lib.PWR_TR_ARRAY
    if lib.PWR_TR_SUMS in st:  # a sum not finite: the whole batch takes the scalar walk, as the numpy form did (same signed zeros)
        return _combine_rest(out, items, cand, k)
    for b, (n, va, vias) in enumerate(cand):
        out[n] = tuple(infos[ends[b] : ends[b + 1]]) if st[b] == ARRAY else _combine_scalar(vias, va.vec, k)
    return out


def _combine_rest(out: list, items: list, batch: list, k: int) -> list:
    for n, *_ in batch:
        out[n] = _combine_scalar(items[n][0], items[n][1], k)
    return out
