"""Per-router power configuration (one YAML file per router).

The file says what the draft assumes a router can read (sec. 2.1.1): its
line cards, their power (a static figure or a calibrated profile, sec.
2.1.8), their ports and speeds, and whether the router is a TE endpoint
(sec. 2). This module only parses and validates it and builds the model
objects (``pyfrr_pwr.model.power``), where POWER and Available-POWER are
computed. Validation is jsonschema; every error names the file, the line and
the field. See frr-config/power.example.yml for a commented example.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import yaml

from pyfrr_pwr.model import metric
from pyfrr_pwr.model.constraints import Constraints
from pyfrr_pwr.model.power import LineCard, Port, PortMetrics, PowerModelError, RouterPower

__all__ = ["ConfigError", "PowerConfig", "Port", "LineCard", "PortMetrics", "parse_rate", "load_power"]


class ConfigError(ValueError):
    """A configuration file is wrong; the message names file, line, field."""


_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([kKmMgGtT]?)(?:b(?:it)?(?:ps|/s)?)?\s*$")
_MULT = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}


def parse_rate(v) -> float:
    """'10G', '2.5G', '100M', 1e9 -> bits/s."""
    if isinstance(v, bool):
        raise ValueError(f"{v!r} is not a rate")
    if isinstance(v, (int, float)):
        if not (v >= 0 and math.isfinite(v)):
            raise ValueError(f"{v!r} is not a rate")
        return float(v)
    m = _RATE.match(str(v))
    if not m:
        raise ValueError(f"{v!r} is not a rate like 10G, 2.5G or 100M")
    return float(m.group(1)) * _MULT[m.group(2).lower()]


_rate = {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string"}]}
_watts = {"type": "number", "minimum": 0}
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
        "steepness": {"type": "number", "exclusiveMinimum": 0},
        "points": {
            "type": "array",
            "minItems": 2,
            "items": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "number"}},
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
                },
            },
        },
        "te_endpoint": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"head": {"type": "boolean"}, "tail": {"type": "boolean"}},
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
                        "max_hops": {"type": "integer", "minimum": 0},
                        "max_delay": {"type": "number", "minimum": 0},
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
            },
        },
        "banding": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "ratio": {"type": "number", "exclusiveMinimum": 1},
                "hysteresis": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
            },
        },
    },
}


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


def load_yaml(path: str | Path):
    """Parse YAML, returning (data, node tree); errors name file and line."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{p}{at}: YAML error: {getattr(exc, 'problem', exc)}") from None
    return data, node


def schema_errors(data, schema, node, fname, validator_cls=jsonschema.Draft7Validator) -> list[str]:
    errs = sorted(validator_cls(schema).iter_errors(data), key=lambda e: list(e.absolute_path))
    out = []
    for e in errs:
        fp = list(e.absolute_path)
        line = _line_of(node, fp)
        field_ = ".".join(str(p) for p in fp) or "(top level)"
        out.append(f"{fname}:{line}: {field_}: {e.message}")
    return out


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
            return metric.PowerProfile(tuple(tuple(x) for x in d["points"]))
        shape = d.get("shape", "linear")
        if "idle_w" not in d or "peak_w" not in d:
            raise ValueError("needs idle_w and peak_w, or points")
        if shape == "linear":
            return metric.PowerProfile.linear(d["idle_w"], d["peak_w"])
        ctor = metric.PowerProfile.flattening if shape == "flattening" else metric.PowerProfile.exponential
        return ctor(d["idle_w"], d["peak_w"], d.get("steepness", 4.0))
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def load_power(path: str | Path) -> PowerConfig:
    data, node = load_yaml(path)
    fname = str(path)
    if data is None:
        raise ConfigError(f"{fname}:1: (top level): file is empty")
    errs = schema_errors(data, SCHEMA, node, fname)
    if errs:
        raise ConfigError("\n".join(errs))

    def rate(v, fp):
        try:
            return parse_rate(v)
        except ValueError as exc:
            raise ConfigError(f"{fname}:{_line_of(node, fp)}: {'.'.join(map(str, fp))}: {exc}") from None

    def err(fp, msg):
        return ConfigError(f"{fname}:{_line_of(node, fp)}: {'.'.join(map(str, fp))}: {msg}")

    base = rate(data.get("base_speed", "10G"), ["base_speed"])
    if base <= 0:
        raise err(["base_speed"], "must be > 0")
    cards = {}
    for name, c in (data.get("line_cards") or {}).items():
        fp = ["line_cards", name]
        prof = _profile(c["profile"], f"{fname}:{_line_of(node, fp + ['profile'])}: {'.'.join(fp)}.profile") if "profile" in c else None
        if prof is None and "power_w" not in c and "power_reader" not in c:
            raise err(fp, "needs power_w, profile or power_reader")
        speeds = tuple(rate(s, fp + ["port_speeds", i]) for i, s in enumerate(c.get("port_speeds", ())))
        if any(s <= 0 for s in speeds):
            raise err(fp + ["port_speeds"], "speeds must be > 0")
        try:
            cards[name] = LineCard(name, c.get("power_w"), c.get("max_power_w"), prof, speeds, c.get("power_reader"))
        except PowerModelError as exc:
            raise err(fp, exc) from None
    ports = {}
    for ifname, p in data["ports"].items():
        fp = ["ports", ifname]
        lc = p.get("line_card")
        if lc is not None and lc not in cards:
            raise err(fp + ["line_card"], f"unknown line card {lc!r} (have {sorted(cards)})")
        if lc is None and "power_w" not in p and "power_reader" not in p:
            raise err(fp, "needs line_card, power_w or power_reader")
        if "speed" not in p:
            raise err(fp, "speed is required")
        speed = rate(p["speed"], fp + ["speed"])
        if speed <= 0:
            raise err(fp + ["speed"], "must be > 0")
        highest = rate(p.get("highest_speed", speed), fp + ["highest_speed"])
        if highest < speed:
            raise err(fp + ["highest_speed"], "must be >= speed")
        avail = rate(p["available"], fp + ["available"]) if "available" in p else None
        if avail is not None and avail > speed:
            raise err(fp + ["available"], f"{avail:g} b/s exceeds the port speed {speed:g} b/s")
        mc = rate(p["mcast_replication"], fp + ["mcast_replication"]) if "mcast_replication" in p else None
        try:
            ports[ifname] = Port(
                ifname,
                lc,
                p.get("port"),
                p.get("link"),
                speed,
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
            agent=dict(data.get("agent") or {}),
            ksp_constraints=Constraints(**kc),
        )
    except PowerModelError as exc:
        raise ConfigError(f"{fname}: {exc}") from None
