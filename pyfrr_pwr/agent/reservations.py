"""Bandwidth reservations on our own links (draft sec. 2.2; pure, no I/O).

A reservation takes bandwidth on the links of a chosen path; each router
on it reserves on its own link to the next hop, and its links re-advertise
less available bandwidth (a hard constraint, flooded at once: see
``advertise.Attachment``). The head-end's route covers its own area; an ABR
reached expands the next segment of the plan with CSPF at the reservation's
bandwidth. Signalling the hops to each other is ``signalling``'s business.

The table maps a reservation ID to ``{"ifname": str | None, "bw": bytes/s,
"next": router ID | None}``; ``ifname`` and ``next`` are None at the tail.
"""

from __future__ import annotations

from pyfrr_pwr.proto.control import AgentRefusal, Candidate

__all__ = ["reserved_bps", "available_bps", "reserve_hop", "release_hop", "plan"]


def reserved_bps(table: dict, ifname: str) -> float:
    """Bits/s reserved on one of our links."""
    return sum(r["bw"] * 8 for r in table.values() if r["ifname"] == ifname)


def available_bps(port, used_bps: float | None, reserved: float) -> float:
    """What a link has left, in bits/s: a configured figure wins (labs model
    the draft's table), else its speed less what is measured in use; less
    what is reserved either way."""
    if port.available is not None:
        avail = port.available
    elif used_bps is not None:
        avail = max(port.speed - used_bps, 0.0)
    else:
        avail = port.speed
    return max(avail - reserved, 0.0)


def plan(best: Candidate, dst: str) -> tuple[list, list]:
    """The head-end's explicit route and the later segments of a chosen
    inter-area path: [{"area", "to"}], to the next ABR through the backbone,
    then to the tail-end in its area."""
    steps = []
    if best.abr_chain:
        if len(best.abr_chain) > 1:
            steps.append({"area": "0.0.0.0", "to": best.abr_chain[1]})
        steps.append({"area": best.vector.area, "to": dst})
    return list(best.head_path), steps


def reserve_hop(table: dict, rid: str, bw: float, hops: list, plan: list, *, router_id: str | None, teds: dict, links, available) -> dict:
    """One hop of a reservation along an explicit route. ``hops`` starts
    with us; ``plan`` lists the later segments [{"area", "to"}]. Reserves on
    our own (advertised) link to the next hop and says where the request
    goes next: {"next": router ID, "hops", "plan"} or {"next": None} at the
    end. ``available(ifname)`` is a link's available bits/s."""
    from pyfrr_pwr.paths.ksp import k_shortest_paths

    if rid in table:
        raise AgentRefusal(f"reservation {rid} exists already")
    if len(hops) <= 1:
        if not plan:
            table[rid] = {"ifname": None, "bw": bw, "next": None}
            return {"next": None}
        seg, plan = plan[0], plan[1:]
        ted = teds.get(seg["area"])
        if ted is None:
            raise AgentRefusal(f"{router_id}: no TE database for area {seg['area']}")
        G = ted.graph()
        ps = k_shortest_paths(G, router_id, seg["to"], 1, min_bandwidth=bw) if router_id in G and seg["to"] in G else []
        if not ps:
            raise AgentRefusal(f"{router_id}: no path to {seg['to']} in area {seg['area']} with {bw * 8 / 1e9:g} Gb/s available")
        hops = list(ps[0].nodes)
    nxt = hops[1]
    cands = sorted(((available(l.ifname) or 0.0, l.ifname) for l in links if l.nbr_id == nxt and l.advertised), reverse=True)
    if not cands:
        raise AgentRefusal(f"{router_id}: no link to {nxt}")
    avail_bps, ifn = cands[0]
    if avail_bps < bw * 8:
        raise AgentRefusal(f"{router_id}: link {ifn} to {nxt} has {avail_bps / 1e9:g} Gb/s available, {bw * 8 / 1e9:g} Gb/s requested")
    table[rid] = {"ifname": ifn, "bw": bw, "next": nxt}
    return {"next": nxt, "hops": hops[1:], "plan": plan}


def release_hop(table: dict, rid: str) -> str | None:
    """Give a reservation's bandwidth back; returns the next hop."""
    r = table.pop(rid, None)
    return r["next"] if r else None
