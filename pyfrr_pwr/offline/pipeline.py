"""Offline computation over a topology file: what every router of the lab
would advertise, flooded through the real encoder and decoder into per-area
TE databases, then CSPF on them. The agent does the same with measured
figures and ospfd in between."""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from pyfrr_pwr.files.power import ConfigError
from pyfrr_pwr.files.topology import Topology
from pyfrr_pwr.model import advert, metric
from pyfrr_pwr.model.ted import TED
from pyfrr_pwr.proto import wire

__all__ = ["PortRow", "LinkRow", "link_rows", "build_teds", "whole_graph"]


@dataclass(frozen=True)
class PortRow:
    router: str
    ifname: str
    line_card: str | None
    port: str | None
    consumed: float
    available: float | None
    effective: float
    avail_Bps: float
    max_Bps: float
    weight: float = 1.0  # running / highest speed, for the weighted PWRLINK


@dataclass(frozen=True)
class LinkRow:
    label: str
    area: str | None
    a: PortRow | None
    b: PortRow | None

    @property
    def pwrlink(self) -> float | None:
        """Both ends' POWER, weighted as the TED weights them (sec. 2.1.1)."""
        a, b = self.a, self.b
        return metric.link_pwrlink(a.effective if a else None, b.effective if b else None, a.weight if a else 1.0, b.weight if b else 1.0)


def _port_row(topo: Topology, node: str, ifname: str) -> PortRow | None:
    r = topo.routers.get(node)
    if r is None or r.power is None or ifname not in r.power.ports:
        return None
    m = r.power.port_metrics(ifname)
    p = r.power.ports[ifname]
    return PortRow(node, ifname, p.line_card, p.port, m.consumed, m.available, m.effective, m.avail_Bps, m.max_Bps, m.weight)


def _label(topo: Topology, link) -> str:
    for node, ifname in (link.a, link.b):
        r = topo.routers.get(node)
        if r and r.power and ifname in r.power.ports and r.power.ports[ifname].link:
            return r.power.ports[ifname].link
    return f"link{link.index + 1}"


def _area_of(topo: Topology, link) -> str | None:
    for node, ifname in (link.a, link.b):
        r = topo.routers.get(node)
        if r and ifname in r.interfaces and r.interfaces[ifname].area:
            return r.interfaces[ifname].area
    return None


def link_rows(topo: Topology) -> list[LinkRow]:
    """Every link's POWER per end and PWRLINK (draft sec. 2.1.1), from the
    configured figures (the TED gets the same from the wire)."""
    return [LinkRow(_label(topo, l), _area_of(topo, l), _port_row(topo, *l.a), _port_row(topo, *l.b)) for l in topo.links]


def build_teds(topo: Topology, profile: str = "draft", opaque_type: int = wire.DEFAULT_OPAQUE_TYPE) -> dict:
    """Per-area TEDs holding what each router would flood."""
    teds: dict = {}
    counters: dict = {}

    def ted(area):
        return teds.setdefault(area, TED(area, profile))

    def originate(rid, area, tlvs):
        n = counters.get(rid, 0) + 1
        counters[rid] = n
        ted(area).apply(rid, wire.make_lsid(opaque_type, n), wire.encode(tlvs, profile))

    for l in topo.links:
        for (na, ia), (nb, ib) in ((l.a, l.b), (l.b, l.a)):
            ra, rb = topo.routers.get(na), topo.routers.get(nb)
            if ra is None or rb is None or ra.power is None or ia not in ra.power.ports:
                continue
            if not ra.router_id or not rb.router_id:
                raise ConfigError(f"{topo.path}: link {na}:{ia} - {nb}:{ib}: both routers need an OSPF router-id in frr.conf")
            fa, fb = ra.interfaces.get(ia), rb.interfaces.get(ib)
            area = fa.area if fa and fa.area else None
            if area is None:
                raise ConfigError(f"{ra.files.get('/etc/frr/frr.conf', topo.path)}: interface {ia}: no 'ip ospf area'")
            la = str(fa.address.ip) if fa and fa.address else None
            lb = str(fb.address.ip) if fb and fb.address else None
            originate(ra.router_id, area, [advert.link_tlv(ra.power, ia, rb.router_id, la, lb)])
    for r in topo.routers.values():
        if not r.router_id:
            continue
        for area in sorted(r.areas):
            tlvs = advert.node_tlvs(r.power, r.router_id, r.areas)
            if tlvs:
                originate(r.router_id, area, tlvs)
    return teds


def interarea(topo: Topology, teds: dict, k: int = 8, constraints: dict | None = None) -> dict:
    """Every ABR's vectors, computed and flooded (installed in the area
    TEDs) until stable; returns {abr router ID: {area: [vectors]}}."""
    from pyfrr_pwr.paths.interarea import converge

    abrs = {r.router_id: {a: teds[a] for a in r.areas if a in teds} for r in topo.routers.values() if r.abr and r.router_id}
    return converge(abrs, k, constraints)


def area_of_router(topo: Topology, teds: dict, rid: str) -> str | None:
    """The (non-backbone if any) area a TE endpoint sits in."""
    areas = sorted(a for a, t in teds.items() if rid in t.routers())
    non_bb = [a for a in areas if a != "0.0.0.0"]
    return (non_bb or areas or [None])[0]


def whole_graph(teds: dict, area: str | None = None) -> nx.MultiDiGraph:
    """One area's CSPF graph, or (offline only, a central view no router
    has) the union of all areas."""
    if area is not None:
        if area not in teds:
            raise ConfigError(f"no area {area} in this topology (areas: {', '.join(sorted(teds))})")
        return teds[area].graph()
    return nx.compose_all([t.graph() for t in teds.values()]) if teds else nx.MultiDiGraph()
