"""The I/O shell of the evaluation: topohub networks, containerlab files,
power-default files. Everything after loading is pure (``instance``).

topohub (PyPI) ships its networks as networkx node-link JSON inside the
wheel (SNDlib with demand matrices, the Internet Topology Zoo, CAIDA and
synthetic backbones); nothing is fetched at run time. Names are
``group/name`` (``sndlib/abilene``); a bare name is looked up in SNDlib,
then the Topology Zoo, case-insensitively.
"""

from __future__ import annotations

import difflib
import importlib.resources
from pathlib import Path

import networkx as nx

from pyfrr_pwr.evaluate.network import BACKBONE, Link, Network
from pyfrr_pwr.evaluate.powermodel import SHAPES, CardType, Defaults
from pyfrr_pwr.files.power import ConfigError, load_yaml, parse_rate, schema_errors

__all__ = ["topohub_names", "resolve_topohub", "load_topohub", "load_clab", "load_defaults"]

GROUPS = ("sndlib", "topozoo", "backbone", "caida", "gabriel")


def _topohub():
    try:
        import topohub
    except ImportError:
        raise ConfigError("--topohub needs the topohub package (pip install topohub)") from None
    return topohub


def topohub_names() -> list:
    """Every network the installed topohub wheel holds, as group/name."""
    th = _topohub()
    root = importlib.resources.files(th) / "data"
    out = []

    def walk(d, prefix):
        for e in sorted(d.iterdir(), key=lambda e: e.name):
            if e.is_dir():
                walk(e, f"{prefix}{e.name}/")
            elif e.name.endswith(".json"):
                out.append(prefix + e.name[:-5])

    walk(root, "")
    return out


def unknown_network(name: str, names: list) -> ConfigError:
    by_group: dict = {}
    for n in names:
        by_group.setdefault(n.split("/", 1)[0], []).append(n)
    close = difflib.get_close_matches(name, names + [n.split("/", 1)[1] for n in names if "/" in n], n=5)
    lines = [f"--topohub: unknown network {name!r}" + (f" (did you mean {', '.join(close)}?)" if close else "")]
    lines.append("available networks:")
    for g in GROUPS:
        ns = by_group.pop(g, [])
        if not ns:
            continue
        if g in ("sndlib", "topozoo"):
            lines.append(f"  {g} ({len(ns)}{', with demand matrices' if g == 'sndlib' else ''}): " + ", ".join(n.split("/", 1)[1] for n in ns))
        else:
            lines.append(f"  {g} ({len(ns)}): {ns[0]} ... {ns[-1]}  (all: pyfrr-pwr evaluate --list)")
    for g, ns in sorted(by_group.items()):
        lines.append(f"  {g} ({len(ns)}): " + ", ".join(ns))
    return ConfigError("\n".join(lines))


def resolve_topohub(name: str) -> str:
    names = topohub_names()
    if name in names:
        return name
    low = {n.lower(): n for n in names}
    for g in ("sndlib", "topozoo"):
        k = f"{g}/{name}".lower()
        if k in low:
            return low[k]
    if name.lower() in low:
        return low[name.lower()]
    raise unknown_network(name, names)


def load_topohub(name: str) -> tuple[Network, dict | None]:
    """A topohub network (its largest connected part) and its demand matrix
    ({src: {dst: value}} by node name, None without one). Links carry no
    capacity yet (1 b/s placeholders; ``instance.dimension`` sets them)."""
    key = resolve_topohub(name)
    th = _topohub()
    doc = th.get(key)
    G = nx.node_link_graph(doc, edges="edges")
    names = [G.nodes[n].get("name") for n in G]
    use = all(isinstance(x, str) and x for x in names) and len(set(names)) == len(names)
    label = {n: (G.nodes[n]["name"] if use else str(n)) for n in G}
    H = nx.Graph()
    for n in G:
        H.add_node(label[n])
    for u, v, d in G.edges(data=True):
        if u != v:
            H.add_edge(label[u], label[v], dist=d.get("dist"))
    notes = []
    comp = max(nx.connected_components(H), key=lambda c: (len(c), sorted(c)))
    if len(comp) < len(H):
        notes.append(f"kept the largest connected part: {len(comp)} of {len(H)} nodes")
        H = H.subgraph(comp).copy()
    order = [label[n] for n in G if label[n] in comp]
    pos = {label[n]: tuple(G.nodes[n]["pos"]) for n in G if label[n] in comp and "pos" in G.nodes[n]}
    count: dict = {}

    def ifn(n):
        count[n] = count.get(n, 0) + 1
        return f"eth{count[n]}"

    edges = sorted(
        H.edges(data=True),
        key=lambda e: (order.index(e[0]), order.index(e[1])) if order.index(e[0]) < order.index(e[1]) else (order.index(e[1]), order.index(e[0])),
    )
    links = []
    for u, v, d in edges:
        a, b = (u, v) if order.index(u) < order.index(v) else (v, u)
        links.append(Link(len(links), a, b, 1.0, BACKBONE, ifn(a), ifn(b), None, d.get("dist")))
    net = Network(key.split("/")[-1], f"topohub {key}", tuple(order), tuple(links), pos=pos, areas_from="flat", notes=tuple(notes))
    raw = doc["graph"].get("demands") or None
    matrix = None
    if raw:
        ids = {n: label[n] for n in G}
        matrix = {}
        for s, row in raw.items():
            sn = ids.get(s, ids.get(int(s)) if str(s).lstrip("-").isdigit() else None)
            for t, v in row.items():
                tn = ids.get(t, ids.get(int(t)) if str(t).lstrip("-").isdigit() else None)
                if sn in comp and tn in comp:
                    matrix.setdefault(sn, {})[tn] = v
    return net, matrix


def load_clab(path: str | Path) -> tuple[Network, dict]:
    """A containerlab topology with its routers' power.yml and frr.conf:
    capacities from the ports' speeds, areas from ``ip ospf area``, TE
    endpoints from ``te_endpoint``. Returns the network and {router:
    RouterPower from its power.yml}."""
    from pyfrr_pwr.files.topology import load_topology

    topo = load_topology(path)
    routers = {n: r for n, r in topo.routers.items() if r.power is not None}
    if not routers:
        raise ConfigError(f"{path}: no router binds a power.yml (/etc/pyfrr-pwr/power.yml)")
    notes, links = [], []
    for l in topo.links:
        (na, ia), (nb, ib) = l.a, l.b
        if na not in routers or nb not in routers:
            notes.append(f"link {na}:{ia} - {nb}:{ib} left out (an end has no power.yml)")
            continue
        pa, pb = routers[na].power.ports.get(ia), routers[nb].power.ports.get(ib)
        for n, i, p in ((na, ia, pa), (nb, ib, pb)):
            if p is None:
                raise ConfigError(f"{routers[n].power.path}: ports.{i}: no such port, but {path} links {n}:{i}")
        fa, fb = routers[na].interfaces.get(ia), routers[nb].interfaces.get(ib)
        aa, ab = (fa.area if fa else None), (fb.area if fb else None)
        if aa and ab and aa != ab:
            raise ConfigError(f"{path}: link {na}:{ia} - {nb}:{ib}: its ends are in areas {aa} and {ab}")
        cost = fa.cost if fa and fa.cost is not None else (fb.cost if fb else None)
        links.append(Link(len(links), na, nb, min(pa.speed, pb.speed), aa or ab or BACKBONE, ia, ib, cost))
    nodes = tuple(n for n in topo.routers if n in routers)
    eps = tuple(n for n in nodes if routers[n].power.te_endpoint)
    rids = {n: routers[n].router_id for n in nodes if routers[n].router_id}
    has_areas = any(l.area != BACKBONE for l in links)
    net = Network(
        topo.name, f"containerlab {path}", nodes, tuple(links), eps, rids if len(rids) == len(nodes) else {}, {}, "file" if has_areas else "flat", tuple(notes)
    )
    return net, {n: routers[n].power for n in nodes}


_rate = {"anyOf": [{"type": "number", "exclusiveMinimum": 0}, {"type": "string"}]}
_watts = {"type": "number", "minimum": 0}
DEFAULTS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "chassis_w": _watts,
        "profile": {"enum": list(SHAPES)},
        "idle_fraction": {"type": "number", "minimum": 0, "maximum": 1},
        "steepness": {"type": "number", "exclusiveMinimum": 0},
        "cards": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["ports"],
                "properties": {"ports": {"type": "integer", "minimum": 1}, "power_w": _watts, "port_w": _watts, "speed": _rate},
            },
        },
    },
}


def load_defaults(path: str | Path) -> Defaults:
    """Power defaults for networks without power.yml files (the schema
    above; see docs/evaluation.md). Errors name the file, line and field."""
    data, node = load_yaml(path)
    fname = str(path)
    if data is None:
        raise ConfigError(f"{fname}:1: (top level): file is empty")
    errs = schema_errors(data, DEFAULTS_SCHEMA, node, fname)
    if errs:
        raise ConfigError("\n".join(errs))
    from pyfrr_pwr.files.power import _line_of

    d = Defaults()
    kw = {}
    if "chassis_w" in data:
        kw["chassis_w"] = float(data["chassis_w"])
    for k, f in (("profile", "shape"), ("idle_fraction", "idle_fraction"), ("steepness", "steepness")):
        if k in data:
            kw[f] = data[k]
    if "cards" in data:
        types = []
        for name, c in data["cards"].items():
            fp = ["cards", name]
            at = f"{fname}:{_line_of(node, fp)}: cards.{name}"
            if "power_w" not in c and "port_w" not in c:
                raise ConfigError(f"{at}: no power figure (power_w and/or port_w)")
            pw, qw = float(c.get("power_w", 0.0)), float(c.get("port_w", 0.0))
            if pw + qw <= 0:
                raise ConfigError(f"{at}: the power profile has no power (power_w and port_w are 0)")
            try:
                speed = parse_rate(c.get("speed", name))
            except ValueError as exc:
                raise ConfigError(f"{at}: speed: {exc}") from None
            if speed <= 0:
                raise ConfigError(f"{at}: speed must be > 0")
            types.append(CardType(speed, int(c["ports"]), pw, qw))
        kw["card_types"] = tuple(sorted(types, key=lambda t: t.speed))
    kw["where"] = fname
    return Defaults(**{**d.__dict__, **kw})
