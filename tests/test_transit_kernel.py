"""The C transit kernels (csrc/pwr_transit.c, issue 10: paths.transit
without numpy) against the module's pure-Python references and against
brute-force oracles, bit for bit, on random input (hypothesis): ties,
signed zeros, saturation at the wire's ranges, sums that overflow, hostile
(unsorted, NaN, out-of-range) figures that must take the scalar path.

References:

* ``_combine_many`` / ``_combine``: the scalar heap walk
  (``_combine_scalar``) where it runs, else ``_brute_combine`` below (every
  cell of the sum matrix, sorted by (sum, i, j), the figures from
  ``Aggregate.then`` and ``Aggregate.info``).
* ``_aggregates_many``: the scalar loop ``_aggregates``.
* ``_wire_rows``: ``Aggregate.info`` per row, or None exactly where
  ``_wire_refuses`` says the array form cannot reproduce it.
* ``_merge_local``: ``sorted`` with its documented key (NaN last), and the
  module's own sort for a C core without the kernels.
"""

import dataclasses
import math
import struct
import subprocess
import sys
from array import array
from itertools import product

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyfrr_pwr._core import ffi, lib
from pyfrr_pwr.model import metric
from pyfrr_pwr.paths import transit
from pyfrr_pwr.paths.graphcache import _arc_arrays, _GraphInfo
from pyfrr_pwr.paths.ksp import Path
from pyfrr_pwr.paths.transit import JITTER_MAX, Aggregate, _aggregates, _combine_scalar
from pyfrr_pwr.proto import wire

FM = metric.FLT_MAX
DM = float(0xFFFFFFFF)  # the wire's 32-bit delay field
EPS = [f"10.9.0.{i}" for i in range(7)]

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


# ---------------------------------------------------------------- oracles


def _brute_combine(vias: tuple, v: wire.ReachabilityVector, k: int) -> tuple:
    """Transit entries by enumeration: per endpoint (first appearance order)
    every (i, j) cell, sorted by (sum, i, j), the first k; then all sorted
    stably by (PWR, endpoint). Equal to the heap walk when both lists are
    sorted by PWR and no sum is NaN (the domain of the array form)."""
    by_ep: dict = {}
    for p in v.paths:
        by_ep.setdefault(p.endpoint, []).append(Aggregate.of(p))
    rows = []
    for ep, ys in by_ep.items():
        cells = sorted(product(range(len(vias)), range(len(ys))), key=lambda c: (vias[c[0]].pwr + ys[c[1]].pwr, c))
        for i, j in cells[: max(k, 0)]:
            rows.append((ep, vias[i].then(ys[j])))
    rows.sort(key=lambda r: (r[1].pwr, r[0]))
    return tuple(agg.info(ep) for ep, agg in rows)


def _combine_spied(f, items: list, k: int):
    """f(items, k)'s outcome and the (vias, vector) pairs, by identity, that
    it handed to the scalar walk."""
    real, seen = transit._combine_scalar, []

    def spy(vias, v, kk):
        seen.append((id(vias), id(v)))
        return real(vias, v, kk)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(transit, "_combine_scalar", spy)
        got = _outcome(f, items, k)
    return got, seen


def _check_combine(f, items: list, k: int) -> set:
    """f(items, k) (``_combine_many``'s signature) entry for entry: the
    scalar walk's result for the pairs that took it, the brute force's (the
    kernel's bandwidth ties) for the others. Returns the indices of the
    pairs that took the scalar walk."""
    got, seen = _combine_spied(f, items, k)
    if got[0] == "raised":  # only the scalar walk raises: the pair it was on raises alike
        (last,) = [(vias, v) for vias, v in items if (id(vias), id(v)) == seen[-1]][:1]
        assert _outcome(_combine_scalar, *last, k) == got
        return set()
    scalar = {n for n, (vias, v) in enumerate(items) if (id(vias), id(v)) in seen}
    want = [_combine_scalar(vias, v, k) if n in scalar else () if not vias or not v.paths else _brute_combine(vias, v, k) for n, (vias, v) in enumerate(items)]
    assert got == _exact(want)
    return scalar


def _wire_refuses(rows: list) -> bool:
    """Where ``_wire_rows`` leaves the conversion to ``Aggregate.info``:
    a figure of another type, a NaN PWR or bandwidth, a delay or jitter not
    finite or rounding outside int64, an integer outside [0, 2^40)."""
    for _, g in rows:
        fl, ints = (g.pwr, g.min_bw, g.delay, g.jitter), (g.te_metric, g.hops, g.admin)
        if any(type(x) is not float for x in fl) or any(type(x) is not int for x in ints):
            return True
        if math.isnan(g.pwr) or math.isnan(g.min_bw) or not (math.isfinite(g.delay) and math.isfinite(g.jitter)):
            return True
        if not all(0 <= x < 2**40 for x in ints):
            return True
        if not all(-(2**63) <= round(min(x, top)) < 2**63 for x, top in ((g.delay, DM), (g.jitter, float(JITTER_MAX)))):
            return True
    return False


def _merge_order(keys: list, part: list) -> list:
    """Indices sorted stably by (key, part), NaN keys last and equal to one
    another (``_merge_local``'s order)."""
    return sorted(range(len(keys)), key=lambda t: (math.isnan(keys[t]), 0.0 if math.isnan(keys[t]) else keys[t], part[t]))


# ---------------------------------------------------------------- random input

# few distinct figures: ties everywhere; FM, 1e308: saturation and sums that overflow
PWR = [0.0, -0.0, 0.5, 1.0, 1.0, 2.0, 3.0, -1.0, FM / 2, FM, 1e308, 5e-324]
PWR_FIT = [x for x in PWR if x != 1e308]  # no sum of two overflows
BW = [1e8, 1e9, math.inf, 0.0, -0.0, FM, 5e38, 1.5]
DELAY = [0.0, -0.0, 0.5, 1.5, 2.5, -0.5, -1.5, 4e9, 4294967295.5, 1e300]
JITTER = [0.0, -0.0, 0.5, 1.5, 2.5, 65534.5, 65535.5, 70000.0, -2.5]


def _pick(pool, other):
    return st.one_of(st.sampled_from(pool), other)


finite = st.floats(allow_nan=False, allow_infinity=False)
fit = st.floats(-1e307, 1e307)
rare_bad = st.sampled_from([math.nan, math.inf, -math.inf])


@st.composite
def vias_st(draw, hostile=True):
    """Our aggregates to an ABR; ``hostile``: sometimes a figure the array
    form must refuse, sometimes unsorted, sums that may overflow."""
    n = 0 if hostile and draw(st.integers(0, 9)) == 0 else draw(st.integers(1, 6))  # sometimes none
    out = []
    for _ in range(n):
        out.append(
            Aggregate(
                draw(_pick(PWR, finite) if hostile else _pick(PWR_FIT, fit)),
                draw(_pick(BW, st.floats(allow_nan=False))),
                draw(st.one_of(st.sampled_from([0, 1, 0x7FFFFFFF, 0xFFFFFFFF, 2**40 - 1]), st.integers(0, 2**40 - 1))),
                draw(st.one_of(st.sampled_from([0, 1, 0x9000, 0xFFFF]), st.integers(0, 2**63 - 1))),
                draw(st.integers(0, 2**63 - 1)),
                draw(_pick(DELAY, st.floats(-(2.0**62), 1e300))),
                draw(_pick(JITTER, st.floats(-(2.0**62), 1e300))),
            )
        )
    if hostile and out and draw(st.integers(0, 4)) == 0:
        i = draw(st.integers(0, n - 1))
        field = draw(st.sampled_from(["pwr", "min_bw", "delay", "jitter", "te_metric", "hops", "admin"]))
        val = {"te_metric": draw(st.sampled_from([-1, 2**40, 2**63 - 1, 2**64])), "hops": -1, "admin": -1}.get(field)
        out[i] = dataclasses.replace(out[i], **{field: draw(rare_bad) if val is None else val})
    if not hostile or draw(st.integers(0, 9)):  # mostly sorted, as the ABR's KSP gives them
        out.sort(key=lambda g: g.pwr)
    return tuple(out)


@st.composite
def vector_st(draw, hostile=True):
    """A learnt vector; ``hostile``: sometimes an out-of-range or
    non-finite figure, an endpoint's entries unsorted, or no entries."""
    eps = [] if hostile and draw(st.integers(0, 9)) == 0 else draw(st.lists(st.sampled_from(EPS), min_size=1, max_size=4, unique=True))  # sometimes none
    paths = []
    for e in eps:
        for _ in range(draw(st.integers(1, 6))):
            paths.append(
                wire.PathInfo(
                    e,
                    draw(_pick(PWR, finite) if hostile else _pick(PWR_FIT, fit)),
                    draw(_pick(BW, st.floats(allow_nan=False))),
                    draw(st.one_of(st.sampled_from([0, 0xFFFFFFFF]), st.integers(0, 0xFFFFFFFF))),
                    draw(st.one_of(st.sampled_from([0, 0xFFFF]), st.integers(0, 0xFFFF))),
                    draw(st.integers(0, 0xFFFFFFFF)),
                    draw(st.integers(0, 0xFFFFFFFF)),
                    draw(st.integers(0, 0xFFFF)),
                )
            )
    how = draw(st.integers(0, 19)) if hostile else 3
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


def _vec(eps, pwrs, bw=1e9):
    return wire.ReachabilityVector(("1.1.1.1",), "0.0.0.2", tuple(wire.PathInfo(e, float(x), bw, 5, 1, 1, 2, 3) for e in eps for x in pwrs))


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


def test_an_ordinary_batch_is_combined_in_c():
    """Sorted, finite figures: no pair falls back to the scalar walk."""
    vias = (Aggregate(1.0, 1e9, 1, 1, 1, 10.0, 1.0), Aggregate(2.0, 1e8, 2, 2, 2, 20.0, 2.0))
    v = wire.ReachabilityVector(("1.1.1.1",), "0.0.0.2", tuple(wire.PathInfo(e, float(i), 1e9, 1, 1, 0, 5, 1) for e in EPS[:3] for i in range(3)))
    want = _combine_scalar(vias, v, 4)
    got, seen = _combine_spied(transit._combine_many, [(vias, v), (vias, v)], 4)
    assert seen == [] and got == _exact([want, want])
    assert len(want) == 12


# ---------------------------------------------------------------- combination


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(vias_st(hostile=False), vector_st(hostile=False)), min_size=1, max_size=3), K)
def test_combine_many_of_well_formed_figures_runs_in_c_and_equals_the_brute_force(items, k):
    """Sorted, finite, in-range figures whose sums cannot overflow: every
    pair in the C walk, the k smallest sums per endpoint in (sum, i, j)
    order, then (PWR, endpoint); and the scalar walk gives the same cells
    (its own bandwidth ties)."""
    assert _check_combine(transit._combine_many, items, k) == set()
    for vias, v in items:
        assert _exact(_combine_scalar(vias, v, k)) == _exact(_brute_combine(vias, v, k))
        per_ep = [sum(p.endpoint == e for p in v.paths) for e in {p.endpoint for p in v.paths}]
        assert len(transit._combine(vias, v, k)) == sum(min(max(k, 0), len(vias) * c) for c in per_ep)  # k bounds each endpoint


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(vias_st(), vector_st()), min_size=1, max_size=4), K)
def test_combine_many_equals_its_references_on_any_figures(items, k):
    _check_combine(transit._combine_many, items, k)
    for vias, v in items:  # one pair at a time: a batch's overflowing sum no longer decides for the others
        _check_combine(lambda its, kk: [transit._combine(*its[0], kk)], [(vias, v)], k)


def test_empty_inputs_and_k_below_one_give_no_entries():
    vias, v = (Aggregate(1.0, 1e9, 1, 1, 1, 1.0, 1.0),), _vec(EPS[:2], [1.0, 2.0])
    empty = wire.ReachabilityVector(("1.1.1.1",), "0.0.0.2", ())
    assert transit._combine_many([], 4) == []
    assert transit._combine_many([((), v), (vias, empty), ((), empty)], 4) == [(), (), ()]
    for k in (0, -1):
        assert transit._combine_many([(vias, v)], k) == [()] == [_combine_scalar(vias, v, k)]
    assert len(transit._combine(vias, v, 2**40)) == 4  # k beyond int32: every cell


def test_ties_pop_in_walk_order_and_sort_by_endpoint():
    """Equal sums: per endpoint in (i, j) order, then endpoints in sorted
    order (not first appearance)."""
    vias = (Aggregate(1.0, 1.0, 0, 0, 0, 0.0), Aggregate(1.0, 2.0, 0, 0, 0, 0.0))
    v = wire.ReachabilityVector(("1.1.1.1",), "0.0.0.2", tuple(wire.PathInfo(e, 1.0, b) for e in ("10.0.0.9", "10.0.0.1") for b in (10.0, 20.0)))
    got = transit._combine_many([(vias, v)], 3)[0]
    assert [(p.endpoint, p.min_avail_bw) for p in got] == [
        ("10.0.0.1", 1.0),
        ("10.0.0.1", 1.0),
        ("10.0.0.1", 2.0),
        ("10.0.0.9", 1.0),
        ("10.0.0.9", 1.0),
        ("10.0.0.9", 2.0),
    ]
    assert got == _combine_scalar(vias, v, 3) == _brute_combine(vias, v, 3)


def test_figures_saturate_at_the_wires_ranges():
    vias = (Aggregate(FM, 5e38, 2**40 - 1, 0xFFFF, 2**40 - 1, 4e9, 60000.0),)
    v = wire.ReachabilityVector(("1.1.1.1",), "0.0.0.2", (wire.PathInfo(EPS[0], FM, 6e38, 0xFFFFFFFF, 5, 0xFFFFFFFF, 0xFFFFFFFF, 9000),))
    got, seen = _combine_spied(transit._combine_many, [(vias, v)], 1)
    assert seen == []
    ((p,),) = transit._combine_many([(vias, v)], 1)
    assert (p.pwr_sum, p.min_avail_bw, p.te_metric_sum, p.hop_count, p.admin_groups, p.delay_us, p.jitter_us) == (
        FM,
        FM,
        0xFFFFFFFF,
        0xFFFF,
        0xFFFFFFFF,
        0xFFFFFFFF,
        JITTER_MAX,
    )
    assert got == _exact([_combine_scalar(vias, v, 1)])


def test_a_zero_bandwidth_tie_keeps_the_vias_zero_as_the_scalar_walk():
    """On a tie of the bandwidth minimum both keep the via's figure
    (``Aggregate.then``: ``min(via, vector)``), to the sign of a zero."""
    vias = (Aggregate(1.0, 0.0, 0, 0, 0, 0.0),)
    v = wire.ReachabilityVector(("1.1.1.1",), "0.0.0.2", (wire.PathInfo(EPS[0], 1.0, -0.0),))
    ((p,),) = transit._combine_many([(vias, v)], 1)
    (q,) = _combine_scalar(vias, v, 1)
    assert _exact(p) == _exact(q) and math.copysign(1.0, p.min_avail_bw) == 1.0


def test_a_sum_that_overflows_sends_the_whole_batch_to_the_scalar_walk():
    """An infinite sum among the k smallest: the array form would not be
    exact, and every pair of that batch takes the scalar walk (its signed
    zeros too, as the numpy form's fallback did)."""
    zero = (Aggregate(1.0, 0.0, 0, 0, 0, 0.0),)
    big = (Aggregate(1e308, 1e9, 0, 0, 0, 0.0),)
    vz, vb = _vec(EPS[:1], [1.0], bw=-0.0), _vec(EPS[:1], [1e308])
    items = [(zero, vz), (big, vb)]
    assert _check_combine(transit._combine_many, items, 4) == {0, 1}
    assert math.copysign(1.0, transit._combine_many(items, 4)[0][0].min_avail_bw) == 1.0  # the via's zero
    assert _check_combine(transit._combine_many, items[:1], 4) == set()


def test_unsorted_or_non_finite_vector_entries_take_the_scalar_walk():
    vias = (Aggregate(1.0, 1e9, 1, 1, 1, 1.0, 1.0), Aggregate(2.0, 1e9, 1, 1, 1, 1.0, 1.0))
    ok = _vec(EPS[:2], [1.0, 2.0, 3.0])
    unsorted = _vec(EPS[:2], [3.0, 1.0, 2.0])
    bad = []
    for f, x in ((1, math.inf), (2, math.nan), (3, 2**32), (4, -1), (1, 1)):  # PWR, bandwidth, TE, hops; an int PWR
        p = list(ok.paths[1])
        p[f] = x
        bad.append(wire.ReachabilityVector(("1.1.1.1",), "0.0.0.2", ok.paths[:1] + (wire.PathInfo(*p),) + ok.paths[2:]))
    items = [(vias, ok), (vias, unsorted)] + [(vias, b) for b in bad]
    assert _check_combine(transit._combine_many, items, 3) == set(range(1, len(items)))


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
def test_a_hostile_via_figure_takes_the_scalar_walk(field, val):
    v = _vec(EPS[:2], [0.0, 1.0, 2.0])
    items = [((_GOOD,), v), ((dataclasses.replace(_GOOD, **{field: val}), _GOOD), v), ((_GOOD, _GOOD), v)]
    got, seen = _combine_spied(transit._combine_many, items, 4)
    assert [(id(vias), id(v)) for vias, v in items if (id(vias), id(v)) in seen] == [(id(items[1][0]), id(v))]  # that pair alone
    assert got == _outcome(lambda: [_combine_scalar(vias, v, 4) for vias, v in items])


def test_unsorted_vias_take_the_scalar_walk():
    vias = (Aggregate(2.0, 1e9, 0, 0, 0, 0.0), Aggregate(1.0, 1e9, 0, 0, 0, 0.0))
    assert _check_combine(transit._combine_many, [(vias, _vec(EPS[:1], [0.0, 5.0]))], 2) == {0}


def test_a_hop_sum_beyond_int64_saturates_as_the_scalar_walk():
    """A hop sum past int64 (numpy's wrapped to a negative count): the
    scalar walk and the kernel saturate at 0xFFFF."""
    vias = (Aggregate(1.0, 1e9, 0, 2**63 - 2, 0, 0.0, 0.0),)
    v = wire.ReachabilityVector(("1.1.1.1",), "0.0.0.2", (wire.PathInfo(EPS[0], 1.0, 1e9, 0, 0xFFFF, 0, 0, 0),))
    (p,) = transit._combine_many([(vias, v)], 8)[0]
    assert p.hop_count == 0xFFFF and (p,) == _combine_scalar(vias, v, 8)


def test_a_delay_that_rounds_outside_int64_takes_the_scalar_form():
    """Such a delay has no int64 (numpy's cast was undefined); the kernels
    refuse it and the scalar form gives Python's exact integer."""
    vias = (Aggregate(1.0, 1e9, 0, 0, 0, -1e300, 0.0),)
    v = wire.ReachabilityVector(("1.1.1.1",), "0.0.0.2", (wire.PathInfo(EPS[0], 1.0, 1e9),))
    assert transit._combine_many([(vias, v)], 8)[0] == _combine_scalar(vias, v, 8)
    assert transit._combine_many([(vias, v)], 8)[0][0].delay_us == round(-1e300)
    assert transit._wire_rows([(EPS[0], vias[0])]) is None  # then the caller converts one by one (Aggregate.info)


# ---------------------------------------------------------------- aggregates of paths


class _GivenColumns(_GraphInfo):
    """A graph's info whose arc columns are the test's (to feed the kernel
    columns graphcache would not build)."""

    __slots__ = ("given",)

    def arrays(self):
        return self.given


def _graph(arcs: list) -> nx.MultiDiGraph:
    G = nx.MultiDiGraph()
    for i, (w, bw, te, ad, dl, jt) in enumerate(arcs):
        G.add_edge("a", "b", key=i, weight=w, avail_bw=bw, te_metric=te, admin_group=ad, delay=dl, delay_var=jt)
    return G


@st.composite
def arcs_st(draw):
    fl = st.one_of(st.sampled_from([0.0, -0.0, 0.5, 1.0, 1e308, FM, math.inf, -1.0]), st.floats())  # NaN too: the sums carry it
    bw = st.sampled_from([0.0, -0.0, 1e9, math.inf]) if draw(st.booleans()) else fl  # signed zeros: which one a minimum keeps
    ints = st.one_of(st.sampled_from([0, 2**40 - 1]), st.integers(0, 2**40 - 1))
    return draw(st.lists(st.tuples(fl, bw, ints, ints, fl, fl), min_size=1, max_size=12))


@settings(max_examples=150, deadline=None)
@given(arcs_st(), st.data())
def test_aggregates_many_equals_the_scalar_loop(arcs, data):
    gi = _GraphInfo(_graph(arcs))
    keys = list(gi.attrs)
    paths = data.draw(st.lists(st.lists(st.sampled_from(keys), max_size=9).map(lambda es: Path((), tuple(es), 0.0)), max_size=30))
    want = _exact([_aggregates(gi.attrs, p) for p in paths])
    cols = gi.arrays()
    assert cols is not None
    eidx, *flat = cols
    as_numpy = (eidx, *(np.asarray(c) for c in flat))  # numpy's buffers (int64 as format 'l') read alike
    for given_cols in (cols, as_numpy):
        g = _GivenColumns(_graph(arcs))
        g.given = given_cols
        with pytest.MonkeyPatch.context() as mp:
            if len(paths) > 8:  # the kernel's batch size: the scalar loop must not run
                mp.setattr(transit, "_aggregates", None)
            assert _exact(transit._aggregates_many(g, paths)) == want


def test_aggregates_many_refuses_columns_it_cannot_read():
    arcs = [(1.0, 2.0, 3, 4, 5.0, 6.0)] * 3
    gi = _GraphInfo(_graph(arcs))
    paths = [Path((), tuple(gi.attrs), 0.0) for _ in range(10)]
    want = [_aggregates(gi.attrs, p) for p in paths]
    eidx, *cols = _arc_arrays(gi.attrs)
    g = _GivenColumns(_graph(arcs))
    for bad in (
        None,  # figures graphcache would not put in arrays
        (eidx, *cols[:2], array("d", cols[2]), *cols[3:]),  # TE as floats
        (eidx, cols[0][:-1], *cols[1:]),  # one column shorter
        (eidx, *cols[:5], [0.0] * 4),  # not a buffer
    ):
        g.given = bad
        assert transit._aggregates_many(g, paths) == want  # the scalar loop
    g.given = ({**eidx, ("a", "b", 0): 99}, *cols)
    with pytest.raises(ValueError, match="out of range"):  # an index the columns do not have: never read past them
        transit._aggregates_many(g, paths)


# ---------------------------------------------------------------- wire rows


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
            draw(_pick(DELAY + [-1e300, -(2.0**63)], st.floats(-(2.0**62), 1e300))),
            draw(_pick(JITTER + [-1e300], st.floats(-(2.0**62), 1e300))),
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
                    ("te_metric", -1),
                    ("hops", -1),
                    ("admin", 2**64),
                    ("pwr", 1),
                    ("hops", 1.0),
                ]
            )
        )
        rows[i] = (rows[i][0], dataclasses.replace(rows[i][1], **{field: val}))
    return rows


@settings(max_examples=150, deadline=None)
@given(rows_st())
def test_wire_rows_equals_aggregate_info(rows):
    got = transit._wire_rows(rows)
    if _wire_refuses(rows):
        assert got is None
    else:
        infos, pwr = got
        assert _exact(list(infos)) == _exact([g.info(e) for e, g in rows])
        assert _exact(pwr) == _exact([g.pwr for _, g in rows])


def test_wire_rows_of_no_rows_and_a_replaced_info():
    assert transit._wire_rows([]) == ([], [])
    rows = [(EPS[0], Aggregate(1.0, 1e9, 1, 1, 1, 1.0, 1.0))]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Aggregate, "info", lambda g, e: None)
        assert transit._wire_rows(rows) is None  # the caller then calls the replacement, row by row


# ---------------------------------------------------------------- the local vector's order


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.one_of(st.sampled_from([0.0, -0.0, 1.0, 2.0, math.inf, -math.inf, math.nan]), st.floats()), max_size=6), max_size=6), st.integers(0, 2)
)
def test_merge_local_sorts_stably_by_pwr_then_endpoint(pws, nhead):
    parts = [([f"{p}.{j}" for j in range(len(pw))], pw) for p, pw in enumerate(pws)]
    head = [f"head{i}" for i in range(nhead)]
    flat = [i for infos, _ in parts for i in infos]
    keys = [x for _, pw in parts for x in pw]
    part = [p for p, (_, pw) in enumerate(parts) for _ in pw]
    want = tuple(head + [flat[t] for t in _merge_order(keys, part)])
    assert transit._merge_local(head, parts) == want
    if not any(map(math.isnan, keys)):  # a C core without the kernels sorts with Python's sort (NaN has no place in it)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(transit, "KERNEL", False)
            assert transit._merge_local(head, parts) == want


# ---------------------------------------------------------------- the C kernels' own contract


def _va(v):
    return transit._VecArrays(v)


def test_vec_check_refuses_malformed_structures():
    v = wire.ReachabilityVector(("1.1.1.1",), "0.0.0.2", tuple(wire.PathInfo(e, 1.0, 1e9) for e in EPS[:3]))
    va = _va(v)
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
    va = _va(v)
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
