"""The C transit kernels (csrc/pwr_transit.c, issue 10: paths.transit
without numpy) against a frozen copy of the numpy implementation they
replace, bit for bit, on random input (hypothesis): ties, signed zeros,
saturation at the wire's ranges, sums that overflow, hostile (unsorted,
NaN, out-of-range) figures that must take the scalar path.

Where numpy's result was undefined or wrapped (an int64 overflow of a
hop sum, a delay rounded outside int64) the reference is not numpy but the
scalar heap walk (``_combine_scalar``, ``Aggregate.info``): those cases
are tested against it, outside the random domain of the numpy comparison.

The reference below is paths/transit.py's numpy code as it was before the
kernels (``_wire_rows``, ``_merge_local``, ``_aggregates_many``,
``_VecArrays`` .. ``_combine_rest``), copied unchanged; what it shares with
the module (``Aggregate``, ``_combine_scalar``, ``_path_infos``) is the
module's.
"""

import dataclasses
import math
import struct
import subprocess
import sys
from array import array
from itertools import chain

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyfrr_pwr._core import ffi, lib
from pyfrr_pwr.model import metric
from pyfrr_pwr.paths import transit
from pyfrr_pwr.paths.transit import _FAST_PI, _INFO, _PI, _THEN, JITTER_MAX, Aggregate, _aggregates, _combine_scalar, _path_infos
from pyfrr_pwr.proto import wire

pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # the reference's sums that overflow, on purpose

# ---------------------------------------------------------------- the reference (numpy), frozen


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


def _ref_arc_arrays(attrs: dict):
    """graphcache._arc_arrays as it was (numpy), for the reference."""
    cols = list(zip(*attrs.values())) if attrs else [()] * 6
    w, bw, te, ad, dl, jt = cols
    f = np.float64
    return (
        {e: i for i, e in enumerate(attrs)},
        np.array(w + (0.0,), dtype=f),
        np.array(bw + (math.inf,), dtype=f),
        np.array(te + (0,), dtype=np.int64),
        np.array(ad + (0,), dtype=np.int64),
        np.array(dl + (0.0,), dtype=f),
        np.array(jt + (0.0,), dtype=f),
    )


# ---------------------------------------------------------------- exact comparison


def _exact(x):
    """x as nested tuples that compare equal only when every float has the
    same bits (signed zeros, NaN payloads) and every value the same type."""
    if type(x) is float:
        return ("float", struct.pack("<d", x))
    if isinstance(x, (str, int)) or x is None:
        return (type(x).__name__, x)
    if isinstance(x, Aggregate):
        return ("Aggregate", tuple(_exact(getattr(x, f.name)) for f in dataclasses.fields(x)))
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, tuple(_exact(e) for e in x))
    raise TypeError(type(x))


def _outcome(f, *args):
    """f(*args) exactly (``_exact``), or the type of what it raised (the
    scalar reference raises on some hostile figures: round() of an
    infinite delay; both forms must then raise alike)."""
    try:
        return _exact(f(*args))
    except (ValueError, OverflowError, TypeError) as e:
        return ("raised", type(e))


# ---------------------------------------------------------------- random input

FM = metric.FLT_MAX
EPS = [f"10.9.0.{i}" for i in range(7)]
# few distinct figures: ties everywhere; FM, 1e308: saturation and sums that overflow
PWR = [0.0, -0.0, 0.5, 1.0, 1.0, 2.0, 3.0, -1.0, FM / 2, FM, 1e308, 5e-324]
BW = [1e8, 1e9, math.inf, 0.0, -0.0, FM, 5e38, 1.5]
DELAY = [0.0, -0.0, 0.5, 1.5, 2.5, -0.5, -1.5, 4e9, 4294967295.5, 1e300]
JITTER = [0.0, -0.0, 0.5, 1.5, 2.5, 65534.5, 65535.5, 70000.0, -2.5]


def _pick(pool, other):
    return st.one_of(st.sampled_from(pool), other)


finite = st.floats(allow_nan=False, allow_infinity=False)
rare_bad = st.sampled_from([math.nan, math.inf, -math.inf])


@st.composite
def vias_st(draw):
    n = draw(st.integers(0, 7))
    bad = draw(st.integers(0, 4)) == 0  # sometimes a figure the array form must refuse
    out = []
    for _ in range(n):
        out.append(
            Aggregate(
                draw(_pick(PWR, finite)),
                draw(_pick(BW, st.floats(allow_nan=False))),
                draw(st.one_of(st.sampled_from([0, 1, 0x7FFFFFFF, 0xFFFFFFFF, 2**40 - 1]), st.integers(0, 2**40 - 1))),
                draw(st.one_of(st.sampled_from([0, 1, 0x9000, 0xFFFF]), st.integers(0, 2**62))),  # numpy wrapped at 2^63
                draw(st.integers(0, 2**63 - 1)),
                draw(_pick(DELAY, st.floats(-(2.0**62), 1e300))),  # numpy's int64 cast was undefined below -2^63
                draw(_pick(JITTER, st.floats(-(2.0**62), 1e300))),
            )
        )
    if bad and out:
        i = draw(st.integers(0, n - 1))
        field = draw(st.sampled_from(["pwr", "min_bw", "delay", "jitter", "te_metric", "hops"]))
        val = {"te_metric": draw(st.sampled_from([-1, 2**40, 2**63 - 1])), "hops": -1}.get(field)
        out[i] = dataclasses.replace(out[i], **{field: draw(rare_bad) if val is None else val})
    if draw(st.integers(0, 9)):  # mostly sorted, as the ABR's KSP gives them
        out.sort(key=lambda g: g.pwr)
    return tuple(out)


@st.composite
def vector_st(draw):
    eps = draw(st.lists(st.sampled_from(EPS), min_size=0, max_size=5, unique=True))
    paths = []
    for e in eps:
        for _ in range(draw(st.integers(1, 9))):
            paths.append(
                wire.PathInfo(
                    e,
                    draw(_pick(PWR, finite)),
                    draw(_pick(BW, st.floats(allow_nan=False))),
                    draw(st.one_of(st.sampled_from([0, 0xFFFFFFFF]), st.integers(0, 0xFFFFFFFF))),
                    draw(st.one_of(st.sampled_from([0, 0xFFFF]), st.integers(0, 0xFFFF))),
                    draw(st.integers(0, 0xFFFFFFFF)),
                    draw(st.integers(0, 0xFFFFFFFF)),
                    draw(st.integers(0, 0xFFFF)),
                )
            )
    how = draw(st.integers(0, 19))
    if how == 0 and paths:  # hostile: an out-of-range or non-finite figure
        i = draw(st.integers(0, len(paths) - 1))
        j = draw(st.sampled_from([1, 2, 3, 4, 6, 7]))
        bad = {1: draw(rare_bad), 2: math.nan, 3: 2**32, 4: -1, 6: 2**32, 7: math.inf}[j]
        p = list(paths[i])
        p[j] = bad
        paths[i] = wire.PathInfo(*p)
    if how != 1:  # as ABRs order them; else left in endpoint order (each endpoint's entries unsorted)
        paths.sort(key=lambda p: (p.pwr_sum, p.endpoint))
    if how == 2:
        paths = draw(st.permutations(paths))
    return wire.ReachabilityVector(("1.1.1.1",), "0.0.0.2", tuple(paths))


K = st.one_of(st.sampled_from([1, 2, 3, 4, 8, 64]), st.integers(-1, 20))


# ---------------------------------------------------------------- the kernels are there


def test_the_c_core_has_the_transit_kernels():
    """paths.transit runs its array forms in the C core; a core built
    without pwr_transit.c would leave every combination to the scalar
    walk (correct, but the round's time again: issue 10)."""
    assert transit.KERNEL and hasattr(lib, "pwr_tr_combine")


def test_importing_transit_and_interarea_does_not_import_numpy():
    """issue 10: numpy (11.6 MiB with OpenBLAS) kept ABR agents above
    40 MiB; a fresh interpreter that imports them has no numpy."""
    code = "import sys, pyfrr_pwr.paths.transit, pyfrr_pwr.paths.interarea; print('numpy' in sys.modules, pyfrr_pwr.paths.transit.KERNEL)"
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, check=True, env=None).stdout.split()
    assert out == ["False", "True"]


def test_an_ordinary_batch_is_combined_in_c(monkeypatch):
    """Sorted, finite figures: no pair falls back to the scalar walk."""
    vias = (Aggregate(1.0, 1e9, 1, 1, 1, 10.0, 1.0), Aggregate(2.0, 1e8, 2, 2, 2, 20.0, 2.0))
    v = wire.ReachabilityVector(("1.1.1.1",), "0.0.0.2", tuple(wire.PathInfo(e, float(i), 1e9, 1, 1, 0, 5, 1) for e in EPS[:3] for i in range(3)))
    want = _combine_scalar(vias, v, 4)

    def boom(*a):
        raise AssertionError("took the scalar path")

    monkeypatch.setattr(transit, "_combine_scalar", boom)
    assert transit._combine_many([(vias, v), (vias, v)], 4) == [want, want]
    assert len(want) == 12


# ---------------------------------------------------------------- against the numpy reference


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(vias_st(), vector_st()), min_size=1, max_size=6), K)
def test_combine_many_equals_the_numpy_reference(items, k):
    assert _outcome(transit._combine_many, items, k) == _outcome(_combine_many, items, k)
    for vias, v in items:
        assert _outcome(transit._combine, vias, v, k) == _outcome(_combine, vias, v, k)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(vias_st(), vector_st()), min_size=1, max_size=4), st.sampled_from([1, 3, 8]))
def test_combine_many_equals_the_scalar_walk(items, k):
    """The other reference: the heap walk (where the numpy form wrapped or
    was undefined, this is the one the kernels follow)."""
    got = _outcome(transit._combine_many, items, k)
    want = _outcome(lambda: [_combine_scalar(vias, v, k) if vias else () for vias, v in items])
    if got != want:  # the signed zeros of a minimum may differ (numpy's order, which the kernels keep): equal as values
        assert transit._combine_many(items, k) == [_combine_scalar(vias, v, k) if vias else () for vias, v in items]


class _GI:
    """A graphcache._GraphInfo's face for _aggregates_many."""

    def __init__(self, attrs, arrays):
        self.attrs, self._a = attrs, arrays

    def arrays(self):
        return self._a


def _as_array_module(arrs):
    """The arrays graphcache builds without numpy (array module)."""
    eidx, *cols = arrs
    return (eidx, *(array("q" if c.dtype == np.int64 else "d", c.tolist()) for c in cols))


@st.composite
def arcs_st(draw):
    m = draw(st.integers(1, 12))
    fl = st.one_of(st.sampled_from([0.0, -0.0, 0.5, 1.0, 1e308, FM, math.inf, -1.0]), st.floats())  # NaN too: the sums carry it
    bw = st.sampled_from([0.0, -0.0, 1e9, math.inf]) if draw(st.booleans()) else fl  # signed zeros: which one a minimum keeps
    attrs = {}
    for i in range(m):
        attrs[("a", "b", i)] = (draw(fl), draw(bw), draw(st.integers(0, 2**40 - 1)), draw(st.integers(0, 2**40 - 1)), draw(fl), draw(fl))
    return attrs


class _P:
    __slots__ = ("edges",)

    def __init__(self, edges):
        self.edges = edges


@settings(max_examples=300, deadline=None)
@given(arcs_st(), st.data())
def test_aggregates_many_equals_the_numpy_reference(attrs, data):
    keys = list(attrs)
    paths = data.draw(st.lists(st.lists(st.sampled_from(keys), max_size=9).map(_P), max_size=30))
    ref = _ref_arc_arrays(attrs)
    want = _aggregates_many(_GI(attrs, ref), paths)
    assert _exact(transit._aggregates_many(_GI(attrs, ref), paths)) == _exact(want)  # numpy's arrays, as graphcache gives them today
    assert _exact(transit._aggregates_many(_GI(attrs, _as_array_module(ref)), paths)) == _exact(want)  # the array module's
    assert _exact(want) == _exact([_aggregates(attrs, p) for p in paths])  # and the scalar loop's


def test_aggregates_many_refuses_columns_it_cannot_read():
    attrs = {("a", "b", i): (1.0, 2.0, 3, 4, 5.0, 6.0) for i in range(3)}
    paths = [_P(list(attrs)) for _ in range(10)]
    want = [_aggregates(attrs, p) for p in paths]
    eidx, *cols = _as_array_module(_ref_arc_arrays(attrs))
    for bad in (
        (eidx, *cols[:2], array("d", cols[2]), *cols[3:]),  # TE as floats
        (eidx, cols[0][:-1], *cols[1:]),  # one column shorter
        (eidx, *cols[:5], [0.0] * 4),  # not a buffer
    ):
        assert transit._aggregates_many(_GI(attrs, bad), paths) == want  # the scalar loop
    with pytest.raises(ValueError, match="out of range"):  # an index the columns do not have: never read past them
        transit._aggregates_many(_GI(attrs, ({**eidx, ("a", "b", 0): 99}, *cols)), paths)


@st.composite
def rows_st(draw):
    n = draw(st.integers(0, 12))
    rows = []
    for _ in range(n):
        g = Aggregate(
            draw(_pick(PWR + [math.inf, -math.inf, 4e38], finite)),
            draw(_pick(BW, st.floats(allow_nan=False))),
            draw(st.integers(0, 2**40 - 1)),
            draw(st.one_of(st.sampled_from([0, 0xFFFF, 0x10000]), st.integers(0, 2**40 - 1))),
            draw(st.integers(0, 2**40 - 1)),
            draw(_pick(DELAY, st.floats(-(2.0**62), 1e300))),
            draw(_pick(JITTER, st.floats(-(2.0**62), 1e300))),
        )
        rows.append((draw(st.sampled_from(EPS)), g))
    if rows and draw(st.integers(0, 4)) == 0:  # what the array form refuses
        i = draw(st.integers(0, n - 1))
        field, val = draw(
            st.sampled_from(
                [
                    ("pwr", math.nan),
                    ("min_bw", math.nan),
                    ("delay", math.inf),
                    ("jitter", math.nan),
                    ("te_metric", 2**40),
                    ("hops", -1),
                    ("admin", 2**64),
                    ("pwr", 1),
                ]
            )
        )
        rows[i] = (rows[i][0], dataclasses.replace(rows[i][1], **{field: val}))
    return rows


@settings(max_examples=300, deadline=None)
@given(rows_st())
def test_wire_rows_equals_the_numpy_reference(rows):
    assert _outcome(transit._wire_rows, rows) == _outcome(_wire_rows, rows)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(st.one_of(st.sampled_from([0.0, -0.0, 1.0, 2.0, math.inf, -math.inf, math.nan]), st.floats()), max_size=6), max_size=6), st.integers(0, 2)
)
def test_merge_local_equals_the_numpy_reference(pws, nhead):
    parts = [([f"{p}.{j}" for j in range(len(pw))], pw) for p, pw in enumerate(pws)]
    head = [f"head{i}" for i in range(nhead)]
    assert transit._merge_local(head, parts) == _merge_local(head, parts)


_GOOD = Aggregate(1.0, 1e9, 7, 3, 0x10, 10.0, 1.0)
_HOSTILE_VIAS = [
    ("pwr", math.nan),
    ("pwr", math.inf),
    ("min_bw", math.nan),
    ("delay", math.inf),
    ("jitter", -math.inf),
    ("te_metric", -1),
    ("te_metric", 2**40),
    ("te_metric", 2**63 - 1),  # a sum past int64: the scalar walk saturates it
    ("hops", -1),
    ("admin", -1),
    ("te_metric", 2**64),  # not an int64 at all: that tuple alone takes the scalar walk
]


@pytest.mark.parametrize("field,val", _HOSTILE_VIAS)
def test_a_hostile_via_figure_takes_the_scalar_walk_as_numpy_did(field, val):
    v = wire.ReachabilityVector(("1.1.1.1",), "0.0.0.2", tuple(wire.PathInfo(e, float(i), 1e9, 5, 1, 1, 2, 3) for e in EPS[:2] for i in range(3)))
    items = [((_GOOD,), v), ((dataclasses.replace(_GOOD, **{field: val}), _GOOD), v), ((_GOOD, _GOOD), v)]
    want = _outcome(_combine_many, items, 4)
    assert _outcome(transit._combine_many, items, 4) == want
    assert want == _outcome(lambda: [_combine_scalar(vias, v, 4) for vias, v in items])


# ---------------------------------------------------------------- where numpy was not the reference


def test_a_hop_sum_beyond_int64_saturates_as_the_scalar_walk():
    """numpy's int64 hop sum wrapped to a negative count; the scalar walk
    (and the kernel) saturate at 0xFFFF."""
    vias = (Aggregate(1.0, 1e9, 0, 2**63 - 2, 0, 0.0, 0.0),)
    v = wire.ReachabilityVector(("1.1.1.1",), "0.0.0.2", (wire.PathInfo(EPS[0], 1.0, 1e9, 0, 0xFFFF, 0, 0, 0),))
    (p,) = transit._combine_many([(vias, v)], 8)[0]
    assert p.hop_count == 0xFFFF and (p,) == _combine_scalar(vias, v, 8)


def test_a_delay_that_rounds_outside_int64_takes_the_scalar_form():
    """numpy cast such a delay to INT64_MIN (undefined); the kernels refuse
    it and the scalar form gives Python's exact integer."""
    vias = (Aggregate(1.0, 1e9, 0, 0, 0, -1e300, 0.0),)
    v = wire.ReachabilityVector(("1.1.1.1",), "0.0.0.2", (wire.PathInfo(EPS[0], 1.0, 1e9),))
    assert transit._combine_many([(vias, v)], 8)[0] == _combine_scalar(vias, v, 8)
    assert transit._combine_many([(vias, v)], 8)[0][0].delay_us == round(-1e300)
    assert transit._wire_rows([(EPS[0], vias[0])]) is None  # then the caller converts one by one (Aggregate.info)


# ---------------------------------------------------------------- the C kernels' own contract


def _vec(v):
    return transit._VecArrays(v)


def test_vec_check_refuses_malformed_structures():
    v = wire.ReachabilityVector(("1.1.1.1",), "0.0.0.2", tuple(wire.PathInfo(e, 1.0, 1e9) for e in EPS[:3]))
    va = _vec(v)
    assert va.ok and va.c.fit == 1
    c = va.c
    gpos = ffi.new("int32_t[]", [0, 1, 3])  # position 3 of 3 entries
    keep = c.gpos
    c.gpos = gpos
    assert lib.pwr_tr_vec_check(c) == lib.PWR_TR_EINVAL and c.fit == 0
    c.gpos = keep
    gstart = ffi.new("int32_t[]", [0, 2, 1, 3])  # not ascending
    c.gstart = gstart
    assert lib.pwr_tr_vec_check(c) == lib.PWR_TR_EINVAL and c.fit == 0


def test_combine_checks_its_buffers():
    vias = (Aggregate(1.0, 1e9, 1, 1, 1, 10.0, 1.0),)
    v = wire.ReachabilityVector(("1.1.1.1",), "0.0.0.2", tuple(wire.PathInfo(e, 1.0, 1e9) for e in EPS[:3]))
    va = _vec(v)
    V, keep = transit._vias_arrays([vias])
    vecs = ffi.new("pwr_tr_vec *[]", [va.c])
    via_off = ffi.new("int32_t[]", [0, 1])
    sz = ffi.new("int64_t[3]")
    assert lib.pwr_tr_combine_size(1, vecs, via_off, 1, 8, sz, sz + 1, sz + 2) == lib.PWR_TR_OK and sz[0] == 3
    total, nd, ni = sz[0], sz[1], sz[2]

    def run(total=total, nd=nd, ni=ni, via_off=via_off, k=8):
        o = ffi.new("pwr_tr_out *")
        bufs = [ffi.new("int32_t[]", total), ffi.new("double[]", total), ffi.new("double[]", total)] + [ffi.new("int64_t[]", total) for _ in range(5)]
        o.cap = total
        o.row, o.pwr, o.bw, o.te, o.hops, o.admin, o.delay, o.jitter = bufs
        ws = ffi.new("pwr_tr_ws *")
        wd, wi = ffi.new("double[]", max(nd, 1)), ffi.new("int32_t[]", max(ni, 1))
        ws.d, ws.nd, ws.i, ws.ni = wd, nd, wi, ni
        status, out_off = ffi.new("int32_t[]", 1), ffi.new("int32_t[]", 2)
        return lib.pwr_tr_combine(1, vecs, via_off, V, k, status, out_off, o, ws), list(status), list(out_off)

    assert run() == (lib.PWR_TR_OK, [lib.PWR_TR_ARRAY], [0, 3])
    assert run(total=2)[0] == lib.PWR_TR_ESPACE
    assert run(nd=nd - 1)[0] == lib.PWR_TR_ESPACE
    assert run(ni=ni - 1)[0] == lib.PWR_TR_ESPACE
    assert run(via_off=ffi.new("int32_t[]", [0, 2]))[0] == lib.PWR_TR_EINVAL  # more vias than given
    assert run(via_off=ffi.new("int32_t[]", [1, 0]))[0] == lib.PWR_TR_EINVAL
    assert run(k=0)[0] == lib.PWR_TR_EINVAL


def test_aggregates_and_order_check_their_indices():
    w = ffi.new("double[]", [1.0, 2.0])
    q = ffi.new("int64_t[]", [0, 0])
    outs = [ffi.new("double[]", 1), ffi.new("double[]", 1), ffi.new("int64_t[]", 1), ffi.new("int64_t[]", 1), ffi.new("double[]", 1), ffi.new("double[]", 1)]
    for arcs, off in (([2], [0, 1]), ([-1], [0, 1]), ([0], [0, 2, 1]), ([0], [1, 1])):
        np_ = len(off) - 1
        assert lib.pwr_tr_aggregates(np_, ffi.new("int32_t[]", off), ffi.new("int32_t[]", arcs), 2, w, w, q, q, w, w, *outs) == lib.PWR_TR_EINVAL
    assert lib.pwr_tr_aggregates(1, ffi.new("int32_t[]", [0, 2]), ffi.new("int32_t[]", [1, 0]), 2, w, w, q, q, w, w, *outs) == lib.PWR_TR_OK
    assert outs[0][0] == 3.0
    key = ffi.new("double[]", [2.0, 1.0])
    bufs = [ffi.new("int32_t[]", 2) for _ in range(3)]
    assert lib.pwr_tr_order(2, key, 1, ffi.new("int32_t[]", [0, 3]), *bufs) == lib.PWR_TR_EINVAL  # parts longer than the keys
    assert lib.pwr_tr_order(2, key, 2, ffi.new("int32_t[]", [0, 1, 2]), *bufs) == lib.PWR_TR_OK and list(bufs[0]) == [1, 0]
