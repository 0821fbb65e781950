"""Head-end LSPs over SRv6 (issue 7 sec. 2, first step; not wired yet).

After a reservation succeeded (``signalling.reserve_path``: the explicit
route, router IDs hop by hop), the head-end turns the route into a SID
list (``dataplane.sidlist.build``: the End.X SID of each hop's near end,
then the tail's End.DX4 SID for the prefix) from the SIDs its TED learnt
(``AgentCore.sid_table``), and installs one IPv4-in-IPv6 encap route per
prefix (``Netlink.add_encap``); ``release`` removes exactly those.

``plan_lsp`` is pure. Parallel links between two hops: the one of least
PWRLINK (the TED graph's weight), as the CSPF would have chosen.
Prefixes default to what the tail advertises (its End.DX4 prefixes, SRv6
Locator TLV).

Not done yet: inter-area LSPs (the head-end's TEDs do not hold the other
areas' End.X SIDs; each ABR must install a binding SID for its segment,
``SidPlan.binding``, and the head-end's list end at the first ABR);
driving ``dataplane.lsp``'s state machine (backup legs, make-before-break);
and the control-socket / CLI wiring (``Reserve.prefixes`` and an ``lsps``
request belong to ``proto.control``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from pyfrr_pwr.dataplane import sidlist

__all__ = ["LspError", "HeadLsp", "plan_lsp", "HeadEnds", "LspManager"]


class LspError(ValueError):
    """An LSP that cannot be set up; the message says why."""


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
        raise LspError(f"LSP {lsp_id}: no single area holds route {list(route)}; inter-area LSPs (binding SIDs at ABRs) are not done yet")
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
    # one list per prefix differs only in the DX4 SID: keep them apart
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


class LspManager:
    """The daemon's one hook for LSPs (issue 7): the control requests it
    answers (``REQUESTS``), its task (``run``) and what it removes when the
    agent stops (``stop``). For now reserve and release go to signalling
    as before; the data plane is wired in here, not in the daemon."""

    REQUESTS: tuple = ()

    def __init__(self, core, signalling, srv6, name: str = "agent"):
        from pyfrr_pwr.proto import control as msg

        self.core, self.signalling, self.srv6, self.name = core, signalling, srv6, name
        self.REQUESTS = (msg.Reserve, msg.Release)

    async def control(self, req):
        return await self.signalling.control(req)

    async def run(self) -> None:
        import asyncio

        await asyncio.Event().wait()  # nothing periodic yet (a finished task would stop the agent)

    async def stop(self) -> None:
        return None
