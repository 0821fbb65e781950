"""The power.yml section(s) cats (issue 9 sec. 2-4: compute site, service instances, delay probes) and agent.exporter (Prometheus).

SCHEMA holds the JSON-schema fragment(s) files.power checks with
file, line and field in every error; parse(data, err) turns the checked
section into settings (err(field_path, message) builds the ConfigError
naming file, line and field). Kept apart from files.power so each
concern owns its section.

```yaml
cats:
  site: true                  # this router is a compute site (advertises energy and instances)
  energy_advert: {ratio: 1.1, hysteresis: 0.05, min_interval: 5, max_age: 300, refresh: 1800}
  services:
    - id: inference           # CS-ID
      address: 10.9.1.1       # CSCI-ID (IPv4 or IPv6)
      capacity: 10G           # demand it can take, b/s
      l0: [{metric: cpu_utilisation, value: 0.4, statistic: mean, source: measured, window: 10}]
      l2: {score: 7, source: normalised, statistic: mean, window: 10}
  request: {max_delay: 10ms, max_jitter: 1ms, demand: 1G, weights: {power: 1, carbon: 1}}
  probe: {enabled: false, port: 8870, interval: 1.0, window: 10, clock: shared}
agent:
  exporter: {enabled: false, address: "127.0.0.1:9469"}
```

Windows are seconds; delays a number of microseconds or "10ms" / "500us";
ports' ``delay_us`` / ``delay_var_us`` (RFC 7471, configured: the labs
cannot emulate delay) override what the probes measure.
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass, field

__all__ = ["SCHEMA", "parse", "CatsSettings", "ExporterSettings", "ProbeSettings"]

_num0 = {"type": "number", "minimum": 0}
_rate = {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "maxLength": 64}]}
_delay = {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "maxLength": 40}]}
_window = {"type": "number", "minimum": 0, "maximum": 86400}
_SOURCES = ["nominal", "estimated", "measured", "normalised", "aggregated"]
_STATS = ["cur", "mean", "min", "max"]
# L0 metric names (wire.L0_METRICS; files sits above proto and may not import cats)
L0_NAMES = {
    "cpu_utilisation": 1,
    "gpu_utilisation": 2,
    "memory_utilisation": 3,
    "cpu_power": 4,
    "gpu_power": 5,
    "processing_delay": 6,
    "work_rate": 7,
    "site_power_per_unit": 8,
}
WEIGHT_TERMS = ["power", "carbon", "price", "delay", "score", "load"]
MAX_SERVICES = 64

SCHEMA: dict = {
    ("cats",): {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "site": {"type": "boolean"},
            "energy_advert": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "ratio": {"type": "number", "minimum": 1.01, "maximum": 100},
                    "hysteresis": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
                    "min_interval": {"type": "number", "minimum": 0, "maximum": 3600},
                    "max_age": {"type": "number", "exclusiveMinimum": 0, "maximum": 86400 * 7},
                    "refresh": {"type": "number", "minimum": 1, "maximum": 3600},
                },
            },
            "services": {
                "type": "array",
                "maxItems": MAX_SERVICES,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["id", "address"],
                    "properties": {
                        "id": {"type": "string", "minLength": 1, "maxLength": 64},
                        "address": {"type": "string"},
                        "capacity": _rate,
                        "l0": {
                            "type": "array",
                            "maxItems": 32,
                            "items": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["metric", "value"],
                                "properties": {
                                    "metric": {"anyOf": [{"enum": sorted(L0_NAMES)}, {"type": "integer", "minimum": 0, "maximum": 65535}]},
                                    "value": _num0,
                                    "statistic": {"enum": _STATS},
                                    "source": {"enum": _SOURCES},
                                    "window": _window,
                                },
                            },
                        },
                        "l2": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["score"],
                            "properties": {
                                "score": {"type": "integer", "minimum": 0, "maximum": 10},
                                "statistic": {"enum": _STATS},
                                "source": {"enum": _SOURCES},
                                "window": _window,
                            },
                        },
                    },
                },
            },
            "request": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "max_delay": _delay,
                    "max_jitter": _delay,
                    "demand": _rate,
                    "weights": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {k: {"type": "number", "minimum": 0, "maximum": 1e9} for k in WEIGHT_TERMS},
                    },
                },
            },
            "probe": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "enabled": {"type": "boolean"},
                    "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                    "interval": {"type": "number", "minimum": 0.01, "maximum": 3600},
                    "window": {"type": "integer", "minimum": 1, "maximum": 10000},
                    "clock": {"enum": ["shared", "synced", "unsynced"]},
                },
            },
        },
    },
    ("agent", "exporter"): {
        "type": "object",
        "additionalProperties": False,
        "properties": {"enabled": {"type": "boolean"}, "address": {"type": "string", "maxLength": 300}},
    },
}


@dataclass(frozen=True)
class ExporterSettings:
    enabled: bool = False  # off by default (issue 9 sec. 4)
    host: str = "127.0.0.1"
    port: int = 9469


@dataclass(frozen=True)
class ProbeSettings:
    enabled: bool = False
    port: int = 8870
    interval: float = 1.0  # s between probes to one neighbour
    window: int = 10  # samples per estimate (RFC 7471 sec. 4: averaged over an interval)
    clock: str = "shared"  # shared (one host's namespaces) | synced (PTP/NTP) | unsynced: RTT/2


@dataclass(frozen=True)
class CatsSettings:
    site: bool = False
    energy_advert: dict = field(default_factory=dict)  # EnergyAdvert keyword arguments
    services: tuple = ()  # plain dicts: service_id, address, capacity (bytes/s), l0, l2_*
    max_delay_us: float = 10_000.0  # seed sec. 3.3
    max_jitter_us: float = 1_000.0
    demand: float | None = None  # bytes/s
    weights: dict = field(default_factory=dict)
    probe: ProbeSettings = field(default_factory=ProbeSettings)
    port_delays: dict = field(default_factory=dict)  # ifname -> {"delay_us": int, "delay_var_us": int} configured
    exporter: ExporterSettings = field(default_factory=ExporterSettings)


# as files.power.parse_rate / parse_api (files.power imports this module, so not from there)
_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([kKmMgGtT]?)(?:b(?:it)?(?:ps|/s)?)?\s*$")
_MULT = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}


def parse_rate(v) -> float:
    """'10G', '100M', 1e9 -> bits/s (finite, >= 0)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        x = float(v)
    else:
        m = _RATE.match(v) if isinstance(v, str) and len(v) <= 64 else None
        if not m:
            raise ValueError(f"{str(v)[:64]!r} is not a rate like 10G, 2.5G or 100M")
        x = float(m.group(1)) * _MULT[m.group(2).lower()]
    if not (math.isfinite(x) and x >= 0):
        raise ValueError(f"{v!r} is not a finite rate >= 0")
    return x


def parse_host_port(v) -> tuple[str, int]:
    why = f"{str(v)[:80]!r} is not HOST:PORT with a host and a port 1..65535"
    if not isinstance(v, str):
        raise ValueError(why)
    host, sep, port = v.rpartition(":")
    if not sep or not host or not port.isascii() or not port.isdigit() or len(port) > 5 or not 1 <= int(port) <= 65535:
        raise ValueError(why)
    return host, int(port)


_DELAY = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(us|ms|s)?\s*$")


def _delay_us(v, fp, err) -> float:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        x = float(v)
    else:
        m = _DELAY.match(v) if isinstance(v, str) else None
        if not m:
            raise err(fp, f"{str(v)[:40]!r} is not a delay like 10ms, 500us or a number of microseconds")
        x = float(m.group(1)) * {None: 1.0, "us": 1.0, "ms": 1e3, "s": 1e6}[m.group(2)]
    if not (math.isfinite(x) and 0 <= x <= 1e9):
        raise err(fp, f"{v!r} is not a delay from 0 to 1000 s")
    return x


def _exporter(e: dict, err) -> ExporterSettings:
    if "address" not in e:
        return ExporterSettings(enabled=e.get("enabled", False))
    try:
        host, port = parse_host_port(e["address"])
    except ValueError as exc:
        raise err(["agent", "exporter", "address"], exc) from None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise err(["agent", "exporter", "address"], f"{host!r} is not an IP address to bind to") from None
    return ExporterSettings(e.get("enabled", False), host, port)


def parse(data: dict, err):
    """The checked top-level document; returns this section's settings."""
    c = data.get("cats") or {}
    exporter = _exporter(((data.get("agent") or {}).get("exporter")) or {}, err)
    port_delays = {}
    for ifname, p in (data.get("ports") or {}).items():
        d = {k: p[k] for k in ("delay_us", "delay_var_us") if isinstance(p, dict) and k in p}
        if d:
            port_delays[ifname] = d

    def rate(v, fp):
        try:
            return parse_rate(v) / 8.0  # bytes/s (RFC 3630 sec. 2.5.6 units)
        except ValueError as exc:
            raise err(fp, exc) from None

    services, seen = [], set()
    for i, s in enumerate(c.get("services") or ()):
        fp = ["cats", "services", i]
        sid = s["id"]
        if not sid.isprintable() or len(sid.encode()) > 64:
            raise err(fp + ["id"], "must be printable, at most 64 octets of UTF-8")
        try:
            a = ipaddress.ip_address(s["address"])
        except ValueError:
            raise err(fp + ["address"], f"{s['address']!r} is not an IPv4 or IPv6 address") from None
        if a.is_unspecified or a.is_multicast:
            raise err(fp + ["address"], f"{a} is not a unicast address")
        if (sid, str(a)) in seen:
            raise err(fp, f"service {sid!r} at {a} is listed twice")
        seen.add((sid, str(a)))
        l0, keys = [], set()
        for j, m in enumerate(s.get("l0") or ()):
            code = L0_NAMES.get(m["metric"], m["metric"])
            key = (code, m.get("statistic", "cur"))
            if key in keys:
                raise err(fp + ["l0", j], f"metric {m['metric']} {key[1]} is listed twice")
            keys.add(key)
            if m["value"] > 3.4e38:
                raise err(fp + ["l0", j, "value"], "does not fit a float32")
            l0.append(
                {
                    "metric": code,
                    "value": float(m["value"]),
                    "statistic": key[1],
                    "source": m.get("source", "measured"),
                    "window_ms": int(m.get("window", 0) * 1000),
                }
            )
        l2 = s.get("l2")
        svc = {"service_id": sid, "address": str(a), "capacity": rate(s["capacity"], fp + ["capacity"]) if "capacity" in s else None, "l0": tuple(l0)}
        if l2:
            svc.update(
                l2_score=l2["score"],
                l2_source=l2.get("source", "normalised"),
                l2_statistic=l2.get("statistic", "mean"),
                l2_window_ms=int(l2.get("window", 0) * 1000),
            )
        services.append(svc)
    if services and not c.get("site", False):
        raise err(["cats", "services"], "only a compute site (cats.site: true) advertises service instances")
    req = c.get("request") or {}
    pr = c.get("probe") or {}
    return CatsSettings(
        site=c.get("site", False),
        energy_advert=dict(c.get("energy_advert") or {}),
        services=tuple(services),
        max_delay_us=_delay_us(req["max_delay"], ["cats", "request", "max_delay"], err) if "max_delay" in req else 10_000.0,
        max_jitter_us=_delay_us(req["max_jitter"], ["cats", "request", "max_jitter"], err) if "max_jitter" in req else 1_000.0,
        demand=rate(req["demand"], ["cats", "request", "demand"]) if "demand" in req else None,
        weights=dict(req.get("weights") or {}),
        probe=ProbeSettings(pr.get("enabled", False), pr.get("port", 8870), float(pr.get("interval", 1.0)), pr.get("window", 10), pr.get("clock", "shared")),
        port_delays=port_delays,
        exporter=exporter,
    )
