"""Per-graph state shared by every inter-area computation (draft sec. 2.1,
2.2; issue 10).

Every ABR's ``VectorComputer`` and every head-end's ``select`` run k
power-shortest-path searches over an area's TE graph (sec. 2.1: each ABR
computes the paths to the TE endpoints of its areas; sec. 2.2: the
head-end to its area's ABRs). The graph (``TED.graph()``) is one read-only
object per topology generation, so what they derive from it is derived
once per graph object and kept here, keyed weakly on that object:

* ``_GraphInfo``: every arc's figures (for the change diff and the
  aggregates) and the node set;
* the compiled graph (``ksp.CompiledGraph``, the C core's CSR form), shared
  by every computer with the same graph object, and updated in place
  (``CompiledGraph.update_edges``, where the KSP core offers it) when only
  link figures changed since the caller's previous graph.

A compiled graph is updated in place only by a ``VectorComputer`` that
compiled it for an earlier graph; its generation (``_CG_GEN``) tells every
other holder it is stale. In the agent those graphs belong to the worker
thread's TED snapshots, so no other thread queries a graph while it
changes. A caller that changes a graph object in place anyway (the
simulator's patched TEDs, ``evaluate.draft``) says so with
``invalidate(G)``.
"""

from __future__ import annotations

import inspect
import math
import weakref
from array import array

from pyfrr_pwr.model.ted import patch_origin
from pyfrr_pwr.paths.ksp import CompiledGraph

__all__ = ["invalidate"]


class _GraphInfo:
    """What the computation needs of one area graph, derived once per graph
    object (``TED.graph()`` returns one object per topology generation):
    every arc's figures for the change diff, the same figures in the form
    the aggregates read, and the node set.

    A graph the TED patched from another (only link figures changed,
    ``ted.patch_origin``) gets its figures from the other's, re-read only
    for the changed arcs; ``parent`` and ``changed`` then say which arcs
    can differ from the parent's, so a diff against the parent reads only
    those (issue 10: one link change must not cost O(links))."""

    __slots__ = ("edges", "nodes", "attrs", "parent", "changed", "_arrays", "__weakref__")

    def __init__(self, G, parent: _GraphInfo | None = None, changed: frozenset | None = None):
        self.parent, self.changed, self._arrays = None, None, None
        if parent is not None and changed is not None and all(e in parent.edges for e in changed):
            edges, attrs = dict(parent.edges), dict(parent.attrs)
            for e in changed:
                edges[e], attrs[e] = _figures(G.edges[e])
            self.edges, self.attrs, self.nodes = edges, attrs, parent.nodes
            self.parent, self.changed = weakref.ref(parent), changed
            return
        edges, attrs = {}, {}
        for u, v, k, d in G.edges(keys=True, data=True):
            edges[(u, v, k)], attrs[(u, v, k)] = _figures(d)
        self.edges, self.attrs, self.nodes = edges, attrs, frozenset(G)

    def changed_since(self, other: _GraphInfo) -> frozenset | None:
        """The arcs whose figures can differ from ``other``'s when this
        graph was patched from it (directly or through a few patches),
        else None (then compare everything)."""
        out, gi = set(), self
        for _ in range(8):
            if gi is other:
                return frozenset(out)
            if gi.parent is None:
                return None
            out |= gi.changed
            gi = gi.parent()
            if gi is None:
                return None
        return None

    def arrays(self):
        """The arc figures as arrays for the batched aggregates: (arc index
        by edge, weight, bandwidth, TE metric, admin groups, delay, delay
        variation), each with one more neutral arc at the end for padding;
        None when a figure's type would make the array sums differ from the
        scalar ones (not a float, or not a 64-bit-safe int)."""
        if self._arrays is None:
            parent = self.parent() if self.parent is not None else None
            base = parent.arrays() if parent is not None else None
            if (
                base is not None
                and all(type(x) is float for e in self.changed for x in _floats(self.attrs[e]))
                and all(type(x) is int and 0 <= x < 2**40 for e in self.changed for x in self.attrs[e][2:4])
            ):
                # the parent's arrays with the changed arcs' figures replaced
                eidx, *cols = base
                cols = [array(c.typecode, c) for c in cols]
                for e in self.changed:
                    i = eidx[e]
                    for c, x in zip(cols, self.attrs[e]):
                        c[i] = x
                self._arrays = (eidx, *cols)
            else:
                self._arrays = _arc_arrays(self.attrs) or False
        return self._arrays or None


def _figures(d: dict) -> tuple:
    """(diff figures, aggregate figures) of one arc's attribute dict."""
    dv = d.get("delay_var")
    return (
        (d["weight"], d.get("avail_bw"), d.get("admin_group"), d.get("delay"), d.get("te_metric"), dv),
        (d["weight"], d.get("avail_bw", math.inf), d.get("te_metric") or 0, d.get("admin_group") or 0, d.get("delay") or 0.0, dv or 0.0),
    )


def _floats(a: tuple) -> tuple:
    """The float figures of an aggregate-figures tuple (weight, bandwidth, delay, delay variation)."""
    return (a[0], a[1], a[4], a[5])


def _arc_arrays(attrs: dict):
    cols = list(zip(*attrs.values())) if attrs else [()] * 6
    w, bw, te, ad, dl, jt = cols
    if not all(type(x) is float for c in (w, bw, dl, jt) for x in c) or not all(type(x) is int and 0 <= x < 2**40 for c in (te, ad) for x in c):
        return None
    # flat buffers for the C kernel (paths.transit._aggregates_many, csrc/pwr_transit.c): no numpy (issue 10: agent RSS)
    return (
        {e: i for i, e in enumerate(attrs)},
        array("d", w + (0.0,)),
        array("d", bw + (math.inf,)),
        array("q", te + (0,)),
        array("q", ad + (0,)),
        array("d", dl + (0.0,)),
        array("d", jt + (0.0,)),
    )


# the KSP core knows delay variation (arc attribute, Constraints.max_jitter) when it compiles it
_KSP_JITTER = "jitter" in inspect.signature(CompiledGraph.from_networkx).parameters

_INFO_OF: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # graph -> _GraphInfo
_CG_OF: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # graph -> (CompiledGraph, its generation)
_CG_GEN: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # CompiledGraph -> in-place updates so far
_CHANGED_IN_PLACE: weakref.WeakSet = weakref.WeakSet()  # graphs handed to invalidate()


def _info(G) -> _GraphInfo:
    gi = _INFO_OF.get(G)
    if gi is None:
        origin = None if G in _CHANGED_IN_PLACE else patch_origin(G)
        parent = _INFO_OF.get(origin[0]) if origin is not None and origin[0] not in _CHANGED_IN_PLACE else None
        gi = _INFO_OF[G] = _GraphInfo(G, parent, origin[1] if parent is not None else None)
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
        since = gi.changed_since(prev_info)
        if since is not None or tuple(old.edge_keys) == tuple(gi.edges):
            changes = {}
            for e in gi.edges if since is None else since:
                st, was = gi.edges[e], prev_info.edges.get(e)
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


def invalidate(G) -> None:
    """Graph object ``G`` changed in place: forget what was derived from it
    (its figures and its compiled graph), so the next search reads it
    afresh. ``TED.graph()`` objects are read-only by contract; a caller that
    patches one anyway calls this after every patch. A ``VectorComputer``
    that last saw this same object still takes it as unchanged: hand it a
    new object (a copy) for that."""
    _INFO_OF.pop(G, None)
    _CG_OF.pop(G, None)
    _CHANGED_IN_PLACE.add(G)  # its figures are its own now: never derived from another graph's again
