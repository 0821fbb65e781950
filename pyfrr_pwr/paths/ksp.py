"""k power-shortest paths with CSPF constraints (the C core, from networkx).

The search itself is hand-written C (csrc/pwr_ksp.c) because no maintained
library does what CSPF needs here: networkx's ``shortest_simple_paths`` is a
generator with no constraints, that treats parallel links as one and is
orders of magnitude slower; igraph and scipy offer Yen without constraints
or multigraph paths. networkx stays the graph plumbing: callers hand us a
``DiGraph`` or ``MultiDiGraph`` and get node and ``(u, v, key)`` edge lists.

A path is a sequence of links, so parallel links (draft sec. 2.1.1: L1-L3
all join routers A and D) give distinct paths. Constraints prune arcs inside
the search rather than filtering results, so ``k`` paths come back whenever
``k`` feasible paths exist.

Edge attributes read (names configurable in ``CompiledGraph.from_networkx``):
``weight`` (the PWR metric, >= 0, default 1), ``avail_bw`` (bytes/s, default
unlimited), ``admin_group`` (32-bit mask, default 0), ``delay`` (microseconds,
default 0), ``delay_var`` (delay variation, RFC 7471 sec. 4.3, microseconds,
default 0; ``Constraints.max_jitter`` bounds its sum along a path).

Ties are canonical (csrc/pwr_ksp.h): the k paths are the first k feasible
simple paths by cost, then fewer hops, then step by step from the source
the step to the node earlier in ``G.nodes`` order, or between parallel
links to one node the link earlier in ``G.edges`` order (for a DiGraph:
the lexicographically smaller node sequence in node order). So which of
several equal-cost paths comes out, and which one ``k`` cuts off, depends
on the graph only. Costs compare as their float sums: exact for integer or
binary-fraction weights, where ties come from.

A compiled graph keeps its topology; attributes change in place
(``set_weights``, ``update_edges``) without a rebuild, so a TED can follow
metric changes at O(m) or O(changed links) cost.

Each thread gets its own C workspace and cffi drops the GIL during a query,
so a ``CompiledGraph`` can serve several threads at once (draft sec. 2.3).
What holds the GIL is building the ``Path`` objects: one C call copies every
path's arcs, nodes and cost into flat arrays, one ``itemgetter`` call per
result maps arc ids and node indices to labels, and each path is two
slices of those tuples; a batch runs in chunks (C, then objects), so
another thread's C part overlaps this one's objects.
"""

from __future__ import annotations

import gc
import math
import threading
from collections.abc import Hashable, Iterable
from itertools import accumulate, count
from operator import itemgetter
from typing import Any, NamedTuple

import networkx as nx
import numpy as np

from pyfrr_pwr._core import ffi, lib
from pyfrr_pwr.model.constraints import NAMES, Constraints

__all__ = ["Path", "CompiledGraph", "k_shortest_paths", "CONSTRAINTS"]

CONSTRAINTS = NAMES  # the keyword names; the set itself is model.constraints

_ERR = {lib.PWR_EINVAL: "invalid argument", lib.PWR_ENOMEM: "out of memory"}
_NO_CONSTRAINTS = Constraints()
_tuple_new = tuple.__new__  # builds a Path without NamedTuple.__new__'s Python frame
_CHUNK = 32  # queries per C call in a batch (see CompiledGraph._run)
_GC_PAUSE = 8  # queries in one batch above which the cyclic GC pauses while it runs


def _take(labels, idx: list) -> tuple:
    """``tuple(labels[i] for i in idx)`` in one C call (itemgetter returns a bare item for one index)."""
    if len(idx) > 1:
        return itemgetter(*idx)(labels)
    return (labels[idx[0]],) if idx else ()


class Path(NamedTuple):
    """One path: its nodes, its edges as ``(u, v, key)`` and its cost.

    A NamedTuple, not a dataclass: an ABR builds thousands per
    recomputation and tuple construction is several times cheaper.
    """

    nodes: tuple
    edges: tuple
    cost: float


def _mask(name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**32:
        raise ValueError(f"{name} must be a 32-bit admin-group bit mask, got {value!r}")
    return value


class CompiledGraph:
    """A graph compiled once into the C core's CSR form, queried many times."""

    def __init__(self) -> None:  # use from_networkx
        raise TypeError("use CompiledGraph.from_networkx(G)")

    @classmethod
    def from_networkx(
        cls,
        G: nx.DiGraph,
        weight: str = "weight",
        bandwidth: str = "avail_bw",
        admin_group: str = "admin_group",
        delay: str = "delay",
        jitter: str = "delay_var",
    ) -> CompiledGraph:
        self = object.__new__(cls)
        if not G.is_directed():
            G = G.to_directed()
        self.multigraph = G.is_multigraph()
        self.nodes = list(G.nodes)
        self._labels = tuple(self.nodes)  # what result building indexes
        self.index = {n: i for i, n in enumerate(self.nodes)}
        if self.multigraph:
            elist = list(G.edges(keys=True, data=True))
        else:
            elist = [(u, v, None, d) for u, v, d in G.edges(data=True)]
        m = len(elist)
        self.edge_keys = tuple((u, v, k) for u, v, k, _ in elist)
        idx = self.index
        tail = np.fromiter((idx[e[0]] for e in elist), dtype=np.int32, count=m)
        head = np.fromiter((idx[e[1]] for e in elist), dtype=np.int32, count=m)
        w = np.empty(m, dtype=np.float64)
        bw = np.empty(m, dtype=np.float64)
        ag = np.empty(m, dtype=np.uint32)
        dl = np.empty(m, dtype=np.float64)
        jt = np.zeros(m, dtype=np.float64)
        for i, (u, v, k, d) in enumerate(elist):
            try:
                w[i] = float(d.get(weight, 1.0))
                bw[i] = float(d.get(bandwidth, math.inf))
                dl[i] = float(d.get(delay, 0.0))
                if jitter in d:
                    jt[i] = float(d[jitter])
                a = d.get(admin_group, 0)
                ag[i] = _mask(f"edge {u}->{v} attribute {admin_group!r}", a)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"edge {u}->{v} (key {k!r}): {exc}") from None
            if not (0.0 <= w[i] < math.inf):
                raise ValueError(f"edge {u}->{v} (key {k!r}): {weight!r} must be finite and >= 0, got {w[i]}")
            if not (0.0 <= dl[i] < math.inf):
                raise ValueError(f"edge {u}->{v} (key {k!r}): {delay!r} must be finite and >= 0, got {dl[i]}")
            if not (0.0 <= jt[i] < math.inf):
                raise ValueError(f"edge {u}->{v} (key {k!r}): {jitter!r} must be finite and >= 0, got {jt[i]}")
            if math.isnan(bw[i]):
                raise ValueError(f"edge {u}->{v} (key {k!r}): {bandwidth!r} is NaN")
        self.head_labels = [self.nodes[h] for h in head.tolist()]
        self.weights = w
        err = ffi.new("int *")
        bad = ffi.new("int32_t *")
        keep = [tail, head, w, bw, ag, dl]
        g = lib.pwr_graph_new(
            len(self.nodes),
            m,
            ffi.from_buffer("int32_t[]", tail),
            ffi.from_buffer("int32_t[]", head),
            ffi.from_buffer("double[]", w),
            ffi.from_buffer("double[]", bw),
            ffi.from_buffer("uint32_t[]", ag),
            ffi.from_buffer("double[]", dl),
            err,
            bad,
        )
        del keep
        if g == ffi.NULL:
            where = f" (edge {self.edge_keys[bad[0]]})" if bad[0] >= 0 else ""
            raise ValueError(f"cannot compile graph: {_ERR.get(err[0], err[0])}{where}")
        self._g = ffi.gc(g, lib.pwr_graph_free)
        if jt.any() and lib.pwr_graph_set_jitter(self._g, ffi.from_buffer("double[]", jt), bad) != lib.PWR_OK:
            raise ValueError(f"cannot compile graph: invalid {jitter!r} (edge {self.edge_keys[bad[0]]})")  # pragma: no cover - checked above
        self._local = threading.local()
        self._pair_index: dict | None = None
        self._key_index: dict | None = None
        self._cons_cache: dict = {}  # Constraints -> (C struct, arrays it points to)
        self._no_cons = None  # the same for no constraints at all
        # readers (queries, GIL released inside C) vs. writers (in-place
        # updates): the C graph must not change under a running query
        self._rw = threading.Condition(threading.Lock())
        self._readers = 0
        return self

    # -- in-place updates (the topology is fixed; a new one needs a compile) --

    def _write(self):
        """Wait for running queries and keep new ones out (use with ``with``)."""
        return _WriteGuard(self._rw, self)

    def set_weights(self, weights) -> None:
        """Replace every edge's weight, in ``edge_keys`` order, in place (O(m))."""
        w = np.array(weights, dtype=np.float64, copy=True).reshape(-1)
        if w.shape[0] != len(self.edge_keys):
            raise ValueError(f"set_weights: {w.shape[0]} weights for {len(self.edge_keys)} edges")
        bad = np.flatnonzero(~((w >= 0.0) & (w < math.inf)))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"set_weights: edge {self.edge_keys[i]} weight must be finite and >= 0, got {w[i]}")
        badp = ffi.new("int32_t *")
        with self._write():
            rc = lib.pwr_graph_set_weights(self._g, ffi.from_buffer("double[]", w), badp)
        if rc != lib.PWR_OK:  # pragma: no cover - validated above
            raise ValueError(f"set_weights: {_ERR.get(rc, rc)} (edge {badp[0]})")
        self.weights = w

    def _edge_index(self, e) -> int:
        if self._key_index is None:
            ki: dict = {}
            for i, (u, v, k) in enumerate(self.edge_keys):
                ki[(u, v, k)] = i
                if not self.multigraph:
                    ki[(u, v)] = ki[(u, v, 0)] = i
            self._key_index = ki
        try:
            return self._key_index[tuple(e)]
        except (KeyError, TypeError):
            raise KeyError(f"update_edges: edge {e!r} not in the compiled graph (a new topology needs a new compile)") from None

    def update_edges(self, changes: dict) -> None:
        """Change attributes of existing edges in place.

        ``changes`` maps ``(u, v, key)`` to a dict with any of ``weight``,
        ``avail_bw``, ``admin_group``, ``delay``, ``delay_var``. Everything
        is validated before anything changes; an unknown edge raises
        ``KeyError``.
        """
        todo = []
        for e, attrs in changes.items():
            i = self._edge_index(e)
            fields, w, bw, ag, dl, jt = 0, 0.0, 0.0, 0, 0.0, 0.0
            for name, val in attrs.items():
                try:
                    if name == "weight":
                        w = float(val)
                        if not 0.0 <= w < math.inf:
                            raise ValueError(f"must be finite and >= 0, got {w}")
                        fields |= lib.PWR_SET_WEIGHT
                    elif name == "avail_bw":
                        bw = float(val)
                        if math.isnan(bw):
                            raise ValueError("is NaN")
                        fields |= lib.PWR_SET_BW
                    elif name == "admin_group":
                        ag = _mask("admin_group", val)
                        fields |= lib.PWR_SET_ADMIN
                    elif name == "delay":
                        dl = float(val)
                        if not 0.0 <= dl < math.inf:
                            raise ValueError(f"must be finite and >= 0, got {dl}")
                        fields |= lib.PWR_SET_DELAY
                    elif name == "delay_var":
                        jt = float(val)
                        if not 0.0 <= jt < math.inf:
                            raise ValueError(f"must be finite and >= 0, got {jt}")
                        fields |= lib.PWR_SET_JITTER
                    else:
                        raise ValueError("unknown attribute (weight, avail_bw, admin_group, delay, delay_var)")
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"update_edges: edge {e!r} {name!r}: {exc}") from None
            todo.append((i, fields, w, bw, ag, dl, jt))
        with self._write():
            for i, fields, w, bw, ag, dl, jt in todo:
                rc = lib.pwr_graph_set_arc(self._g, i, fields, w, bw, ag, dl, jt)
                if rc != lib.PWR_OK:  # pragma: no cover - validated above
                    raise ValueError(f"update_edges: {_ERR.get(rc, rc)} (edge {self.edge_keys[i]})")
        for i, fields, w, *_ in todo:
            if fields & lib.PWR_SET_WEIGHT:
                self.weights[i] = w

    # -- internals ---------------------------------------------------------

    def _ws(self):
        ws = getattr(self._local, "ws", None)
        if ws is None:
            raw = lib.pwr_ws_new(self._g)
            if raw == ffi.NULL:
                raise MemoryError("cannot allocate a KSP workspace")
            ws = self._local.ws = ffi.gc(raw, lib.pwr_ws_free)
        return ws

    def _bufs(self, nq: int, total: int, need: int):
        """This thread's result buffers, grown geometrically: (caps, counts, offsets, costs, arcs, nodes).

        ``offsets`` holds total + 1 entries and ``nodes`` need + total (one
        more node than arcs per path), as ``pwr_result_flat`` fills them.
        """
        b = getattr(self._local, "bufs", None)
        if b is None or b[0][0] < nq or b[0][1] < total or b[0][2] < need:
            q = max(nq, 16, 2 * b[0][0] if b else 0)
            t = max(total, 16, 2 * b[0][1] if b else 0)
            a = max(need, 64, 2 * b[0][2] if b else 0)
            b = self._local.bufs = (
                (q, t, a),
                ffi.new("int32_t[]", q),
                ffi.new("int32_t[]", t + 1),
                ffi.new("double[]", t),
                ffi.new("int32_t[]", a),
                ffi.new("int32_t[]", a + t),
            )
        return b

    def _pair_buf(self):
        """This thread's one-query (source, target) C arrays."""
        b = getattr(self._local, "pair", None)
        if b is None:
            b = self._local.pair = (ffi.new("int32_t[1]"), ffi.new("int32_t[1]"))
        return b

    def _node(self, n: Hashable) -> int:
        try:
            return self.index[n]
        except (KeyError, TypeError):
            raise nx.NodeNotFound(f"node {n!r} not in graph") from None

    def _arcs_for(self, e: tuple) -> list[int]:
        if self._pair_index is None:
            pi: dict = {}
            for i, (u, v, k) in enumerate(self.edge_keys):
                pi.setdefault((u, v), []).append(i)
                pi.setdefault((u, v, k), []).append(i)
            self._pair_index = pi
        try:
            return self._pair_index[tuple(e)]
        except (KeyError, TypeError):
            raise ValueError(f"exclude_edges: edge {e!r} not in graph") from None

    def _constraints(self, cons: Constraints):
        """The C struct for ``cons``, built once per distinct Constraints (read-only in C)."""
        if cons is _NO_CONSTRAINTS:  # the common case, without hashing a dataclass
            r = self._no_cons
            if r is None:
                r = self._no_cons = self._build_constraints(cons)
            return r
        try:
            return self._cons_cache[cons]
        except KeyError:
            pass
        except TypeError:  # unhashable labels in exclude_*: build, do not cache
            return self._build_constraints(cons)
        if len(self._cons_cache) >= 64:
            self._cons_cache.clear()
        r = self._cons_cache[cons] = self._build_constraints(cons)
        return r

    def _build_constraints(self, cons: Constraints):
        c = ffi.new("pwr_constraints *")
        keep = []
        c.min_bw = 0.0 if cons.min_bandwidth is None else cons.min_bandwidth
        c.include_any = _mask("admin_include_any", cons.admin_include_any)
        c.include_all = _mask("admin_include_all", cons.admin_include_all)
        c.exclude = _mask("admin_exclude", cons.admin_exclude)
        c.max_hops = -1 if cons.max_hops is None else cons.max_hops
        c.max_delay = -1.0 if cons.max_delay is None else cons.max_delay
        mj = getattr(cons, "max_jitter", None)
        c.max_jitter = -1.0 if mj is None else mj
        xn = [self._node(n) for n in cons.exclude_nodes]
        if xn:
            arr = ffi.new("int32_t[]", xn)
            keep.append(arr)
            c.excl_nodes, c.n_excl_nodes = arr, len(xn)
        xa = sorted({a for e in cons.exclude_edges for a in self._arcs_for(e)})
        if xa:
            arr = ffi.new("int32_t[]", xa)
            keep.append(arr)
            c.excl_arcs, c.n_excl_arcs = arr, len(xa)
        return c, keep

    def _one(self, source, target, k, constraints, kw):
        """One query (labels, as the public calls take them) in C; return (ws, paths in total)."""
        ix = self.index
        try:
            s, t = ix[source], ix[target]
        except (KeyError, TypeError):
            s, t = self._node(source), self._node(target)
        b = getattr(self._local, "pair", None) or self._pair_buf()
        b[0][0], b[1][0] = s, t
        return self._query(b[0], b[1], 1, k, _NO_CONSTRAINTS if constraints is None and not kw else Constraints.of(constraints, **kw))

    def _query(self, s, d, nq: int, k: int, cons: Constraints):
        """Run ``nq`` queries (C arrays ``s``, ``d``) in C with the GIL released; return (ws, paths in total)."""
        if type(k) is not int and (not isinstance(k, int) or isinstance(k, bool)) or k < 0:
            raise ValueError(f"k must be a non-negative integer, got {k!r}")
        c = (self._no_cons or self._constraints(cons))[0] if cons is _NO_CONSTRAINTS else self._constraints(cons)[0]
        ws = getattr(self._local, "ws", None) or self._ws()
        rw = self._rw
        # a writer holds rw for its whole update; acquire/release are the
        # lock's own C methods (``with`` would add a Python frame each way)
        rw.acquire()
        self._readers += 1
        rw.release()
        try:
            rc = lib.pwr_ksp_batch(self._g, ws, s, d, nq, k, c)
        finally:
            rw.acquire()
            try:
                self._readers -= 1
                if not self._readers:
                    rw.notify_all()
            finally:
                rw.release()
        if rc < 0:
            raise RuntimeError(f"KSP query failed: {_ERR.get(rc, rc)}")
        return ws, rc

    def _paths(self, ws, nq: int, total: int) -> list[list[Path]]:
        """Path objects of the last query on ``ws``, per query.

        One C call fills flat arrays (arc ids, node indices, offsets, costs)
        for every path (a second only when the arc buffer was too small);
        labels are looked up in one ``itemgetter`` call each, and every
        path is then two slices of those label tuples, which keeps the
        GIL-holding part of a query small (draft sec. 2.3).
        """
        if not total:
            return [[] for _ in range(nq)]
        g = self._g
        bufs = self._bufs(nq, total, 0)
        need = lib.pwr_result_flat(g, ws, 0, total, bufs[2], bufs[3], bufs[4], bufs[5], bufs[0][2])
        if need > bufs[0][2]:
            bufs = self._bufs(nq, total, need)
            if lib.pwr_result_flat(g, ws, 0, total, bufs[2], bufs[3], bufs[4], bufs[5], need) != need:  # pragma: no cover
                raise RuntimeError("KSP results changed under the reader")
        elif need < 0:  # pragma: no cover - ws and g always agree
            raise RuntimeError(f"KSP results: {_ERR.get(need, need)}")
        _, cnt_b, off_b, cost_b, arc_b, node_b = bufs
        offs = ffi.unpack(off_b, total + 1)
        # one tuple of the edge keys and one of the node labels of all the
        # paths: a slice of a tuple is a tuple, so a path costs three tuples
        ek = _take(self.edge_keys, ffi.unpack(arc_b, need))
        nl = _take(self._labels, ffi.unpack(node_b, need + total))
        # path i's nodes are nl[lo + i : hi + i + 1] (one more node than arcs)
        paths = [_tuple_new(Path, (nl[a + i : b + i + 1], ek[a:b], c)) for i, a, b, c in zip(count(), offs, offs[1:], ffi.unpack(cost_b, total))]
        if nq == 1:
            return [paths]
        lib.pwr_result_counts(ws, nq, cnt_b)
        qhi = list(accumulate(ffi.unpack(cnt_b, nq)))
        return list(map(paths.__getitem__, map(slice, [0, *qhi[:-1]], qhi)))

    def _run(self, srcs: list[int], dsts: list[int], k: int, cons: Constraints) -> list[list[Path]]:
        """Queries in chunks of about ``_CHUNK``: C (GIL released) then Path objects, chunk by chunk.

        Chunks end where the target changes, so each reverse search is
        still shared; a second thread's C part runs while this one builds
        Path objects, which is what lets two threads scale.
        """
        nq = len(srcs)
        if nq == 1:
            s, d = self._pair_buf()
            s[0], d[0] = srcs[0], dsts[0]
            ws, total = self._query(s, d, 1, k, cons)
            return self._paths(ws, 1, total)
        if not nq:
            self._query(ffi.NULL, ffi.NULL, 0, k, cons)  # still checks k and the constraints
            return []
        out: list[list[Path]] = []
        lo = 0
        # Thousands of new tuples would trigger collections that walk every
        # tracked object (the caller's networkx graphs too), for nothing:
        # none of them can be part of a cycle. The cyclic GC pauses for the
        # whole batch (not per chunk, which only moved the collections
        # between chunks, promoting the fresh paths to older generations).
        gc_was_on = gc.isenabled() and nq > _GC_PAUSE
        if gc_was_on:
            gc.disable()
        try:
            while lo < nq:
                hi = min(lo + _CHUNK, nq)
                while hi < nq and dsts[hi] == dsts[hi - 1]:
                    hi += 1
                n = hi - lo
                ws, total = self._query(ffi.new("int32_t[]", srcs[lo:hi]), ffi.new("int32_t[]", dsts[lo:hi]), n, k, cons)
                out += self._paths(ws, n, total)
                lo = hi
        finally:
            if gc_was_on:
                gc.enable()
        return out

    # -- queries -----------------------------------------------------------

    def k_shortest_paths(self, source, target, k: int, constraints: Constraints | None = None, **kw) -> list[Path]:
        """The k cheapest loopless paths source -> target, sorted by cost,
        equal costs in the canonical order (the module docstring).

        Constraints come as a ``Constraints`` or as its field names as
        keywords. Returns fewer than k (possibly none) when fewer feasible
        paths exist.
        """
        ws, total = self._one(source, target, k, constraints, kw)
        return self._paths(ws, 1, total)[0]

    def costs(self, source, target, k: int, constraints: Constraints | None = None, **kw) -> list[float]:
        """The costs of the k cheapest loopless paths, without building ``Path`` objects."""
        ws, total = self._one(source, target, k, constraints, kw)
        out = self._bufs(1, total, 0)[3]
        lib.pwr_result_costs(ws, 0, total, out)
        return ffi.unpack(out, total)

    def batch(self, pairs: Iterable[tuple], k: int, constraints: Constraints | None = None, **kw) -> list[list[Path]]:
        """k paths for each (source, target) pair, in one call into C.

        Consecutive pairs with the same target share one reverse search.
        """
        pairs = list(pairs)
        return self._run([self._node(s) for s, _ in pairs], [self._node(t) for _, t in pairs], k, _cons(constraints, kw))

    def one_to_many(self, source, targets: Iterable, k: int, constraints: Constraints | None = None, **kw) -> dict:
        targets = list(targets)
        return dict(zip(targets, self.batch([(source, t) for t in targets], k, constraints, **kw)))

    def many_to_one(self, sources: Iterable, target, k: int, constraints: Constraints | None = None, **kw) -> dict:
        sources = list(sources)
        return dict(zip(sources, self.batch([(s, target) for s in sources], k, constraints, **kw)))


def _cons(constraints, kw: dict) -> Constraints:
    if constraints is None and not kw:
        return _NO_CONSTRAINTS
    return Constraints.of(constraints, **kw)


class _WriteGuard:
    """Exclusive access to a CompiledGraph's C graph for an in-place update."""

    __slots__ = ("rw", "cg")

    def __init__(self, rw: threading.Condition, cg: CompiledGraph) -> None:
        self.rw, self.cg = rw, cg

    def __enter__(self) -> None:
        self.rw.acquire()  # new queries wait on rw until we release it
        while self.cg._readers:
            self.rw.wait()

    def __exit__(self, *exc) -> None:
        self.rw.release()


def k_shortest_paths(G, source, target, k: int, constraints: Constraints | None = None, *, weight: str = "weight", **kw) -> list[Path]:
    """k power-shortest loopless paths in a networkx (Multi)DiGraph.

    See the module docstring for edge attributes and ``model.constraints``
    for the constraints (a ``Constraints`` or its field names as keywords;
    unknown keywords raise ``TypeError``).
    """
    return CompiledGraph.from_networkx(G, weight=weight).k_shortest_paths(source, target, k, constraints, **kw)
