"""Traffic demands: a network's own matrix, a gravity model, or a file.

* SNDlib networks (through topohub) carry their demand matrices; the
  figures are in the instance's own unit, so only their proportions are
  used, the level is set by ``normalise`` (below).
* Without a matrix, a gravity model (Roughan, "Simplifying the synthesis of
  Internet traffic matrices", CCR 2005): demand s -> t proportional to
  w(s) * w(t), w a node's total link capacity, between the TE endpoints.
* A file (``--demands``): YAML or JSON, either ``{src: {dst: value}}`` or a
  list of ``{src, dst, value}``; errors name the file and the field.

``normalise`` fixes what scale 1 means, the same way for every network:
the matrix is multiplied so that hop-count OSPF with ECMP loads its busiest
link to ``util`` (0.5) of that link's capacity. ``--scale`` multiplies
from there. Pure, except ``load_file``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from pyfrr_pwr.evaluate.network import Network
from pyfrr_pwr.evaluate.placement import Demand
from pyfrr_pwr.files.power import ConfigError

__all__ = ["from_matrix", "gravity", "load_file", "normalise", "scaled", "order"]


def _number(v, where: str) -> float:
    if isinstance(v, bool):
        raise ConfigError(f"{where}: {v!r} is not a number")
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {v!r} is not a number") from None
    if not math.isfinite(x):
        raise ConfigError(f"{where}: {v!r} is not finite")
    if x < 0:
        raise ConfigError(f"{where}: {x:g} is negative (demands are >= 0)")
    return x


def from_matrix(entries, net: Network, where: str) -> list:
    """Demands from ``{src: {dst: value}}`` or ``[{src, dst, value}]``,
    checked against the network: unknown nodes, negative or non-finite
    values raise ConfigError naming ``where`` and the entry. Zero demands
    and self-demands are dropped; repeated pairs add up."""
    names = set(net.nodes)
    rows = []
    if isinstance(entries, dict):
        for s, row in entries.items():
            if not isinstance(row, dict):
                raise ConfigError(f"{where}: {s}: expected a mapping of destination to demand")
            for t, v in row.items():
                rows.append((str(s), str(t), v, f"{where}: {s}.{t}"))
    elif isinstance(entries, list):
        for i, e in enumerate(entries):
            if not isinstance(e, dict) or not {"src", "dst"} <= set(e) or not ({"value", "gbps"} & set(e)):
                raise ConfigError(f"{where}: demands[{i}]: needs src, dst and value (or gbps)")
            v = e.get("value", e.get("gbps"))
            rows.append((str(e["src"]), str(e["dst"]), v, f"{where}: demands[{i}]"))
    else:
        raise ConfigError(f"{where}: expected {{src: {{dst: value}}}} or a list of {{src, dst, value}}")
    acc: dict = {}
    for s, t, v, at in rows:
        for role, n in (("source", s), ("destination", t)):
            if n not in names:
                raise ConfigError(f"{at}: unknown {role} node {n!r} (nodes: {', '.join(sorted(names)[:40])}{', ...' if len(names) > 40 else ''})")
        x = _number(v, at)
        if s != t and x > 0:
            acc[(s, t)] = acc.get((s, t), 0.0) + x
    return [Demand(s, t, v) for (s, t), v in sorted(acc.items(), key=lambda kv: (net.index(kv[0][0]), net.index(kv[0][1])))]


def gravity(net: Network, nodes=None) -> list:
    """Gravity demands between ``nodes`` (default: the TE endpoints)."""
    nodes = list(nodes or net.endpoints)
    w = {n: 0.0 for n in net.nodes}
    for l in net.links:
        w[l.a] += l.capacity
        w[l.b] += l.capacity
    total = sum(w[n] for n in nodes) or 1.0
    return [Demand(s, t, w[s] * w[t] / total) for s in nodes for t in nodes if s != t and w[s] * w[t] > 0]


def load_file(path: str | Path, net: Network) -> list:
    from pyfrr_pwr.files.power import load_yaml

    p = Path(path)
    if p.suffix.lower() == ".json":
        try:
            doc = json.loads(p.read_text())
        except OSError as exc:
            raise ConfigError(f"{p}: cannot read: {exc.strerror}") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{p}:{exc.lineno}:{exc.colno}: {exc.msg}") from None
    else:
        doc, _ = load_yaml(p)
    if isinstance(doc, dict) and "demands" in doc:
        doc = doc["demands"]
    return from_matrix(doc, net, str(p))


def normalise(net: Network, demands: list, util: float = 0.5) -> float:
    """The factor that puts hop-count OSPF's busiest link at ``util``."""
    from pyfrr_pwr.evaluate import ospf

    pl = ospf.run(net, demands, "hop")
    u = max((pl.loads / net.caps).max(initial=0.0), 0.0)
    if not u > 0:
        raise ConfigError(f"{net.source}: the demands carry no traffic (all zero, or no pair is connected)")
    return util / u


def scaled(demands: list, factor: float) -> list:
    return [Demand(d.src, d.dst, d.bps * factor) for d in demands]


def order(net: Network, demands: list) -> list:
    """The order greedy strategies place demands in: largest first, then
    by source and destination (deterministic)."""
    return sorted(range(len(demands)), key=lambda i: (-demands[i].bps, net.index(demands[i].src), net.index(demands[i].dst)))
