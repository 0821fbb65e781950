"""Plots of a sweep (matplotlib, Agg backend: no display needed), each
written as PNG and SVG.

* ``power_vs_load``: total power against offered load, one line per
  strategy as operated, the optimum's lower bound dashed; below, the
  strategies that keep every element up in watts relative to OSPF (inverse
  capacity), where their differences are visible; hollow markers where a
  strategy refused demands.
* ``topology``: the network drawn at its coordinates (topohub: longitude,
  latitude; otherwise a spring layout, seed 0), links coloured by
  utilisation (the busier direction), dashed grey when asleep, labelled
  with PWRLINK in W per Gb/s at that load (draft sec. 2.1.1: both ends'
  POWER from ``RouterPower.port_metrics`` at the available bandwidth left
  and the line cards' load), routers coloured by area, ABRs ringed.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402

from pyfrr_pwr.evaluate.network import BACKBONE  # noqa: E402
from pyfrr_pwr.model import metric  # noqa: E402

__all__ = ["power_vs_load", "topology", "pwrlinks", "BASELINE"]

BASELINE = "ospf-invcap"
SLEEPING = ("powerdown", "optimum-sleep")

STYLE = {
    "ospf-hop": ("tab:gray", "o"),
    "ospf-invcap": ("black", "s"),
    "draft": ("tab:blue", "^"),
    "draft-inter": ("tab:cyan", "v"),
    "powerdown": ("tab:orange", "D"),
    "optimum": ("tab:green", "*"),
    "optimum-sleep": ("tab:red", "P"),
}


def _save(fig, stem: Path) -> list:
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for ext in ("png", "svg"):
        p = stem.with_suffix(f".{ext}")
        fig.savefig(p, dpi=110, bbox_inches="tight", metadata={"Date": None} if ext == "svg" else None)
        out.append(p)
    plt.close(fig)
    return out


def power_vs_load(sw, stem: Path) -> list:
    fig, (ax, dx) = plt.subplots(2, 1, figsize=(7.5, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    ref = {p.scale: p.rows[BASELINE].watts for p in sw.points if BASELINE in p.rows}
    for s in sw.options.strategies:
        xs, ys, bad, ds = [], [], [], []
        for p in sw.points:
            r = p.rows[s]
            if r.watts is None:
                continue
            xs.append(r.offered_gbps)
            ys.append(r.watts / 1e3)
            bad.append(r.refused > 0)
            ds.append(None if ref.get(p.scale) is None or s in SLEEPING else r.watts - ref[p.scale])
        if not xs:
            continue
        color, mk = STYLE.get(s, ("tab:purple", "x"))
        for a, vals in ((ax, ys), (dx, ds)):
            pts = [(x, v, b) for x, v, b in zip(xs, vals, bad) if v is not None]
            a.plot([x for x, _, _ in pts], [v for _, v, _ in pts], color=color, lw=1.4, label=s if a is ax else None)
            a.scatter([x for x, v, b in pts if not b], [v for x, v, b in pts if not b], color=color, marker=mk, s=24, zorder=3)
            a.scatter([x for x, v, b in pts if b], [v for x, v, b in pts if b], facecolors="none", edgecolors=color, marker=mk, s=36, zorder=3)
        if s.startswith("optimum"):
            bx = [p.rows[s].offered_gbps for p in sw.points if p.rows[s].bound_w is not None]
            by = [p.rows[s].bound_w / 1e3 for p in sw.points if p.rows[s].bound_w is not None]
            if bx:
                ax.plot(bx, by, color=color, lw=1.0, ls="--", label=f"{s} lower bound")
    net = sw.inst.net
    dx.set_xlabel("offered load (Gb/s); hollow markers: some demands refused")
    ax.set_ylabel("total power (kW)")
    dx.set_ylabel(f"W vs {BASELINE}\n(every element up)")
    ax.set_title(
        f"{net.name}: {len(net.nodes)} routers, {len(net.links)} links, {len(sw.inst.base)} demands ({sw.inst.demand_source}); {sw.inst.power.where}",
        fontsize=8,
    )
    for a in (ax, dx):
        a.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, stem)


def pwrlinks(inst, loads: np.ndarray) -> np.ndarray:
    """PWRLINK (W per byte/s) of every arc at these loads."""
    net, pm = inst.net, inst.power
    used: dict = {r: {} for r in net.nodes}
    for a in range(net.n_arcs):
        r, _ = net.arc_port(a)
        used[r][pm.ifname[a]] = float(loads[a])
    power = np.zeros(net.n_arcs)
    for a in range(net.n_arcs):
        r, _ = net.arc_port(a)
        m = pm.routers[r].port_metrics(pm.ifname[a], available_bps=max(net.caps[a] - loads[a], 0.0), used_bps=used[r])
        power[a] = m.effective
    return np.array([metric.link_pwrlink(power[a], power[a ^ 1]) for a in range(net.n_arcs)])


def topology(inst, pl, scale: float, stem: Path) -> list:
    net = inst.net
    G = nx.Graph()
    G.add_nodes_from(net.nodes)
    for l in net.links:
        G.add_edge(l.a, l.b)
    pos = dict(net.pos) if net.pos and all(n in net.pos for n in net.nodes) else nx.spring_layout(G, seed=0)
    util = np.maximum(pl.loads[0::2], pl.loads[1::2]) / net.caps[0::2]
    pw = pwrlinks(inst, pl.loads)
    busy = (pl.loads[0::2] > 1.0) | (pl.loads[1::2] > 1.0)
    fig, ax = plt.subplots(figsize=(8, 6.5))
    cmap = plt.get_cmap("RdYlGn_r")
    for l in net.links:
        (x0, y0), (x1, y1) = pos[l.a], pos[l.b]
        asleep = pl.sleep and not busy[l.id]
        w = 1.0 + 2.0 * (l.capacity / net.caps.max())
        if asleep:
            ax.plot([x0, x1], [y0, y1], color="lightgray", lw=w, ls="--", zorder=1)
            continue
        ax.plot([x0, x1], [y0, y1], color=cmap(min(util[l.id], 1.0)), lw=w, zorder=1)
        lab = (metric.w_per_gbps(pw[2 * l.id]) + metric.w_per_gbps(pw[2 * l.id + 1])) / 2
        ax.text((x0 + x1) / 2, (y0 + y1) / 2, f"{lab:.2g}", fontsize=5, ha="center", va="center", color="dimgray", zorder=2)
    areas = list(net.areas)
    colors = plt.get_cmap("tab10")
    for n in net.nodes:
        ars = sorted(net.node_areas(n))
        main = next((a for a in ars if a != BACKBONE), BACKBONE)
        c = "black" if main == BACKBONE else colors(areas.index(main) % 10)
        x, y = pos[n]
        ax.scatter([x], [y], s=40 if len(ars) < 2 else 70, color=c, edgecolors="red" if len(ars) > 1 else "white", linewidths=1.2, zorder=3)
        ax.text(x, y, f" {n}", fontsize=5.5, va="bottom", zorder=4)
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, 1))
    fig.colorbar(sm, ax=ax, fraction=0.03, pad=0.01, label="link utilisation (busier direction)")
    ax.set_title(
        f"{net.name}, {pl.strategy} at scale {scale:.3g}: utilisation (colour), PWRLINK in W per Gb/s (labels); black = backbone, red ring = ABR", fontsize=8
    )
    ax.set_axis_off()
    return _save(fig, stem)
