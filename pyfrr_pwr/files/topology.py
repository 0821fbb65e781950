"""containerlab topology files, and the files their nodes bind.

A TOPOLOGY is a ``.clab.yml`` plus what its nodes bind: FRR's ``frr.conf``
and ``daemons``, and our per-router power YAML at ``/etc/pyfrr-pwr/power.yml``.
Node settings are resolved the way containerlab resolves them (node, then
its group, then its kind, then ``defaults``); both link forms (the brief
``endpoints: ["a:eth1", "b:eth1"]`` and the extended ``type: veth`` with
``endpoints: [{node, interface}]``) are read.

The frr.conf reader understands only what pyfrr-pwr needs (router ID,
interface addresses, OSPF areas); it is not an FRR config parser.
"""
from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from pyfrr_pwr.files.power import (
    ConfigError,
    PowerConfig,
    _line_of,
    load_power,
    load_yaml,
    schema_errors,
)

__all__ = ["Topology", "Router", "Link", "Interface", "load_topology", "POWER_TARGET", "find_clab_schema", "clab_schema_candidates"]

POWER_TARGET = "/etc/pyfrr-pwr/power.yml"
FRR_CONF_TARGET = "/etc/frr/frr.conf"
DAEMONS_TARGET = "/etc/frr/daemons"
NODE_KEYS_INHERITED = ("kind", "image", "binds", "exec", "env", "labels", "cmd", "startup-config")
SCHEMA_ENV = "PYFRR_PWR_CLAB_SCHEMA"

log = logging.getLogger("pyfrr_pwr.topology")


@dataclass
class Interface:
    name: str
    address: ipaddress.IPv4Interface | None = None
    area: str | None = None
    cost: int | None = None


@dataclass
class Router:
    name: str
    kind: str
    router_id: str | None = None
    interfaces: dict = field(default_factory=dict)
    power: PowerConfig | None = None
    files: dict = field(default_factory=dict)  # container path -> host path
    settings: dict = field(default_factory=dict)  # resolved node settings
    abr: bool = False

    @property
    def areas(self) -> set:
        return {i.area for i in self.interfaces.values() if i.area is not None}


@dataclass(frozen=True)
class Link:
    a: tuple  # (node, interface)
    b: tuple
    index: int


@dataclass
class Topology:
    name: str
    path: Path
    routers: dict
    links: list
    raw: dict

    def by_router_id(self) -> dict:
        return {r.router_id: r for r in self.routers.values() if r.router_id}

    def resolve(self, name_or_id: str) -> Router:
        if name_or_id in self.routers:
            return self.routers[name_or_id]
        rid = self.by_router_id()
        if name_or_id in rid:
            return rid[name_or_id]
        raise ConfigError(f"{self.path}: no node or router ID {name_or_id!r} (nodes: {', '.join(self.routers)})")

    def name_of(self, router_id: str) -> str:
        r = self.by_router_id().get(router_id)
        return r.name if r else router_id


def clab_schema_candidates() -> list[Path]:
    """Where containerlab's schema is looked for: $PYFRR_PWR_CLAB_SCHEMA
    alone when it is set, else the project's shared data beside (or inside)
    the source tree. An installed package has no such tree."""
    env = os.environ.get(SCHEMA_ENV)
    if env:
        return [Path(env)]
    here = Path(__file__).resolve().parents[2]  # the repository root, in a source tree
    return [here.parent / "shared/data/containerlab/clab.schema.json", here / "shared/data/containerlab/clab.schema.json"]


def find_clab_schema() -> Path | None:
    """containerlab's schema, if present (see clab_schema_candidates)."""
    for c in clab_schema_candidates():
        if c.is_file():
            return c
    return None


_schema_warned: set = set()


def _warn_no_schema() -> None:
    """Said once per set of places looked in: validation against
    containerlab's schema is off, only pyfrr-pwr's own checks run."""
    where = tuple(str(c) for c in clab_schema_candidates())
    if where in _schema_warned:
        return
    _schema_warned.add(where)
    if os.environ.get(SCHEMA_ENV):
        log.warning("$%s is %s, which is not a file: topology files are checked only for what pyfrr-pwr reads, not against containerlab's schema", SCHEMA_ENV, where[0])
        return
    log.warning(
        "containerlab's schema not found (looked in: %s): topology files are checked only for what pyfrr-pwr reads; "
        "set $%s to a clab.schema.json to validate them against containerlab's schema",
        ", ".join(where),
        SCHEMA_ENV,
    )


_IFACE = re.compile(r"^interface\s+(\S+)")
_ADDR = re.compile(r"^\s*ip address\s+(\d+\.\d+\.\d+\.\d+/\d+)")
_AREA = re.compile(r"^\s*ip ospf area\s+(\S+)")
_COST = re.compile(r"^\s*ip ospf cost\s+(\d+)")
_RID = re.compile(r"^\s*(?:ospf\s+)?router-id\s+(\d+\.\d+\.\d+\.\d+)")
_NET = re.compile(r"^\s*network\s+(\d+\.\d+\.\d+\.\d+/\d+)\s+area\s+(\S+)")


def _area(a: str) -> str:
    return a if "." in a else str(ipaddress.IPv4Address(int(a)))


def parse_frr_conf(path: Path) -> tuple[str | None, dict]:
    """Router ID and {ifname: Interface} from an frr.conf."""
    rid = None
    ifaces: dict = {}
    networks = []
    cur = None
    section = None
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    for no, line in enumerate(lines, 1):
        s = line.rstrip()
        if not s or s.lstrip().startswith("!"):
            if s.strip() == "!" or s.strip() == "exit":
                cur, section = None, None
            continue
        if s.strip() == "exit":
            cur, section = None, None
            continue
        m = _IFACE.match(s)
        if m:
            cur = ifaces.setdefault(m.group(1), Interface(m.group(1)))
            section = "interface"
            continue
        if s.startswith("router ospf"):
            section, cur = "ospf", None
            continue
        if not s[0].isspace():
            section, cur = None, None
        if section == "interface" and cur is not None:
            if m := _ADDR.match(s):
                try:
                    cur.address = ipaddress.IPv4Interface(m.group(1))
                except ValueError:
                    raise ConfigError(f"{path}:{no}: interface {cur.name}: bad address {m.group(1)!r}") from None
            elif m := _AREA.match(s):
                try:
                    cur.area = _area(m.group(1))
                except ValueError:
                    raise ConfigError(f"{path}:{no}: interface {cur.name}: bad area {m.group(1)!r}") from None
            elif m := _COST.match(s):
                cur.cost = int(m.group(1))
        elif section == "ospf":
            if m := _RID.match(s):
                rid = m.group(1)
            elif m := _NET.match(s):
                networks.append((ipaddress.IPv4Network(m.group(1), strict=False), _area(m.group(2))))
    for i in ifaces.values():  # `network ... area` statements also place interfaces
        if i.area is None and i.address is not None:
            for net, area in networks:
                if i.address.ip in net:
                    i.area = area
                    break
    return rid, ifaces


def _resolve_node(name: str, node: dict, topo: dict) -> dict:
    """containerlab precedence: node > group > kind > defaults."""
    t = topo.get("topology") or {}
    layers = [t.get("defaults") or {}]
    kind = node.get("kind") or ((t.get("groups") or {}).get(node.get("group")) or {}).get("kind") or (t.get("defaults") or {}).get("kind")
    if kind:
        layers.append((t.get("kinds") or {}).get(kind) or {})
    if node.get("group"):
        layers.append((t.get("groups") or {}).get(node["group"]) or {})
    layers.append(node)
    out: dict = {}
    for layer in layers:
        for k, v in layer.items():
            if k in ("binds", "exec") and k in out:
                # lists merge, later layers win on the same container path
                merged = list(out[k]) + [x for x in v if x not in out[k]]
                if k == "binds":
                    by_target = {}
                    for b in merged:
                        by_target[b.split(":")[1] if ":" in b else b] = b
                    merged = list(by_target.values())
                out[k] = merged
            elif k in ("env", "labels") and k in out:
                out[k] = {**out[k], **v}
            else:
                out[k] = v
    out["kind"] = kind
    return out


def _endpoint(ep, fp, fname, node_tree) -> tuple:
    where = f"{fname}:{_line_of(node_tree, fp)}: {'.'.join(map(str, fp))}"
    if isinstance(ep, str):
        n, sep, i = ep.partition(":")
        if not sep or not n or not i:
            raise ConfigError(f"{where}: endpoint {ep!r} is not node:interface")
        return n, i
    if isinstance(ep, dict) and "node" in ep and "interface" in ep:
        if not (isinstance(ep["node"], str) and ep["node"] and isinstance(ep["interface"], str) and ep["interface"]):
            raise ConfigError(f"{where}: endpoint node and interface must be non-empty strings")
        return ep["node"], ep["interface"]
    raise ConfigError(f"{where}: endpoint must be 'node:iface' or {{node, interface}}")


_NODE_TYPES = {
    "kind": (str, "a string"),
    "image": (str, "a string"),
    "group": (str, "a string"),
    "startup-config": (str, "a string"),
    "cmd": (str, "a string"),
    "binds": (list, "a list of 'src:dst' strings"),
    "exec": (list, "a list of strings"),
    "env": (dict, "a mapping"),
    "labels": (dict, "a mapping"),
}


def _check_structure(data: dict, tree, fname: str) -> None:
    """What load_topology and _resolve_node read, checked for shape, so a
    malformed file gives a ConfigError naming file, line and field whether
    or not containerlab's schema is at hand (the schema checks far more)."""

    def bad(fp, msg):
        field_ = ".".join(map(str, fp)) or "(top level)"
        raise ConfigError(f"{fname}:{_line_of(tree, fp)}: {field_}: {msg}")

    def settings(fp, v):
        if v is None:
            return
        if not isinstance(v, dict):
            bad(fp, f"must be a mapping of settings, not {type(v).__name__}")
        for k, (typ, what) in _NODE_TYPES.items():
            if v.get(k) is not None and not isinstance(v[k], typ):
                bad(fp + [k], f"must be {what}, not {type(v[k]).__name__}")
        for key in ("binds", "exec"):
            for j, x in enumerate(v.get(key) or []):
                if not isinstance(x, str):
                    bad(fp + [key, j], f"must be a string, not {type(x).__name__}")

    if "name" not in data or "topology" not in data:
        bad([], "needs name, topology and topology.nodes")
    if not isinstance(data["name"], str) or not data["name"]:
        bad(["name"], "must be a non-empty string")
    t = data["topology"]
    if not isinstance(t, dict):
        bad(["topology"], f"must be a mapping, not {type(t).__name__}")
    if "nodes" not in t:
        bad([], "needs name, topology and topology.nodes")
    settings(["topology", "defaults"], t.get("defaults"))
    for sect in ("kinds", "groups"):
        v = t.get(sect)
        if v is None:
            continue
        if not isinstance(v, dict):
            bad(["topology", sect], f"must be a mapping, not {type(v).__name__}")
        for k, x in v.items():
            settings(["topology", sect, k], x)
    nodes = t["nodes"]
    if nodes is not None and not isinstance(nodes, dict):
        bad(["topology", "nodes"], f"must be a mapping of node name to settings, not {type(nodes).__name__}")
    for name, node in (nodes or {}).items():
        if not isinstance(name, str):
            bad(["topology", "nodes", name], "node names must be strings")
        settings(["topology", "nodes", name], node)
    links = t.get("links")
    if links is not None and not isinstance(links, list):
        bad(["topology", "links"], f"must be a list of links, not {type(links).__name__}")
    for i, l in enumerate(links or []):
        if not isinstance(l, dict):
            bad(["topology", "links", i], f"a link must be a mapping with endpoints, not {type(l).__name__}")
        eps = l.get("endpoints")
        if not isinstance(eps, list) or len(eps) != 2:
            bad(["topology", "links", i, "endpoints"] if "endpoints" in l else ["topology", "links", i], "a link needs two endpoints")


def load_topology(path: str | Path, validate_schema: bool = True) -> Topology:
    """Read a .clab.yml and the files its nodes bind; errors name file and field."""
    path = Path(path)
    data, tree = load_yaml(path)
    fname = str(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{fname}:1: (top level): not a containerlab topology")
    if validate_schema:
        schema_path = find_clab_schema()
        if schema_path is None:
            _warn_no_schema()
        else:
            try:
                schema = json.loads(schema_path.read_text())
            except (OSError, ValueError) as exc:
                raise ConfigError(f"{schema_path}: cannot read containerlab's schema (${SCHEMA_ENV}): {exc}") from None
            errs = schema_errors(data, schema, tree, fname)
            if errs:
                raise ConfigError("\n".join(errs[:10]))
    _check_structure(data, tree, fname)
    base = path.parent
    routers: dict = {}
    for name, node in (data["topology"]["nodes"] or {}).items():
        node = node or {}
        s = _resolve_node(name, node, data)
        r = Router(name=name, kind=s.get("kind") or "linux", settings=s)
        for i, b in enumerate(s.get("binds") or []):
            parts = b.split(":")
            if len(parts) < 2:
                raise ConfigError(f"{fname}:{_line_of(tree, ['topology', 'nodes', name, 'binds', i])}: topology.nodes.{name}.binds.{i}: {b!r} is not src:dst")
            src = Path(parts[0])
            r.files[parts[1]] = src if src.is_absolute() else base / src
        conf = r.files.get(FRR_CONF_TARGET)
        if conf is None and s.get("startup-config"):
            conf = base / s["startup-config"]
        if conf is not None:
            if not conf.is_file():
                raise ConfigError(f"{fname}:{_line_of(tree, ['topology', 'nodes', name])}: topology.nodes.{name}: bound file {conf} does not exist")
            r.router_id, r.interfaces = parse_frr_conf(conf)
        pw = r.files.get(POWER_TARGET)
        if pw is not None:
            if not pw.is_file():
                raise ConfigError(f"{fname}:{_line_of(tree, ['topology', 'nodes', name])}: topology.nodes.{name}: bound power file {pw} does not exist")
            r.power = load_power(pw)
        r.abr = len(r.areas) > 1
        routers[name] = r
    links = []
    for i, l in enumerate(data["topology"].get("links") or []):
        fp = ["topology", "links", i, "endpoints"]
        eps = l["endpoints"]  # two of them (_check_structure)
        a = _endpoint(eps[0], fp + [0], fname, tree)
        b = _endpoint(eps[1], fp + [1], fname, tree)
        for j, (n, _) in enumerate((a, b)):
            if n not in routers and n != "host":
                raise ConfigError(f"{fname}:{_line_of(tree, fp + [j])}: {'.'.join(map(str, fp + [j]))}: unknown node {n!r}")
        links.append(Link(a, b, i))
    return Topology(name=data["name"], path=path, routers=routers, links=links, raw=data)
