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

Each thread gets its own C workspace, and a query is one C call, the GIL
released around all of it: the search and the copying of every path's
arcs, node indices and cost into flat arrays (``pwr_ksp_flat``); a batch
is one such call per chunk of queries. So a
``CompiledGraph`` serves several threads at once (draft sec. 2.3), and what
holds the GIL is only the Python side of a result: one copy of those arrays
into a ``bytes`` and one small ``Path`` object per path. A single query has
C lay them out in the thread's own buffer, sizes and costs first
(``PWR_FLAT_INTO``), so it reads no cffi pointer or field back: one slice
of that buffer and one view of its costs. A ``Path``'s node
and edge tuples are built when some path of its result is first asked for
them, for every path of that result at once (one ``itemgetter`` call maps
arc ids and node indices to labels; each path is then two slices of those
tuples): a caller that reads only costs, or only the first path, builds
nothing else.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Hashable, Iterable
from itertools import accumulate, count, repeat, starmap
from operator import itemgetter
from typing import Any

import networkx as nx

from pyfrr_pwr._core import ffi, lib
from pyfrr_pwr.model.constraints import NAMES, Constraints
from pyfrr_pwr.paths.gcpause import pause as gc_pause

__all__ = ["Path", "CompiledGraph", "k_shortest_paths", "CONSTRAINTS"]

CONSTRAINTS = NAMES  # the keyword names; the set itself is model.constraints

_ERR = {lib.PWR_EINVAL: "invalid argument", lib.PWR_ENOMEM: "out of memory"}
_NO_CONSTRAINTS = Constraints()
_GC_PAUSE = 8  # queries in one batch above which the cyclic GC pauses while its paths are made
_CHUNK = 32  # queries per C call in a batch (see CompiledGraph.batch)
_K_MAX = 2**31 - 1  # k is an int32_t in C
# pwr_ksp_flat's flags (csrc/pwr_ksp.h)
_FLAT_PATHS, _FLAT_INTO, _FLAT_AGAIN = lib.PWR_FLAT_PATHS, lib.PWR_FLAT_INTO, lib.PWR_FLAT_AGAIN
_INTO_PATHS, _INTO_COSTS = _FLAT_INTO | _FLAT_PATHS, _FLAT_INTO
_ONE_BUF = 2048  # int32 entries of a thread's first single-query buffer (8 KiB)


def _take(labels, idx: list) -> tuple:
    """``tuple(labels[i] for i in idx)`` in one C call (itemgetter returns a bare item for one index)."""
    if len(idx) > 1:
        return itemgetter(*idx)(labels)
    return (labels[idx[0]],) if idx else ()


def _build(blk: list) -> tuple:
    """Every path's (nodes, edges) tuples of one result block, in path order.

    ``blk`` is ``[node labels, edge keys, flat int32 bytes, None, paths,
    arcs, start]`` (the flat layout of ``pwr_ksp_flat``, csrc/pwr_ksp.h,
    from the bytes' int32 entry ``start`` on); the two lists replace its
    None, so a block is built once.
    """
    labels, ekeys, raw, _, n, na, start = blk
    ints = memoryview(raw)[4 * start :].cast("i").tolist()
    off, noff = ints[: n + 1], ints[n + 1 : 2 * n + 2]
    ek = _take(ekeys, ints[2 * n + 2 : 2 * n + 2 + na])
    nl = _take(labels, ints[2 * n + 2 + na :])
    # a slice of a tuple is a tuple: each path costs two slices
    built = blk[3] = (list(map(nl.__getitem__, map(slice, noff, noff[1:]))), list(map(ek.__getitem__, map(slice, off, off[1:]))))
    return built


class Path:
    """One path: its nodes, its edges as ``(u, v, key)`` and its cost.

    It behaves as the named tuple ``(nodes, edges, cost)`` it used to be:
    ``nodes, edges, cost = p``, ``p[1]``, ``len(p) == 3``, equality, order
    and hash as that tuple's (a Path equals the plain tuple of its fields),
    ``_fields``, ``_asdict()``, ``_replace()``, pickling. It is no tuple
    subclass: a query makes one per path with only its cost set (an ABR
    makes thousands per recomputation), and ``nodes`` and ``edges`` (tuples)
    are built from the C results on first use (see the module docstring).
    """

    __slots__ = ("cost", "_n", "_e", "_b", "_i")
    _fields = ("nodes", "edges", "cost")

    def __init__(self, nodes: tuple, edges: tuple, cost: float) -> None:
        self._n, self._e, self.cost, self._b = nodes, edges, cost, None

    def _fill(self) -> None:
        blk = self._b
        built = blk[3] or _build(blk)
        i = self._i
        self._n, self._e, self._b = built[0][i], built[1][i], None

    @property
    def nodes(self) -> tuple:
        if self._b is not None:
            self._fill()
        return self._n

    @property
    def edges(self) -> tuple:
        if self._b is not None:
            self._fill()
        return self._e

    def _tuple(self) -> tuple:
        if self._b is not None:
            self._fill()
        return (self._n, self._e, self.cost)

    def __iter__(self):
        return iter(self._tuple())

    def __len__(self) -> int:
        return 3

    def __getitem__(self, i):
        return self._tuple()[i]

    def __eq__(self, other) -> bool:
        if isinstance(other, Path):
            return self is other or self._tuple() == other._tuple()
        if isinstance(other, tuple):
            return self._tuple() == other
        return NotImplemented

    def __lt__(self, other) -> bool:
        o = _as_tuple(other)
        return NotImplemented if o is None else self._tuple() < o

    def __le__(self, other) -> bool:
        o = _as_tuple(other)
        return NotImplemented if o is None else self._tuple() <= o

    def __gt__(self, other) -> bool:
        o = _as_tuple(other)
        return NotImplemented if o is None else self._tuple() > o

    def __ge__(self, other) -> bool:
        o = _as_tuple(other)
        return NotImplemented if o is None else self._tuple() >= o

    def __hash__(self) -> int:
        return hash(self._tuple())

    def __repr__(self) -> str:
        n, e, c = self._tuple()
        return f"Path(nodes={n!r}, edges={e!r}, cost={c!r})"

    def __reduce__(self):
        return (Path, self._tuple())

    def _asdict(self) -> dict:
        return dict(zip(self._fields, self._tuple()))

    def _replace(self, **kw) -> Path:
        d = self._asdict()
        bad = set(kw) - set(d)
        if bad:
            raise ValueError(f"Got unexpected field names: {sorted(bad)!r}")
        d.update(kw)
        return Path(**d)

    @classmethod
    def _make(cls, iterable) -> Path:
        return cls(*iterable)


class _LazyPath(Path):
    """A query's Path: made with no arguments (``object.__init__``, no
    Python frame), its fields set by the query (see the module docstring);
    it is a Path in every other way (pickles as one)."""

    __slots__ = ()
    __init__ = object.__init__


def _paths(blk: list, costs: list, n: int) -> list:
    """The n Paths of one result block (``_build``), each with its cost."""
    paths = list(starmap(_LazyPath, repeat((), n)))
    i = 0
    for p in paths:
        p.cost = costs[i]
        p._b = blk
        p._i = i
        i += 1
    return paths


def _as_tuple(other) -> tuple | None:
    if isinstance(other, Path):
        return other._tuple()
    return other if isinstance(other, tuple) else None


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
        tail = [idx[e[0]] for e in elist]
        head = [idx[e[1]] for e in elist]
        w, bw, ag, dl, jt = [], [], [], [], []
        inf = math.inf
        for u, v, k, d in elist:
            try:
                wi = float(d.get(weight, 1.0))
                bi = float(d.get(bandwidth, inf))
                di = float(d.get(delay, 0.0))
                ji = float(d[jitter]) if jitter in d else 0.0
                a = d.get(admin_group, 0)
                ai = a if type(a) is int and 0 <= a < 2**32 else _mask(f"edge {u}->{v} attribute {admin_group!r}", a)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"edge {u}->{v} (key {k!r}): {exc}") from None
            if not (0.0 <= wi < inf):
                raise ValueError(f"edge {u}->{v} (key {k!r}): {weight!r} must be finite and >= 0, got {wi}")
            if not (0.0 <= di < inf):
                raise ValueError(f"edge {u}->{v} (key {k!r}): {delay!r} must be finite and >= 0, got {di}")
            if not (0.0 <= ji < inf):
                raise ValueError(f"edge {u}->{v} (key {k!r}): {jitter!r} must be finite and >= 0, got {ji}")
            if bi != bi:
                raise ValueError(f"edge {u}->{v} (key {k!r}): {bandwidth!r} is NaN")
            w.append(wi)
            bw.append(bi)
            dl.append(di)
            jt.append(ji)
            ag.append(ai)
        self.head_labels = [self.nodes[h] for h in head]
        self.weights = w  # a list of floats in edge_keys order
        err = ffi.new("int *")
        bad = ffi.new("int32_t *")
        g = lib.pwr_graph_new(
            len(self.nodes),
            m,
            ffi.new("int32_t[]", tail),
            ffi.new("int32_t[]", head),
            ffi.new("double[]", w),
            ffi.new("double[]", bw),
            ffi.new("uint32_t[]", ag),
            ffi.new("double[]", dl),
            err,
            bad,
        )
        if g == ffi.NULL:
            where = f" (edge {self.edge_keys[bad[0]]})" if bad[0] >= 0 else ""
            raise ValueError(f"cannot compile graph: {_ERR.get(err[0], err[0])}{where}")
        self._g = ffi.gc(g, lib.pwr_graph_free)
        if any(jt) and lib.pwr_graph_set_jitter(self._g, ffi.new("double[]", jt), bad) != lib.PWR_OK:
            raise ValueError(f"cannot compile graph: invalid {jitter!r} (edge {self.edge_keys[bad[0]]})")  # pragma: no cover - checked above
        self._local = threading.local()
        self._pair_index: dict | None = None
        self._key_index: dict | None = None
        self._cons_cache: dict = {}  # Constraints -> (C struct, arrays it points to)
        self._no_cons = self._build_constraints(_NO_CONSTRAINTS)  # the same for no constraints at all
        self._c0 = self._no_cons[0]
        # Readers (queries, the GIL released inside C) vs. writers (in-place
        # updates): the C graph must not change under a running query. A
        # query counts itself in and out on two counters (a C call each,
        # atomic under the GIL) and backs off while _writing is set; a
        # writer holds _wlock, sets _writing, then waits until every query
        # that counted itself in has counted itself out (_WriteGuard).
        self._enter = count().__next__
        self._leave = count().__next__
        self._writing = False
        self._wlock = threading.Lock()
        return self

    # -- in-place updates (the topology is fixed; a new one needs a compile) --

    def _write(self):
        """Wait for running queries and keep new ones out (use with ``with``)."""
        return _WriteGuard(self)

    def set_weights(self, weights) -> None:
        """Replace every edge's weight, in ``edge_keys`` order, in place (O(m))."""
        if hasattr(weights, "reshape"):  # an array (of any shape), as before
            weights = weights.reshape(-1).tolist()
        try:
            w = [float(x) for x in weights]
        except (TypeError, ValueError) as exc:
            raise ValueError(f"set_weights: {exc}") from None
        if len(w) != len(self.edge_keys):
            raise ValueError(f"set_weights: {len(w)} weights for {len(self.edge_keys)} edges")
        for i, x in enumerate(w):
            if not 0.0 <= x < math.inf:
                raise ValueError(f"set_weights: edge {self.edge_keys[i]} weight must be finite and >= 0, got {x}")
        badp = ffi.new("int32_t *")
        with self._write():
            rc = lib.pwr_graph_set_weights(self._g, ffi.new("double[]", w), badp)
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

    def _state(self) -> tuple:
        """This thread's (C workspace, pwr_flat result struct), made on first use."""
        try:
            return self._local.ts
        except AttributeError:
            pass
        raw = lib.pwr_ws_new(self._g)
        if raw == ffi.NULL:
            raise MemoryError("cannot allocate a KSP workspace")
        ts = self._local.ts = (ffi.gc(raw, lib.pwr_ws_free), ffi.new("pwr_flat *"))
        return ts

    def _ws(self):
        return self._state()[0]

    def _one_state(self, need: int = 0) -> tuple:
        """This thread's state for single queries: (C workspace, pwr_flat,
        its int32 and double views of the buffer C lays results out in,
        the buffer's cdata); a new buffer of at least ``need`` entries."""
        ws, _ = self._state()
        cap = max(need + need // 4, _ONE_BUF) + 1 & ~1  # even: a whole number of doubles
        buf = bytearray(4 * cap)
        cb = ffi.from_buffer("int32_t[]", buf)
        try:
            out = self._local.one[1]
        except AttributeError:
            out = ffi.new("pwr_flat *")
        out.flat, out.flat_len = cb, cap  # read by C as the caller's buffer (PWR_FLAT_INTO), never changed by it
        mv = memoryview(buf)
        one = self._local.one = (ws, out, mv.cast("i"), mv.cast("d"), buf, cb)
        return one

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
            return self._no_cons
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

    def _cstruct(self, k, constraints, kw):
        """Check k; the C constraints struct for (constraints, kw)."""
        if type(k) is not int and (not isinstance(k, int) or isinstance(k, bool)) or not 0 <= k <= _K_MAX:
            raise ValueError(f"k must be a non-negative integer, got {k!r}")
        if constraints is None and not kw:
            return self._no_cons[0]
        return self._constraints(Constraints.of(constraints, **kw))[0]

    def _wait_writer(self) -> None:
        """A writer is updating the C graph: wait until it is done (see _WriteGuard)."""
        self._leave()
        with self._wlock:
            pass
        self._enter()
        while self._writing:  # another writer came first
            self._leave()
            with self._wlock:
                pass
            self._enter()

    def _query(self, s, d, nq: int, k: int, cons: Constraints):
        """Run ``nq`` queries (C arrays ``s``, ``d``) in C with the GIL released; return (ws, paths in total).

        The results stay in ``ws`` (``lib.pwr_result_*``) until this thread's next query.
        """
        self._cstruct(k, None, {})  # checks k
        c = self._constraints(cons)[0]
        ws = self._state()[0]
        self._enter()
        try:
            if self._writing:
                self._wait_writer()
            rc = lib.pwr_ksp_batch(self._g, ws, s, d, nq, k, c)
        finally:
            self._leave()
        if rc < 0:
            raise RuntimeError(f"KSP query failed: {_ERR.get(rc, rc)}")
        return ws, rc

    def _result(self, out, n: int) -> list[Path]:
        """The Path objects of the last ``pwr_ksp_flat`` (``n`` paths in ``out``).

        One copy of the flat arrays into a ``bytes`` and one Path per path
        with its cost; nodes and edges wait in the shared block (_build).
        """
        blk = [self._labels, self.edge_keys, ffi.buffer(out.flat, 4 * out.flat_len)[:], None, n, out.narcs, 0]
        return _paths(blk, ffi.unpack(out.costs, n), n)

    def _run(self, srcs: list[int], dsts: list[int], k: int, c, what: int = lib.PWR_FLAT_PATHS):
        """All queries in one C call (search and flat results, the GIL released); return (out, paths in total)."""
        ws, out = self._state()
        nq = len(srcs)
        sa = ffi.new("int32_t[]", srcs) if nq else ffi.NULL
        da = ffi.new("int32_t[]", dsts) if nq else ffi.NULL
        self._enter()
        try:
            if self._writing:
                self._wait_writer()
            rc = lib.pwr_ksp_flat(self._g, ws, sa, da, nq, k, c, what, out)
        finally:
            self._leave()
        if rc < 0:
            raise RuntimeError(f"KSP query failed: {_ERR.get(rc, rc)}")
        return out, rc

    # -- queries -----------------------------------------------------------

    def k_shortest_paths(self, source, target, k: int, constraints: Constraints | None = None, **kw) -> list[Path]:
        """The k cheapest loopless paths source -> target, sorted by cost,
        equal costs in the canonical order (the module docstring).

        Constraints come as a ``Constraints`` or as its field names as
        keywords. Returns fewer than k (possibly none) when fewer feasible
        paths exist.
        """
        n, one = self._one(source, target, k, constraints, kw, _INTO_PATHS)
        if not n:
            return []
        ints = one[2]
        # one copy of the layout (header, costs, count, then the paths from
        # entry 5 + 2n on) and one Path per path, its cost set; the rest
        # waits in the shared block (_build)
        blk = [self._labels, self.edge_keys, one[4][: 4 * ints[0]], None, n, ints[2], 5 + 2 * n]
        return _paths(blk, one[3][2 : 2 + n].tolist(), n)

    def costs(self, source, target, k: int, constraints: Constraints | None = None, **kw) -> list[float]:
        """The costs of the k cheapest loopless paths, without building ``Path`` objects."""
        n, one = self._one(source, target, k, constraints, kw, _INTO_COSTS)
        return one[3][2 : 2 + n].tolist()

    def _one(self, source, target, k: int, constraints, kw: dict, what: int):
        """One query in one C call (``pwr_ksp_flat1`` laying its results out
        in this thread's buffer, ``what``: with the paths or costs only):
        (how many, the thread's single-query state, see _one_state)."""
        ix = self.index
        try:
            s, t = ix[source], ix[target]
        except (KeyError, TypeError):
            s, t = self._node(source), self._node(target)
        if constraints is None and not kw and type(k) is int and 0 <= k <= _K_MAX:
            c = self._c0  # the common case, without a call
        else:
            c = self._cstruct(k, constraints, kw)
        try:
            one = self._local.one
        except AttributeError:
            one = self._one_state()
        self._enter()
        try:
            if self._writing:
                self._wait_writer()
            n = lib.pwr_ksp_flat1(self._g, one[0], s, t, k, c, what, one[1])
        finally:
            self._leave()
        if n < 0:
            raise RuntimeError(f"KSP query failed: {_ERR.get(n, n)}")
        need = one[2][0]
        if need > len(one[2]):  # more than any query before on this thread: the results wait in ws
            one = self._one_state(need)
            n = lib.pwr_ksp_flat1(self._g, one[0], s, t, k, c, what | _FLAT_AGAIN, one[1])
            if n < 0:  # pragma: no cover - the buffer fits now
                raise RuntimeError(f"KSP query failed: {_ERR.get(n, n)}")
        return n, one

    def batch(self, pairs: Iterable[tuple], k: int, constraints: Constraints | None = None, **kw) -> list[list[Path]]:
        """k paths for each (source, target) pair.

        Consecutive pairs with the same target share one reverse search.
        Up to ``_CHUNK`` queries (more while the target stays the same) are
        one C call, the searches and the copying of their results with the
        GIL released; then their Path objects are made. So a second thread's
        C part overlaps this one's Python part, chunk by chunk, which is
        what lets two threads scale (draft sec. 2.3).
        """
        pairs = list(pairs)
        ix = self.index
        try:  # one dict lookup a node: a method call each took twice as long (37 us for 200 pairs)
            srcs = [ix[s] for s, _ in pairs]
            dsts = [ix[t] for _, t in pairs]
        except (KeyError, TypeError):
            node = self._node  # names the node that is not in the graph
            srcs = [node(s) for s, _ in pairs]
            dsts = [node(t) for _, t in pairs]
        c = self._cstruct(k, constraints, kw)
        nq = len(pairs)
        if nq <= 1:
            out, total = self._run(srcs, dsts, k, c)
            return [self._result(out, total) if total else []] if nq else []
        if nq <= _GC_PAUSE:
            return self._chunks(srcs, dsts, k, c)
        # thousands of new objects would trigger collections that walk every
        # tracked object (the caller's networkx graphs too), for nothing:
        # none of them can be part of a cycle (paths.gcpause: one pause for all threads)
        with gc_pause:
            return self._chunks(srcs, dsts, k, c)

    def _chunks(self, srcs: list[int], dsts: list[int], k: int, c) -> list[list[Path]]:
        """batch's loop: one C call per chunk of queries, then their Paths."""
        res: list[list[Path]] = []
        nq = len(srcs)
        lo = 0
        while lo < nq:
            hi = min(lo + _CHUNK, nq)
            while hi < nq and dsts[hi] == dsts[hi - 1]:
                hi += 1
            out, total = self._run(srcs[lo:hi], dsts[lo:hi], k, c)
            if total:
                paths = self._result(out, total)
                qhi = list(accumulate(ffi.unpack(out.counts, hi - lo)))
                res += map(paths.__getitem__, map(slice, [0, *qhi[:-1]], qhi))
            else:
                res += [[] for _ in range(lo, hi)]
            lo = hi
        return res

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
    """Exclusive access to a CompiledGraph's C graph for an in-place update.

    Holding ``_wlock`` with ``_writing`` set keeps new queries out (they
    back off in ``_wait_writer``); then it waits until the queries already
    in C have left: the leave counter read before the enter counter equals
    it (each read counts one on its counter, so the writer's own reads
    cancel out), and a count read that way can only overstate how many are
    inside.
    """

    __slots__ = ("cg",)

    def __init__(self, cg: CompiledGraph) -> None:
        self.cg = cg

    def __enter__(self) -> None:
        cg = self.cg
        cg._wlock.acquire()
        cg._writing = True
        while cg._leave() != cg._enter():
            time.sleep(0.0001)  # a query is microseconds to milliseconds of C

    def __exit__(self, *exc) -> None:
        self.cg._writing = False
        self.cg._wlock.release()


def k_shortest_paths(G, source, target, k: int, constraints: Constraints | None = None, *, weight: str = "weight", **kw) -> list[Path]:
    """k power-shortest loopless paths in a networkx (Multi)DiGraph.

    See the module docstring for edge attributes and ``model.constraints``
    for the constraints (a ``Constraints`` or its field names as keywords;
    unknown keywords raise ``TypeError``).
    """
    return CompiledGraph.from_networkx(G, weight=weight).k_shortest_paths(source, target, k, constraints, **kw)
