"""containerlab topology files, and the files their nodes bind.

A TOPOLOGY is a ``.clab.yml`` plus what its nodes bind: FRR's ``frr.conf``
and ``daemons``, and our per-router power YAML at ``/etc/pyfrr-pwr/power.yml``.
Node settings are resolved the way containerlab resolves them (node, then
its group, then its kind, then ``defaults``); both link forms (the brief
``endpoints: ["a:eth1", "b:eth1"]`` and the extended ``type: veth`` with
``endpoints: [{node, interface}]``) are read.

The frr.conf reader understands only what pyfrr-pwr needs (router ID,
interface addresses, OSPF areas and costs); it is not an FRR config parser,
but what it reads it checks: addresses and prefixes, area IDs (a dotted quad
or an integer 0..2^32-1), costs 1..65535, UTF-8; errors name file:line and
the statement.

Both files are read by ``files.yamlsafe`` and checked here for the shape of
what is read, with or without containerlab's schema (an installed package
has none): a malformed file is a ``ConfigError`` naming file, line, field.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from pyfrr_pwr.files import yamlsafe
from pyfrr_pwr.files.power import (
    ConfigError,
    PowerConfig,
    _line_of,
    load_power,
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
        log.warning(
            "$%s is %s, which is not a file: topology files are checked only for what pyfrr-pwr reads, not against containerlab's schema", SCHEMA_ENV, where[0]
        )
        return
    log.warning(
        "containerlab's schema not found (looked in: %s): topology files are checked only for what pyfrr-pwr reads; "
        "set $%s to a clab.schema.json to validate them against containerlab's schema",
        ", ".join(where),
        SCHEMA_ENV,
    )


_IFACE = re.compile(r"^interface\s+(\S+)")
_ADDR = re.compile(r"^\s*ip address\s+(\S+)")
_AREA = re.compile(r"^\s*ip ospf area\s+(\S+)")
_COST = re.compile(r"^\s*ip ospf cost\s+(\S+)")
_RID = re.compile(r"^\s*(?:ospf\s+)?router-id\s+(\S+)")
_NET = re.compile(r"^\s*network\s+(\S+)\s+area\s+(\S+)")
FRR_MAX_BYTES = 16 << 20


def _area(a: str) -> str:
    """An OSPF area ID as a dotted quad: from one, or from an integer 0..2^32-1."""
    if a.isascii() and a.isdigit() and len(a) <= 10 and int(a) <= 0xFFFFFFFF:
        return str(ipaddress.IPv4Address(int(a)))
    try:
        if "." in a:
            return str(ipaddress.IPv4Address(a))
    except ValueError:
        pass
    raise ValueError(f"{a[:40]!r} is not an area ID (a dotted quad, or an integer 0..4294967295)")


def _prefix(v: str, host: bool) -> ipaddress.IPv4Interface | ipaddress.IPv4Network:
    if "/" not in v:
        raise ValueError(f"{v[:40]!r} is not A.B.C.D/M")
    try:
        return ipaddress.IPv4Interface(v) if host else ipaddress.IPv4Network(v, strict=False)
    except ValueError as exc:
        raise ValueError(f"{v[:40]!r} is not A.B.C.D/M ({str(exc)[:60]})") from None


def parse_frr_conf(path: Path) -> tuple[str | None, dict]:
    """Router ID and {ifname: Interface} from an frr.conf."""
    rid = None
    ifaces: dict = {}
    networks = []
    cur = None
    section = None
    text = yamlsafe.decode_utf8(yamlsafe.read_bytes(Path(path), FRR_MAX_BYTES, "frr.conf"), str(path))
    for no, line in enumerate(text.splitlines(), 1):
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
        where = f"{path}:{no}: " + (f"interface {cur.name[:40]}" if section == "interface" and cur is not None else "router ospf")
        try:
            if section == "interface" and cur is not None:
                if m := _ADDR.match(s):
                    what = "ip address"
                    cur.address = _prefix(m.group(1), host=True)
                elif m := _AREA.match(s):
                    what = "ip ospf area"
                    cur.area = _area(m.group(1))
                elif m := _COST.match(s):
                    what = "ip ospf cost"
                    v = m.group(1)
                    if not (v.isascii() and v.isdigit() and len(v) <= 5 and 1 <= int(v) <= 65535):
                        raise ValueError(f"{v[:40]!r} is not a cost 1..65535")
                    cur.cost = int(v)
            elif section == "ospf":
                if m := _RID.match(s):
                    what = "router-id"
                    try:
                        rid = str(ipaddress.IPv4Address(m.group(1)))
                    except ValueError:
                        raise ValueError(f"{m.group(1)[:40]!r} is not a router ID (A.B.C.D)") from None
                elif m := _NET.match(s):
                    what = "network"
                    networks.append((_prefix(m.group(1), host=False), _area(m.group(2))))
        except ValueError as exc:
            raise ConfigError(f"{where}: {what}: {exc}") from None
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
    where = f"{fname}:{_line_of(node_tree, fp)}: {yamlsafe.field_of(fp)}"
    if isinstance(ep, str):
        n, sep, i = ep.partition(":")
        if not sep or not n or not i:
            raise ConfigError(f"{where}: endpoint {yamlsafe._quote(ep, 60)} is not node:interface")
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
        field_ = yamlsafe.field_of(fp)
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


def _origin(data: dict, name: str, node: dict, kind, key: str, value) -> list:
    """Where a resolved node setting was written: the node, its group, its
    kind or the defaults (the field path of ``value`` under ``key``)."""
    t = data.get("topology") or {}
    layers = [(["topology", "nodes", name], node)]
    if node.get("group"):
        layers.append((["topology", "groups", node["group"]], (t.get("groups") or {}).get(node["group"])))
    if kind:
        layers.append((["topology", "kinds", kind], (t.get("kinds") or {}).get(kind)))
    layers.append((["topology", "defaults"], t.get("defaults")))
    for fp, layer in layers:
        if isinstance(layer, dict):
            v = layer.get(key)
            if isinstance(v, list) and value in v:
                return fp + [key, v.index(value)]
            if v == value:
                return fp + [key]
    return ["topology", "nodes", name]


def _bound(p: Path, fname: str, tree, fp: list, what: str) -> None:
    """A file a node binds must be a readable file; else a ConfigError at
    the field that names it."""
    where = f"{fname}:{_line_of(tree, fp)}: {yamlsafe.field_of(fp)}"
    shown = yamlsafe._quote(str(p), 120)
    if "\0" in str(p):
        raise ConfigError(f"{where}: {what} {shown} has a NUL character in its path")
    try:
        ok = p.is_file()
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{where}: {what} {shown}: {getattr(exc, 'strerror', None) or exc}") from None
    if not ok:
        raise ConfigError(f"{where}: {what} {shown} does not exist")


def load_topology(path: str | Path, validate_schema: bool = True) -> Topology:
    """Read a .clab.yml and the files its nodes bind; errors name file and field."""
    path = Path(path)
    data, tree = yamlsafe.load(path, names=True, what="containerlab topology")
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
        origin: dict = {}  # container path -> where the file was given
        for b in s.get("binds") or []:
            fp = _origin(data, name, node, s.get("kind"), "binds", b)
            parts = b.split(":")
            if len(parts) < 2:
                raise ConfigError(f"{fname}:{_line_of(tree, fp)}: {yamlsafe.field_of(fp)}: {yamlsafe._quote(b, 80)} is not src:dst")
            src = Path(parts[0])
            r.files[parts[1]] = src if src.is_absolute() else base / src
            origin[parts[1]] = fp
        conf = r.files.get(FRR_CONF_TARGET)
        if conf is None and s.get("startup-config"):
            conf = base / s["startup-config"]
            origin[FRR_CONF_TARGET] = _origin(data, name, node, s.get("kind"), "startup-config", s["startup-config"])
        if conf is not None:
            _bound(conf, fname, tree, origin[FRR_CONF_TARGET], "bound file")
            r.router_id, r.interfaces = parse_frr_conf(conf)
        pw = r.files.get(POWER_TARGET)
        if pw is not None:
            _bound(pw, fname, tree, origin[POWER_TARGET], "bound power file")
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
                raise ConfigError(f"{fname}:{_line_of(tree, fp + [j])}: {yamlsafe.field_of(fp + [j])}: unknown node {yamlsafe._quote(n)}")
        links.append(Link(a, b, i))
    return Topology(name=data["name"], path=path, routers=routers, links=links, raw=data)
