"""The intra-area LSP planner and its installer (kept for tests and offline
use; the agent's LSPs go through ``agent.lsps.LspManager``). Re-exported
by ``agent.lsps``."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from pyfrr_pwr.agent.lsp_plan import LspError
from pyfrr_pwr.dataplane import sidlist


@dataclass
class HeadLsp:
    id: str
    tail: str
    route: tuple
    edges: tuple
    prefixes: tuple
    segs: tuple
    area: str
    dev: str | None = None
    installed: list = field(default_factory=list)  # prefixes installed

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "tail": self.tail,
            "area": self.area,
            "route": list(self.route),
            "links": [list(e) for e in self.edges],
            "prefixes": list(self.prefixes),
            "segs": list(self.segs),
            "dev": self.dev,
            "installed": list(self.installed),
        }


def _edges(G, route) -> tuple:
    out = []
    for u, v in zip(route, route[1:]):
        data = G.get_edge_data(u, v) if G.has_node(u) and G.has_node(v) else None
        if not data:
            raise LspError(f"no link {u} -> {v} in the TED of area {G.graph.get('area')}")
        key = min(data, key=lambda k: (data[k].get("weight", 0.0), str(k)))
        out.append((u, v, key))
    return tuple(out)


def plan_lsp(lsp_id: str, route, teds: dict, table: sidlist.SidTable, prefixes=None) -> HeadLsp:
    """The LSP of a reserved ``route`` (router IDs, head first) over one
    area's TED; ``prefixes`` (default: the tail's End.DX4 prefixes)."""
    route = tuple(route)
    if len(route) < 2:
        raise LspError(f"LSP {lsp_id}: route {list(route)} has no hop")
    head, tail = route[0], route[-1]
    area = next((a for a, t in sorted(teds.items()) if set(route) <= t.routers()), None)
    if area is None:
        raise LspError(f"LSP {lsp_id}: no single area holds route {list(route)}; inter-area LSPs go through LspManager (binding SIDs at ABRs)")
    if prefixes:
        try:
            pfx = tuple(str(ipaddress.IPv4Network(p)) for p in prefixes)
        except ValueError as exc:
            raise LspError(f"LSP {lsp_id}: {exc}") from None
    else:
        pfx = tuple(sorted(p for r, p in table.dx4 if r == tail))
        if not pfx:
            raise LspError(f"LSP {lsp_id}: tail {tail} advertises no TE prefix (End.DX4 SID); name one")
    edges = _edges(teds[area].graph(), route)
    segs = None
    for p in pfx:
        try:
            s = tuple(sidlist.build(list(edges), table, p, tail=tail, head=head).segs)
        except sidlist.SidListError as exc:
            raise LspError(f"LSP {lsp_id}: {exc}") from None
        if segs is not None and s[:-1] != segs[:-1]:
            raise LspError(f"LSP {lsp_id}: prefixes take different paths")
        segs = segs or s
    return HeadLsp(lsp_id, tail, route, edges, pfx, segs, area)


class HeadEnds:
    """The LSPs this head-end installed (``nl``: a ``Netlink``)."""

    def __init__(self, nl):
        self.nl = nl
        self.lsps: dict = {}

    def setup(self, lsp: HeadLsp, table: sidlist.SidTable) -> HeadLsp:
        if lsp.id in self.lsps:
            raise LspError(f"LSP {lsp.id} exists")
        lsp.dev = self.nl.ifname_of(lsp.edges[0][2])
        try:
            for p in lsp.prefixes:
                segs = (*lsp.segs[:-1], table.dx4_of(lsp.tail, p))
                self.nl.add_encap(p, segs, lsp.dev)
                lsp.installed.append(p)
        except Exception:
            self._remove(lsp)
            raise
        self.lsps[lsp.id] = lsp
        return lsp

    def _remove(self, lsp: HeadLsp) -> int:
        n = 0
        for p in list(lsp.installed):
            n += bool(self.nl.remove_encap(p))
            lsp.installed.remove(p)
        return n

    def release(self, lsp_id: str) -> int:
        lsp = self.lsps.pop(lsp_id, None)
        return self._remove(lsp) if lsp else 0

    def show(self) -> list:
        return [l.to_json() for _, l in sorted(self.lsps.items())]
