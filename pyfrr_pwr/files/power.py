"""Per-router power configuration (one YAML file per router).

The file says what the draft assumes a router can read (sec. 2.1.1): its
line cards, their power (a static figure or a calibrated profile, sec.
2.1.8), their ports and speeds, and whether the router is a TE endpoint
(sec. 2). This module only parses and validates it and builds the model
objects (``pyfrr_pwr.model.power``), where POWER and Available-POWER are
computed. The file is read by ``yamlsafe`` (UTF-8, bounded nesting, size and
aliases, plain data only); every number must be finite; validation is
jsonschema and the checks below it; every error names the file, the line
and the field. See frr-config/power.example.yml for a commented example.

The agent checks the schema in a child process (``load_power(...,
isolate_schema=True)``: ``files.schemacheck``, issue 10's agent RSS), with
the same errors; jsonschema is imported only where a check runs.

Bounds that keep the agent's arithmetic finite (issue 11 sec. 1, 5):

* ``steepness`` 1e-6 .. 100. The exponential and flattening profiles use
  exp(k) and exp(-k): exp overflows past k ~ 709.78, and 1 - exp(-k) is 0
  below k ~ 1e-16 (ZeroDivisionError); 1e-6 keeps that difference exact to
  ~1e-10, and past 100 the 64-point sampled curve is a step at one end.
* ``banding.ratio`` 1.01 .. 100: the agent builds geometric bands from
  1e-15 to 1e13 W per byte/s; a ratio of 1 + 1e-12 would make 10^14 edges
  (or loop for ever, where the ratio rounds to 1).
* a power figure of 0 W (``power_w``, a profile 0 W at every load) is
  refused: a port with no power has no POWER metric.
* speeds (``base_speed``, ``speed``, ``highest_speed``, ``port_speeds``,
  ``mcast_replication``) 1 b/s .. 1 Pb/s, watts 0 .. 1 MW: a speed's share
  of ``base_speed`` must not underflow to 0 (a division by it), its bytes/s
  must fit the wire's float32, and W per byte/s stays finite.
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pyfrr_pwr.files import catscfg, energycfg, lspcfg, schemacheck, yamlsafe
from pyfrr_pwr.files.schemacheck import MAX_ERRORS
from pyfrr_pwr.files.yamlsafe import ConfigError
from pyfrr_pwr.model import metric
from pyfrr_pwr.model.constraints import Constraints
from pyfrr_pwr.model.power import LineCard, Port, PortMetrics, PowerModelError, RouterPower

__all__ = ["ConfigError", "PowerConfig", "Port", "LineCard", "PortMetrics", "parse_rate", "parse_api", "load_power"]

MAX_BYTES = 1 << 20  # a power.yml is a few kB
MAX_NODES = 50_000  # values, aliases expanded
MIN_KEY = 16  # characters of a signalling key
STEEPNESS = (1e-6, 100.0)
SPEED = (1.0, 1e15)  # b/s: a port's speed (and base_speed, mcast_replication), 1 b/s .. 1 Pb/s
WATTS_MAX = 1e6  # W: no line card draws a megawatt


_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([kKmMgGtT]?)(?:b(?:it)?(?:ps|/s)?)?\s*$")
_MULT = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}


def parse_rate(v) -> float:
    """'10G', '2.5G', '100M', 1e9 -> bits/s (finite, >= 0)."""
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise ValueError(f"{yamlsafe._quote(v)} is not a rate")
    if isinstance(v, (int, float)):
        try:
            x = float(v)
        except OverflowError:
            x = math.inf
        if not (x >= 0 and math.isfinite(x)):
            raise ValueError(f"{yamlsafe._quote(v)} is not a finite rate >= 0")
        return x
    m = _RATE.match(v) if len(v) <= 64 else None  # the pattern backtracks on long digit runs
    if not m:
        raise ValueError(f"{yamlsafe._quote(v)} is not a rate like 10G, 2.5G or 100M")
    x = float(m.group(1)) * _MULT[m.group(2).lower()]
    if not math.isfinite(x):
        raise ValueError(f"{yamlsafe._quote(v)} is not a finite rate")
    return x


def parse_api(v) -> tuple[str, int]:
    """'HOST:PORT' (ospfd's API server) -> (host, port); port 1..65535."""
    why = f"{yamlsafe._quote(v)} is not HOST:PORT with a host and a port 1..65535"
    if not isinstance(v, str):
        raise ValueError(why)
    host, sep, port = v.rpartition(":")
    if not sep or not host or not port.isascii() or not port.isdigit() or len(port) > 5 or not 1 <= int(port) <= 65535:
        raise ValueError(why)
    if any(c.isspace() for c in host) or len(host) > 255:
        raise ValueError(why)
    return host, int(port)


_rate = {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string"}]}
_watts = {"type": "number", "minimum": 0, "maximum": WATTS_MAX}
_reader = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type", "path"],
    "properties": {"type": {"enum": ["hwmon", "rapl"]}, "path": {"type": "string"}},
}
_profile = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "shape": {"enum": ["linear", "flattening", "exponential"]},
        "idle_w": _watts,
        "peak_w": _watts,
        "steepness": {"type": "number", "minimum": STEEPNESS[0], "maximum": STEEPNESS[1]},
        "points": {
            "type": "array",
            "minItems": 2,
            "maxItems": 1024,
            "items": {
                "type": "array",
                "minItems": 2,
                "maxItems": 2,
                "items": [{"type": "number", "minimum": 0, "maximum": 1}, _watts],  # [load fraction, W]
            },
        },
    },
}
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["ports"],
    "properties": {
        "router": {"type": "string"},
        "base_speed": _rate,
        "line_cards": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "power_w": _watts,
                    "max_power_w": _watts,
                    "profile": _profile,
                    "port_speeds": {"type": "array", "items": _rate, "minItems": 1},
                    "power_reader": _reader,
                },
            },
        },
        "ports": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "line_card": {"type": "string"},
                    "port": {"type": "string"},
                    "link": {"type": "string"},
                    "speed": _rate,
                    "highest_speed": _rate,
                    "available": _rate,
                    "power_w": _watts,
                    "max_power_w": _watts,
                    "power_reader": _reader,
                    "mcast_replication": _rate,
                    "te_metric": {"type": "integer", "minimum": 0, "maximum": 4294967295},
                    "admin_group": {"type": "integer", "minimum": 0, "maximum": 4294967295},
                    "delay_us": {"type": "integer", "minimum": 0, "maximum": 16777215},
                    # RFC 7471 sec. 4.3: configured delay variation (the labs cannot emulate it)
                    "delay_var_us": {"type": "integer", "minimum": 0, "maximum": 16777215},
                },
            },
        },
        "te_endpoint": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "head": {"type": "boolean"},
                "tail": {"type": "boolean"},
                # issue 7 sec. 2: the IPv4 prefixes this tail-end serves (an LSP's default destination)
                "prefixes": {"type": "array", "maxItems": 1024, "items": {"type": "string"}},
            },
        },
        "ksp": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "k": {"type": "integer", "minimum": 1, "maximum": 1024},
                # constraints an ABR applies to the paths it leaks (draft sec. 2.1)
                "constraints": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "min_bandwidth": _rate,
                        "max_hops": {"type": "integer", "minimum": 0, "maximum": 65535},
                        "max_delay": {"type": "number", "minimum": 0},
                        "max_jitter": {"type": "number", "minimum": 0},  # us, summed delay variation (RFC 7471 sec. 4.3)
                        "admin_include_any": {"type": "integer", "minimum": 0, "maximum": 4294967295},
                        "admin_include_all": {"type": "integer", "minimum": 0, "maximum": 4294967295},
                        "admin_exclude": {"type": "integer", "minimum": 0, "maximum": 4294967295},
                    },
                },
            },
        },
        "agent": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "interval": {"type": "number", "exclusiveMinimum": 0},
                "window": {"type": "number", "exclusiveMinimum": 0},
                "min_interval": {"type": "number", "minimum": 0},
                "opaque_type": {"type": "integer", "minimum": 128, "maximum": 255},
                "profile": {"enum": ["draft", "experimental"]},
                "api": {"type": "string"},
                "signal_port": {"type": "integer", "minimum": 1, "maximum": 65535},
                # reservation signalling (agent.signalling): checked below, never quoted
                "signal_key": {},
                "signal_key_file": {"type": "string", "minLength": 1},
                "signal_key_id": {"type": "integer", "minimum": 0, "maximum": 255},
                "reservation_refresh": {"type": "number", "exclusiveMinimum": 0},
                "reservation_hold": {"type": "number", "exclusiveMinimum": 0},
                # s from a hop's answer to its re-flood of what it booked (agent.signalling, issue 7 sec. 5)
                "signal_flood_hold": {"type": "number", "minimum": 0, "maximum": 5},
            },
        },
        "banding": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "ratio": {"type": "number", "minimum": 1.01, "maximum": 100},
                "hysteresis": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
            },
        },
    },
}


def _place(schema: dict, where: tuple, frag: dict) -> None:
    """Put a section module's fragment at ``where`` (keys from the top)."""
    at = schema
    for k in where[:-1]:
        at = at["properties"][k]
    at["properties"][where[-1]] = frag


SECTIONS = (lspcfg, energycfg, catscfg)  # each owns its section(s) of power.yml
for _m in SECTIONS:
    for _where, _frag in _m.SCHEMA.items():
        _place(SCHEMA, _where, _frag)


def _line_of(node, path) -> int | None:
    """1-based line of the YAML node at ``path`` (or of its nearest parent)."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in path:
        if isinstance(node, yaml.MappingNode):
            nxt = None
            for k, v in node.value:
                if k.value == str(key):
                    nxt = v
                    line = k.start_mark.line + 1
                    break
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            break
        if node is None:
            break
    return line


def load_yaml(path: str | Path, **limits):
    """Parse YAML, returning (data, node tree); errors name file, line and
    field (``yamlsafe.load``: UTF-8, bounded depth, size and aliases)."""
    return yamlsafe.load(path, **limits)


def _worded(found: list, total: int, node, fname: str) -> list[str]:
    """``schemacheck.findings`` as file:line: field: message lines."""
    out = []
    for fp, message in found[:MAX_ERRORS]:
        line = _line_of(node, fp) or 1
        msg = message if len(message) <= 200 else message[:197] + "..."
        out.append(f"{fname}:{line}: {yamlsafe.field_of(fp)}: {msg}")
    if total > MAX_ERRORS:
        out.append(f"{fname}:{_line_of(node, found[MAX_ERRORS][0]) or 1}: (top level): and {total - MAX_ERRORS} more error(s)")
    return out


def schema_errors(data, schema, node, fname, validator_cls=None) -> list[str]:
    """One line per schema error, file:line: field: message, in path order;
    messages cut short (they quote the value) and at most MAX_ERRORS.
    ``validator_cls``: jsonschema's Draft7Validator unless given."""
    return _worded(*schemacheck.findings(data, schema, validator_cls), node, fname)


@dataclass(kw_only=True)
class PowerConfig(RouterPower):
    """A router's power model (``pyfrr_pwr.model.power.RouterPower``) as read
    from its file, with the file's path and the settings of the agent and
    the path computation that sit beside it."""

    path: str
    k: int = 8
    band_ratio: float = 1.25
    hysteresis: float = 0.05
    agent: dict = field(default_factory=dict)
    ksp_constraints: Constraints = field(default_factory=Constraints)  # what an ABR's vectors must meet (bandwidth in bytes/s)
    te_prefixes: tuple = ()  # te_endpoint.prefixes, as IPv4 networks (str)
    lsp: object = None  # files.lspcfg.parse: agent.lsp / agent.srv6
    energy: object = None  # files.energycfg.parse: energy
    cats: object = None  # files.catscfg.parse: cats, agent.exporter

    def port_metrics(
        self,
        ifname: str,
        available_bps: float | None = None,
        used_bps: dict | None = None,
        measured_w: dict | None = None,
    ) -> PortMetrics:
        """``RouterPower.port_metrics``; what the model cannot compute for
        want of configuration (no such port, no power figure) is a
        ``ConfigError`` naming this file."""
        try:
            return super().port_metrics(ifname, available_bps, used_bps, measured_w)
        except PowerModelError as exc:
            raise ConfigError(f"{self.path}: {exc}") from None


def _profile(d: dict, where: str) -> metric.PowerProfile:
    try:
        if "points" in d:
            prof = metric.PowerProfile(tuple(tuple(x) for x in d["points"]))
        else:
            shape = d.get("shape", "linear")
            if "idle_w" not in d or "peak_w" not in d:
                raise ValueError("needs idle_w and peak_w, or points")
            if d["peak_w"] < d["idle_w"]:
                raise ValueError(f"peak_w ({d['peak_w']:g} W) is below idle_w ({d['idle_w']:g} W): power must not fall as the load rises")
            if shape == "linear":
                prof = metric.PowerProfile.linear(d["idle_w"], d["peak_w"])
            else:
                ctor = metric.PowerProfile.flattening if shape == "flattening" else metric.PowerProfile.exponential
                prof = ctor(d["idle_w"], d["peak_w"], d.get("steepness", 4.0))
    except (ValueError, ArithmeticError) as exc:  # the schema's bounds keep exp() finite; a net
        raise ConfigError(f"{where}: {exc}") from None
    for (u0, w0), (u1, w1) in zip(prof.points, prof.points[1:]):
        if w1 < w0 and "points" in d:  # sec. 2.1.8: P(load) does not decrease (and interpolation stays >= 0)
            raise ConfigError(f"{where}.points: power falls from {w0:g} W to {w1:g} W as the load rises from {u0:g} to {u1:g}; it must not fall with load")
    if not all(math.isfinite(w) for _, w in prof.points):
        raise ConfigError(f"{where}: the profile is not finite at every load")
    if not max(w for _, w in prof.points) > 0:
        raise ConfigError(f"{where}: a power profile with no power (0 W at every load)")
    return prof


def _agent(a: dict, err, base: Path) -> dict:
    """The agent section with its defaults; the signalling key read (from
    ``signal_key_file``, relative to the power.yml) and never quoted."""
    a = dict(a)
    fp = ["agent"]
    if "api" in a:
        try:
            parse_api(a["api"])
        except ValueError as exc:
            raise err(fp + ["api"], exc) from None
    if "signal_key" in a and "signal_key_file" in a:
        raise err(fp + ["signal_key_file"], "signal_key and signal_key_file are mutually exclusive: give one")
    if "signal_key" in a:
        k = a["signal_key"]
        if not isinstance(k, str):
            raise err(fp + ["signal_key"], f"must be a string, not {type(k).__name__}")
        if len(k) < MIN_KEY:
            raise err(fp + ["signal_key"], f"must be at least {MIN_KEY} characters, has {len(k)}")
    if "signal_key_file" in a:
        kp = Path(a["signal_key_file"])
        kp = kp if kp.is_absolute() else base / kp
        shown = yamlsafe._quote(str(kp), 120)
        try:
            if not kp.is_file():  # nor a FIFO or a device: reading one could block
                raise ConfigError(f"cannot read {shown}: not a file")
            raw = yamlsafe.read_bytes(kp, 1 << 16, "key file")
            key = yamlsafe.decode_utf8(raw, "the key file").strip()
        except (OSError, ValueError) as exc:  # ConfigError is a ValueError
            why = str(exc) if isinstance(exc, ConfigError) else f"cannot read {shown}: {getattr(exc, 'strerror', None) or exc}"
            raise err(fp + ["signal_key_file"], why) from None
        if len(key) < MIN_KEY:
            raise err(fp + ["signal_key_file"], f"{kp}: the key must be at least {MIN_KEY} characters, has {len(key)}")
        a["signal_key"] = key
        a["signal_key_file"] = str(kp)
    a.setdefault("signal_key_id", 1)
    defaults = {k: k not in a for k in ("reservation_refresh", "reservation_hold")}
    a.setdefault("reservation_refresh", 5.0)
    a.setdefault("reservation_hold", 15.0)
    if not a["reservation_hold"] > a["reservation_refresh"]:
        d = lambda k: " (the default)" if defaults[k] else ""  # noqa: E731
        at = "reservation_hold" if not defaults["reservation_hold"] else "reservation_refresh"
        raise err(
            fp + [at],
            f"reservation_hold ({a['reservation_hold']:g} s{d('reservation_hold')}) must be longer than "
            f"reservation_refresh ({a['reservation_refresh']:g} s{d('reservation_refresh')})",
        )
    return a


def load_power(path: str | Path, *, isolate_schema: bool = False) -> PowerConfig:
    """The router's power configuration from ``path``; ConfigError naming
    file, line and field. ``isolate_schema``: check the schema in a child
    process (the agent; module docstring), the same errors."""
    data, node = yamlsafe.load(path, names=True, max_bytes=MAX_BYTES, max_nodes=MAX_NODES, what="power.yml")
    fname = str(path)
    if data is None:
        raise ConfigError(f"{fname}:1: (top level): file is empty")

    def line(fp):
        return _line_of(node, fp) or 1

    def err(fp, msg):
        return ConfigError(f"{fname}:{line(fp)}: {yamlsafe.field_of(fp)}: {msg}")

    yamlsafe.check_numbers(data, line, fname)
    found = schemacheck.isolated_findings(SCHEMA, data) if isolate_schema else None
    errs = _worded(*found, node, fname) if found is not None else schema_errors(data, SCHEMA, node, fname, schemacheck.strict_validator())
    if errs:
        raise ConfigError("\n".join(errs))

    def rate(v, fp):
        try:
            return parse_rate(v)
        except ValueError as exc:
            raise err(fp, exc) from None

    def speed(v, fp):
        x = rate(v, fp)
        if not SPEED[0] <= x <= SPEED[1]:
            raise err(fp, f"{x:g} b/s is not a speed from 1 b/s to 1000T (1e15 b/s)")
        return x

    def watts(d, fp):
        """A static power figure: where given, it must be > 0 W."""
        if d.get("power_w") == 0:
            raise err(fp + ["power_w"], "0 W: no power (what draws no power has no POWER metric; give what it draws)")

    base = speed(data.get("base_speed", "10G"), ["base_speed"])
    cards = {}
    for name, c in (data.get("line_cards") or {}).items():
        fp = ["line_cards", name]
        prof = _profile(c["profile"], f"{fname}:{line(fp + ['profile'])}: {yamlsafe.field_of(fp + ['profile'])}") if "profile" in c else None
        if prof is None and "power_w" not in c and "power_reader" not in c:
            raise err(fp, "needs power_w, profile or power_reader")
        watts(c, fp)
        speeds = tuple(speed(s, fp + ["port_speeds", i]) for i, s in enumerate(c.get("port_speeds", ())))
        try:
            cards[name] = LineCard(name, c.get("power_w"), c.get("max_power_w"), prof, speeds, c.get("power_reader"))
        except PowerModelError as exc:
            raise err(fp, exc) from None
    ports = {}
    for ifname, p in data["ports"].items():
        fp = ["ports", ifname]
        lc = p.get("line_card")
        if lc is not None and lc not in cards:
            raise err(fp + ["line_card"], f"unknown line card {yamlsafe._quote(lc)} (have {', '.join(sorted(cards)) or 'none'})")
        if lc is None and "power_w" not in p and "power_reader" not in p:
            raise err(fp, "needs line_card, power_w or power_reader")
        watts(p, fp)
        if "speed" not in p:
            raise err(fp, "speed is required")
        runs = speed(p["speed"], fp + ["speed"])
        highest = speed(p.get("highest_speed", runs), fp + ["highest_speed"])
        if highest < runs:
            raise err(fp + ["highest_speed"], "must be >= speed")
        avail = rate(p["available"], fp + ["available"]) if "available" in p else None
        if avail is not None and avail > runs:
            raise err(fp + ["available"], f"{avail:g} b/s exceeds the port speed {runs:g} b/s")
        mc = speed(p["mcast_replication"], fp + ["mcast_replication"]) if p.get("mcast_replication") not in (None, 0) else None
        try:
            ports[ifname] = Port(
                ifname,
                lc,
                p.get("port"),
                p.get("link"),
                runs,
                highest,
                avail,
                p.get("power_w"),
                p.get("max_power_w"),
                mc,
                p.get("te_metric"),
                p.get("admin_group"),
                p.get("delay_us"),
                p.get("power_reader"),
            )
        except PowerModelError as exc:
            raise err(fp, exc) from None
    for name, c in cards.items():
        if c.port_speeds:
            listed = sum(1 for p in ports.values() if p.line_card == name)
            if listed > len(c.port_speeds):
                raise err(["line_cards", name, "port_speeds"], f"lists {len(c.port_speeds)} ports but {listed} ports use this card")
    te = data.get("te_endpoint") or {}
    band = data.get("banding") or {}
    kc = dict((data.get("ksp") or {}).get("constraints") or {})
    if "min_bandwidth" in kc:
        kc["min_bandwidth"] = rate(kc["min_bandwidth"], ["ksp", "constraints", "min_bandwidth"]) / 8.0
    try:
        cons = Constraints(**kc)
    except (TypeError, ValueError) as exc:
        raise err(["ksp", "constraints"], exc) from None
    agent = _agent(data.get("agent") or {}, err, Path(fname).parent)
    te_prefixes = []
    if te.get("prefixes") and not te.get("tail"):
        raise err(["te_endpoint", "prefixes"], "only a tail-end (te_endpoint.tail: true) serves prefixes")
    for i, p in enumerate(te.get("prefixes") or ()):
        try:
            te_prefixes.append(str(ipaddress.IPv4Network(p)))
        except ValueError as exc:
            raise err(["te_endpoint", "prefixes", i], f"not an IPv4 prefix: {exc}") from None
    sections = [m.parse(data, err) for m in SECTIONS]
    try:
        return PowerConfig(
            path=fname,
            router=data.get("router"),
            base_speed=base,
            line_cards=cards,
            ports=ports,
            te_head=bool(te.get("head", False)),
            te_tail=bool(te.get("tail", False)),
            k=(data.get("ksp") or {}).get("k", 8),
            band_ratio=band.get("ratio", 1.25),
            hysteresis=band.get("hysteresis", 0.05),
            agent=agent,
            ksp_constraints=cons,
            te_prefixes=tuple(te_prefixes),
            lsp=sections[0],
            energy=sections[1],
            cats=sections[2],
        )
    except PowerModelError as exc:
        raise ConfigError(f"{fname}:1: (top level): {exc}") from None
