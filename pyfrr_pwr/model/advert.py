"""What a router advertises: its PWR Link TLVs and node TLVs.

Joins a router's power model (``model.power``, built from its power.yml by
``files.power``), the draft's arithmetic (``metric``) and the wire objects
(``wire``). The agent calls these with measured available bandwidth; the
offline CLI with the configured figures. Pure functions.

A multi-capacity port running below its highest capacity (sec. 2.1.1) also
sends that highest capacity (``highest_bw``, Link sub-TLV 32772), so the
receivers can weight its end of the PWRLINK by max_bw / highest_bw; a port
at its highest capacity leaves it out (weight 1.0).

SRv6 (issue 7): given the agent's SID advertisement (the plain dict of
``dataplane.sids.SidPlan.advertised()``; the model does not import the
data plane), a Link TLV carries its End.X SID (``end_x``) and the node
LSA an SRv6 Locator TLV (locator, End SID, End.DX4 SIDs).

Delay (issue 9 sec. 2, RFC 7471 sec. 4.1-4.3): a Link TLV carries the
port's configured ``delay_us`` and ``delay_var_us`` (power.yml, read by
``files.catscfg`` into ``cfg.cats.port_delays``), or, when the agent
passes the probes' figures (``agent.probe.link_figures``: configured
values already win there), the measured delay, min/max and variation.
A compute site's Node Energy and Service Instance TLVs (built by
``cats``, which sits above this module) travel in a site LSA of their own
(``agent.advertise``), not in the node LSA: an energy update then
re-originates neither the node's endpoint, ABR and SRv6 TLVs nor looks
like a topology change to a TED. ``node_tlvs(..., extra=...)`` still
takes extra TLVs for the node LSA.
"""

from __future__ import annotations

from pyfrr_pwr.model import metric
from pyfrr_pwr.model.power import RouterPower
from pyfrr_pwr.proto import wire

__all__ = ["link_tlv", "node_tlvs", "srv6_tlv"]


def link_tlv(
    cfg: RouterPower,
    ifname: str,
    neighbor_id: str,
    local_addr: str | None,
    remote_addr: str | None,
    available_bps: float | None = None,
    used_bps: dict | None = None,
    generation: int | None = None,
    measured_w: dict | None = None,
    end_x: str | None = None,
    delay: dict | None = None,
) -> wire.LinkTLV:
    """The Link TLV for one point-to-point port (RFC 3630 sec. 2.5, draft
    sec. 2.1.9): link ID is the neighbour's router ID. ``delay``: the
    probes' RFC 7471 figures (``delay_us``, ``delay_min_us``,
    ``delay_max_us``, ``delay_var_us``; any subset), else the port's
    configured ones."""
    m = cfg.port_metrics(ifname, available_bps, used_bps, measured_w)
    p = cfg.ports[ifname]
    # a multi-capacity port below its highest capacity says so (sec. 2.1.1)
    highest = metric.bps_to_Bps(p.highest_speed) if p.highest_speed > p.speed else None
    d = _delays(cfg, ifname, p, delay)
    return wire.LinkTLV(
        link_id=neighbor_id,
        link_type=wire.LINK_P2P,
        local_addrs=(local_addr,) if local_addr else (),
        remote_addrs=(remote_addr,) if remote_addr else (),
        te_metric=p.te_metric,
        max_bw=m.max_Bps,
        avail_bw=m.avail_Bps,
        admin_group=p.admin_group,
        delay_us=d.get("delay_us"),
        delay_min_us=d.get("delay_min_us"),
        delay_max_us=d.get("delay_max_us"),
        delay_var_us=d.get("delay_var_us"),
        pwr_mcast=m.mcast,
        pwr_consumed=m.consumed,
        pwr_available=m.available,
        generation=generation,
        highest_bw=highest,
        end_x=end_x,
    )


def _delays(cfg, ifname: str, port, measured: dict | None) -> dict:
    """RFC 7471 figures for a Link TLV, clamped to 24 bits; min/max only
    as a pair and in order (the wire refuses anything else)."""
    conf = dict((getattr(getattr(cfg, "cats", None), "port_delays", None) or {}).get(ifname) or {})
    if port.delay_us is not None:
        conf.setdefault("delay_us", port.delay_us)
    src = measured if measured is not None else conf
    out = {}
    for k in ("delay_us", "delay_min_us", "delay_max_us", "delay_var_us"):
        v = src.get(k)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v:
            out[k] = min(0xFFFFFF, max(0, int(round(v))))
    if ("delay_min_us" in out) != ("delay_max_us" in out) or out.get("delay_min_us", 0) > out.get("delay_max_us", 0):
        out.pop("delay_min_us", None)
        out.pop("delay_max_us", None)
    return out


def srv6_tlv(router_id: str, srv6: dict) -> wire.SRv6Locator:
    """The SRv6 Locator TLV from a ``SidPlan.advertised()`` dict."""
    return wire.SRv6Locator(router_id, str(srv6["locator"]), str(srv6["end"]), tuple(sorted((str(p), str(s)) for p, s in srv6.get("dx4", {}).items())))


def node_tlvs(cfg: RouterPower | None, router_id: str, areas: set, srv6: dict | None = None, extra=()) -> list:
    """TE Endpoint TLV for configured endpoints, Area Border TLV for ABRs
    (draft sec. 2), SRv6 Locator TLV when the agent has a SID plan
    (``srv6``: ``SidPlan.advertised()``), then ``extra`` (a compute site's
    ``wire.NodeEnergy`` and ``wire.ServiceInstance`` TLVs, issue 9)."""
    out = []
    if cfg is not None and cfg.te_endpoint:
        flags = (wire.EP_HEAD if cfg.te_head else 0) | (wire.EP_TAIL if cfg.te_tail else 0)
        out.append(wire.TEEndpoint(router_id, flags))
    if len(areas) > 1:
        out.append(wire.AreaBorder(router_id, tuple(sorted(areas))))
    if srv6:
        out.append(srv6_tlv(router_id, srv6))
    out.extend(extra)
    return out
