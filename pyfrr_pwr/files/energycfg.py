"""The power.yml section energy (issue 9 sec. 1: compute-site energy readers
and power-system sources; CATS seed sec. 4.3).

SCHEMA holds the JSON-schema fragment files.power checks with file, line
and field in every error; parse(data, err) turns the checked section into
settings (err(field_path, message) builds the ConfigError naming file, line
and field). Kept apart from files.power so each concern owns its section.

The settings are a plain dict (``telemetry.poller.build`` makes the readers
from it; this layer cannot import telemetry, docs/energy.md has an example)::

    {"role": "compute-site" | "none", "site": str | None,
     "interval": s, "timeout": s, "max_age": s, "supply_capacity_w": W | None,
     "readers": [ {type: redfish|prometheus|hwmon|rapl, name, ...} ],
     "power_system": [ {type: mms|grid, name, ...} ]}

Checks beyond the schema: names unique across both lists; readers only on
a compute site, and a compute site has at least one; ``max_age`` longer
than ``interval`` (else every value would be stale between two polls) and
``timeout`` shorter than ``interval``; URLs http(s) with a host; file paths
absolute (the section parser does not know where power.yml lives); a
``password_file`` is read here (never quoted) so a missing one fails at
load, not at the first poll.
"""

from __future__ import annotations

import math
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["SCHEMA", "parse", "UNITS", "READINGS", "DEFAULTS"]

DEFAULTS = {"interval": 30.0, "timeout": 5.0, "max_age": 300.0}

# units a reader may be told its source uses (telemetry.energy.normalise
# knows each; tests/test_telemetry_config.py checks that)
UNITS = ["W", "kW", "MW", "GW", "mW", "uW", "J", "kJ", "MJ", "Wh", "kWh", "MWh", "gCO2eq/kWh", "gCO2/kWh", "kgCO2eq/MWh", "tCO2eq/MWh", "ratio", "%"]
_unit = {"anyOf": [{"enum": UNITS}, {"type": "string", "pattern": "^[A-Z]{3}/(MWh|kWh)$"}]}  # a price: ISO 4217 code per energy
READINGS = ["power", "capacity", "energy", "supply_load", "green_share", "price", "carbon_intensity"]
_name = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"}
_secs = {"type": "number", "exclusiveMinimum": 0, "maximum": 86400}
_acc = {"enum": ["measured", "estimated", "nominal"]}
_verify = {"anyOf": [{"type": "boolean"}, {"type": "string", "minLength": 1}]}  # or a CA bundle path


def _obj(req: list, props: dict) -> dict:
    return {"type": "object", "additionalProperties": False, "required": req, "properties": props}


_redfish = _obj(
    ["type", "name", "url"],
    {
        "type": {"const": "redfish"},
        "name": _name,
        "url": {"type": "string", "maxLength": 2048},
        "chassis": {"type": "string", "minLength": 1, "maxLength": 255},
        "username": {"type": "string", "maxLength": 255},
        "password_file": {"type": "string", "minLength": 1},
        "verify": _verify,
        "timeout": _secs,
    },
)
_metric = _obj(
    ["sample"],
    {
        "sample": {"type": "string", "pattern": "^[a-zA-Z_:][a-zA-Z0-9_:]*$", "maxLength": 200},
        "reading": {"enum": ["power", "capacity"]},
        "kind": {"enum": ["gauge", "counter"]},
        "scale": {"type": "number", "exclusiveMinimum": 0, "maximum": 1e12},
        "labels": {"type": "object", "maxProperties": 16, "additionalProperties": {"type": "string", "maxLength": 200}},
        "accuracy": _acc,
    },
)
_prom = _obj(
    ["type", "name", "url"],
    {
        "type": {"const": "prometheus"},
        "name": _name,
        "url": {"type": "string", "maxLength": 2048},
        "metrics": {"type": "array", "minItems": 1, "maxItems": 64, "items": _metric},
        "verify": _verify,
        "timeout": _secs,
    },
)
_sysfs = _obj(["type", "name", "path"], {"type": {"enum": ["hwmon", "rapl"]}, "name": _name, "path": {"type": "string", "minLength": 1}})
_point = _obj(
    ["name", "ref"],
    {
        "name": {"enum": READINGS},
        "ref": {"type": "string", "pattern": "^[A-Za-z0-9_]+/[A-Za-z0-9_]+(\\.[A-Za-z0-9_]+)+$", "maxLength": 129},
        "unit": _unit,
        "scale": {"type": "number", "exclusiveMinimum": 0, "maximum": 1e12},
        "accuracy": _acc,
    },
)
_mms = _obj(
    ["type", "name", "address"],
    {
        "type": {"const": "mms"},
        "name": _name,
        "address": {"type": "string", "maxLength": 300},  # HOST:PORT (IEC 61850-8-1: port 102)
        "points": {"type": "array", "minItems": 1, "maxItems": 64, "items": _point},
        "timeout": _secs,
    },
)
_grid = _obj(
    ["type", "name", "url"],
    {
        "type": {"const": "grid"},
        "name": _name,
        "url": {"type": "string", "maxLength": 2048},  # http(s) URL or an absolute file path
        "format": {"enum": ["auto", "uk-carbon", "electricitymaps", "awattar", "energy-charts"]},
        "headers": {"type": "object", "maxProperties": 8, "additionalProperties": {"type": "string", "maxLength": 1024}},
        "verify": _verify,
        "timeout": _secs,
    },
)


def _by_type(kinds: dict) -> dict:
    """An item checked by the schema its ``type`` names (if/then, so an error
    names the field at fault, not "valid under none of the given schemas")."""
    return {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"enum": list(kinds)}},
        "allOf": [{"if": {"properties": {"type": {"const": k}}, "required": ["type"]}, "then": v} for k, v in kinds.items()],
    }


# where each fragment sits in power.yml (keys from the top) -> the fragment
SCHEMA: dict = {
    ("energy",): {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "role": {"enum": ["compute-site", "none"]},
            "site": {"type": "string", "minLength": 1, "maxLength": 64},
            "interval": _secs,
            "timeout": _secs,
            "max_age": _secs,
            # the supply's rated capacity: a supply load read in W is advertised as a share of it
            "supply_capacity_w": {"type": "number", "exclusiveMinimum": 0, "maximum": 1e12},
            "readers": {"type": "array", "maxItems": 64, "items": _by_type({"redfish": _redfish, "prometheus": _prom, "hwmon": _sysfs, "rapl": _sysfs})},
            "power_system": {"type": "array", "maxItems": 64, "items": _by_type({"mms": _mms, "grid": _grid})},
        },
    }
}


def _url(v: str, fp: list, err, files: bool = False) -> str:
    if v.startswith(("http://", "https://")):
        u = urlsplit(v)
        try:
            u.port  # noqa: B018  (raises on a bad port)
        except ValueError:
            raise err(fp, f"{v[:80]!r}: the port is not a number 1..65535") from None
        if not u.hostname:
            raise err(fp, f"{v[:80]!r} has no host")
        if any(c.isspace() for c in v):
            raise err(fp, "a URL must not contain spaces")
        return v
    if files:
        p = v[7:] if v.startswith("file://") else v
        if not Path(p).is_absolute():
            raise err(fp, f"{v[:80]!r}: a feed file must be an absolute path (or an http(s):// URL)")
        return p
    raise err(fp, f"{v[:80]!r} is not an http:// or https:// URL")


def _hostport(v: str, fp: list, err) -> str:
    host, sep, port = v.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535 or any(c.isspace() for c in host):
        raise err(fp, f"{v[:80]!r} is not HOST:PORT with a port 1..65535 (IEC 61850 MMS: 102)")
    return v


def _abs(v: str, fp: list, err) -> str:
    if not Path(v).is_absolute():
        raise err(fp, f"{v[:80]!r} must be an absolute path")
    return v


def _verify_opt(d: dict, fp: list, err):
    v = d.get("verify", True)
    if isinstance(v, str):
        _abs(v, fp + ["verify"], err)
    return v


def parse(data: dict, err):
    """The checked top-level document; returns this section's settings (None
    when power.yml has no energy section)."""
    e = data.get("energy")
    if e is None:
        return None
    fp = ["energy"]
    out = {"role": e.get("role", "none"), "site": e.get("site"), "supply_capacity_w": e.get("supply_capacity_w")}
    for k, dv in DEFAULTS.items():
        out[k] = float(e.get(k, dv))
        if not math.isfinite(out[k]):
            raise err(fp + [k], "must be finite")
    if not out["max_age"] > out["interval"]:
        at = "max_age" if "max_age" in e else "interval"
        raise err(
            fp + [at], f"max_age ({out['max_age']:g} s) must be longer than interval ({out['interval']:g} s): every value would be stale between two polls"
        )
    if not out["timeout"] < out["interval"]:
        at = "timeout" if "timeout" in e else "interval"
        raise err(fp + [at], f"timeout ({out['timeout']:g} s) must be shorter than interval ({out['interval']:g} s)")
    readers = e.get("readers") or []
    if readers and out["role"] != "compute-site":
        raise err(fp + ["readers"], "readers report a compute site's energy: set role: compute-site")
    if out["role"] == "compute-site" and not readers:
        raise err(fp + (["readers"] if "readers" in e else ["role"]), "a compute site needs at least one reader (redfish, prometheus, hwmon or rapl)")
    seen: dict = {}
    out["readers"], out["power_system"] = [], []
    for key in ("readers", "power_system"):
        for i, r in enumerate(e.get(key) or []):
            rp = fp + [key, i]
            if r["name"] in seen:
                raise err(rp + ["name"], f"name {r['name']!r} is already used by {seen[r['name']]}")
            seen[r["name"]] = f"energy.{key}[{i}]"
            s = dict(r)
            s.setdefault("timeout", out["timeout"])
            if s["timeout"] >= out["interval"]:
                raise err(rp + ["timeout"], f"timeout ({s['timeout']:g} s) must be shorter than interval ({out['interval']:g} s)")
            t = r["type"]
            if t in ("redfish", "prometheus"):
                s["url"] = _url(r["url"], rp + ["url"], err)
                s["verify"] = _verify_opt(r, rp, err)
            elif t == "grid":
                s["url"] = _url(r["url"], rp + ["url"], err, files=True)
                s["verify"] = _verify_opt(r, rp, err)
            elif t in ("hwmon", "rapl"):
                _abs(r["path"], rp + ["path"], err)
            elif t == "mms":
                _hostport(r["address"], rp + ["address"], err)
            if t == "redfish" and "password_file" in r:
                pf = Path(_abs(r["password_file"], rp + ["password_file"], err))
                try:
                    if not pf.is_file():
                        raise OSError("not a file")
                    with open(pf, "rb") as f:
                        raw = f.read(4097)
                    if len(raw) > 4096:
                        raise OSError("longer than 4096 bytes")
                    s["password"] = raw.decode("utf-8").strip()
                except (OSError, UnicodeDecodeError) as exc:
                    why = getattr(exc, "strerror", None) or str(exc)
                    raise err(rp + ["password_file"], f"cannot read the password file: {why}") from None
                if "username" not in r:
                    raise err(rp + ["password_file"], "a password needs a username")
            out[key].append(s)
    return out
