"""A sweep as rich tables or as JSON (the I/O-free part: building them)."""

from __future__ import annotations

import math

from rich.table import Table

from pyfrr_pwr.evaluate.sweep import Sweep

__all__ = ["to_json", "detail_table", "sweep_table", "pick_point"]


def _w(v) -> str:
    return "-" if v is None else f"{v:,.0f}"


def _f(v, fmt="{:.3g}") -> str:
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else fmt.format(v)


def pick_point(sw: Sweep, scale: float | None):
    """The point nearest ``scale``; by default the middle one of those where
    every strategy placed everything (else the middle one)."""
    if not sw.points:
        return None
    if scale is not None:
        return min(sw.points, key=lambda p: abs(p.scale - scale))
    ok = [p for p in sw.points if not p.refusals] or sw.points
    return ok[(len(ok) - 1) // 2]


def instance_info(sw: Sweep) -> dict:
    inst = sw.inst
    net = inst.net
    return {
        "network": net.name,
        "source": net.source,
        "nodes": len(net.nodes),
        "links": len(net.links),
        "areas": list(net.areas),
        "areas_from": net.areas_from,
        "abrs": list(net.abrs),
        "demands": len(inst.base),
        "demand_source": inst.demand_source,
        "demand_gbps_at_scale_1": inst.total_bps / 1e9,
        "power_model": inst.power.where,
        "notes": list(inst.notes),
    }


def to_json(sw: Sweep) -> dict:
    o = sw.options
    return {
        "instance": instance_info(sw),
        "options": {
            "strategies": list(o.strategies),
            "k": o.k,
            "refresh": o.refresh,
            "time_limit_s": o.time_limit,
            "band_ratio": o.band_ratio,
            "hysteresis": o.hysteresis,
        },
        "points": [
            {
                "scale": p.scale,
                "offered_gbps": next(iter(p.rows.values())).offered_gbps if p.rows else None,
                "strategies": {s: r.to_dict() for s, r in p.rows.items()},
            }
            for p in sw.points
        ],
        "first_refusal": None if sw.first_refusal is None else {"scale": sw.first_refusal[0], "strategies": sw.first_refusal[1]},
        "seconds": sw.seconds,
    }


def sweep_table(sw: Sweep) -> Table:
    strategies = list(sw.options.strategies)
    net = sw.inst.net
    t = Table(title=f"{net.name}: total power (W) against load, as each strategy is operated; * = some demands refused")
    t.add_column("scale", justify="right")
    t.add_column("offered Gb/s", justify="right")
    for s in strategies:
        t.add_column(s, justify="right")
    for p in sw.points:
        off = next(iter(p.rows.values())).offered_gbps if p.rows else 0
        cells = []
        for s in strategies:
            r = p.rows[s]
            cells.append(("n/a" if r.watts is None else _w(r.watts)) + ("*" if r.refused else ""))
        t.add_row(f"{p.scale:.3g}", f"{off:,.1f}", *cells)
    return t


def detail_table(sw: Sweep, point) -> Table:
    net = sw.inst.net
    base = point.rows.get("ospf-invcap") or next(iter(point.rows.values()))
    t = Table(title=f"{net.name} at scale {point.scale:.3g} ({base.offered_gbps:,.1f} Gb/s offered, {len(sw.inst.base)} demands)")
    t.add_column("strategy", no_wrap=True)
    for c in (
        "W",
        "vs OSPF",
        "W if idle slept",
        "W per Gb/s",
        "placed",
        "refused",
        "max util",
        "mean util",
        "stretch",
        "idle links/cards",
        "asleep links/cards",
        "gap",
        "time s",
    ):
        t.add_column(c, justify="right")
    for s, r in point.rows.items():
        rel = "-" if r.watts is None or base.watts is None else f"{(r.watts / base.watts - 1) * 100:+.2f}%"
        t.add_row(
            s,
            _w(r.watts) if r.watts is not None else ("infeasible" if (r.notes or {}).get("infeasible") else "no solution"),
            rel,
            _w(r.watts_sleep),
            _f(r.w_per_gbps, "{:.2f}"),
            str(r.placed),
            str(r.refused),
            _f(r.max_util, "{:.2f}"),
            _f(r.mean_util, "{:.2f}"),
            _f(r.stretch, "{:.3f}"),
            f"{r.links_idle}/{r.cards_idle}",
            f"{r.links_asleep}/{r.cards_asleep}",
            _f(None if r.gap is None else r.gap * 100, "{:.1f}%"),
            _f(r.seconds, "{:.2f}"),
        )
    return t
