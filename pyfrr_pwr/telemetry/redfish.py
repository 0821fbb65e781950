"""Redfish (DMTF DSP0266) power of a compute site: watts drawn, capacity, energy.

Issue 9 sec. 1: a compute site reports power drawn (W), capacity (W) and
energy (J), each with its GREEN accuracy. Redfish has three places for them
(energy-cats-facts, DMTF schemas):

* ``Chassis/{id}/Power`` (the older schema): ``PowerControl[].PowerConsumedWatts``
  (measured), ``PowerControl[].PowerMetrics.AverageConsumedWatts`` (measured,
  an average), ``PowerControl[].PowerCapacityWatts`` and
  ``PowerSupplies[].PowerCapacityWatts`` (nominal: nameplate figures);
* ``Chassis/{id}/PowerSubsystem``: ``CapacityWatts`` (nominal);
* ``Chassis/{id}/EnvironmentMetrics``: ``PowerWatts.Reading`` (measured),
  ``EnergykWh.Reading`` / ``EnergyJoules.Reading`` (measured, cumulative).

The ``parse_*`` functions are pure (a decoded JSON document in, Readings
out); ``RedfishSource`` does the HTTP(S) through sushy's ``Connector``
(requests underneath: TLS verification, basic auth, timeouts) and walks
``/redfish/v1`` -> ``Chassis`` -> members once, keeping the paths it found.
The BMC is hostile input: a field of the wrong type, NaN, a negative watt
figure or a body that is not JSON is a ``SourceError`` with its reason.
"""

from __future__ import annotations

import json
import math
import time

from pyfrr_pwr.telemetry.energy import Reading, SourceError

__all__ = ["RedfishSource", "parse_power", "parse_power_subsystem", "parse_environment", "combine"]

MAX_BODY = 1 << 20  # a Power resource is a few kB; a BMC sending megabytes is broken


def _num(v, what: str) -> float | None:
    """A Redfish number: None (absent or JSON null, "not available") or a
    finite float >= 0; anything else is a SourceError."""
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise SourceError("bad_format", f"{what} is {type(v).__name__}, not a number")
    x = float(v)
    if not math.isfinite(x):
        raise SourceError("not_finite", what)
    if x < 0:
        raise SourceError("out_of_range", f"{what} = {x:g} < 0")
    return x


def _obj(v, what: str) -> dict:
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise SourceError("bad_format", f"{what} is not an object")
    return v


def _list(v, what: str) -> list:
    if v is None:
        return []
    if not isinstance(v, list):
        raise SourceError("bad_format", f"{what} is not an array")
    return v


def parse_power(doc: dict, source: str, ts: float) -> list[Reading]:
    """The legacy ``Power`` resource (Power.v1_x)."""
    doc = _obj(doc, "Power")
    drawn = avg = cap = None
    for i, pc in enumerate(_list(doc.get("PowerControl"), "PowerControl")):
        pc = _obj(pc, f"PowerControl[{i}]")
        w = _num(pc.get("PowerConsumedWatts"), f"PowerControl[{i}].PowerConsumedWatts")
        if w is not None:
            drawn = (drawn or 0.0) + w
        m = _obj(pc.get("PowerMetrics"), f"PowerControl[{i}].PowerMetrics")
        a = _num(m.get("AverageConsumedWatts"), f"PowerControl[{i}].PowerMetrics.AverageConsumedWatts")
        if a is not None:
            avg = (avg or 0.0) + a
        c = _num(pc.get("PowerCapacityWatts"), f"PowerControl[{i}].PowerCapacityWatts")
        if c is not None:
            cap = (cap or 0.0) + c
    if cap is None:  # no PowerControl capacity: the supplies' nameplate sum
        for i, ps in enumerate(_list(doc.get("PowerSupplies"), "PowerSupplies")):
            c = _num(_obj(ps, f"PowerSupplies[{i}]").get("PowerCapacityWatts"), f"PowerSupplies[{i}].PowerCapacityWatts")
            if c is not None:
                cap = (cap or 0.0) + c
    out = []
    if drawn is not None:
        out.append(Reading("power", drawn, "W", ts, source, "measured"))
    elif avg is not None:
        out.append(Reading("power", avg, "W", ts, source, "measured"))
    if cap is not None:
        out.append(Reading("capacity", cap, "W", ts, source, "nominal"))
    return out


def parse_power_subsystem(doc: dict, source: str, ts: float) -> list[Reading]:
    """``PowerSubsystem`` (PowerSubsystem.v1_x): ``CapacityWatts``."""
    c = _num(_obj(doc, "PowerSubsystem").get("CapacityWatts"), "PowerSubsystem.CapacityWatts")
    return [Reading("capacity", c, "W", ts, source, "nominal")] if c is not None else []


def parse_environment(doc: dict, source: str, ts: float) -> list[Reading]:
    """``EnvironmentMetrics``: sensor excerpts ``PowerWatts``, ``EnergykWh``,
    ``EnergyJoules`` (each ``{"Reading": n}``)."""
    doc = _obj(doc, "EnvironmentMetrics")
    out = []
    w = _num(_obj(doc.get("PowerWatts"), "PowerWatts").get("Reading"), "PowerWatts.Reading")
    if w is not None:
        out.append(Reading("power", w, "W", ts, source, "measured"))
    j = _num(_obj(doc.get("EnergyJoules"), "EnergyJoules").get("Reading"), "EnergyJoules.Reading")
    if j is None:
        kwh = _num(_obj(doc.get("EnergykWh"), "EnergykWh").get("Reading"), "EnergykWh.Reading")
        j = kwh * 3.6e6 if kwh is not None else None  # 1 kWh = 3.6 MJ
    if j is not None:
        out.append(Reading("energy", j, "J", ts, source, "measured"))
    return out


def combine(parts: list[list[Reading]]) -> list[Reading]:
    """One reading per name: the first that has it, in the order given
    (EnvironmentMetrics before Power: a sensor beats the older schema;
    PowerSubsystem's capacity before the supplies' sum)."""
    seen: dict[str, Reading] = {}
    for rs in parts:
        for r in rs:
            seen.setdefault(r.name, r)
    return list(seen.values())


def _odata(doc: dict, key: str) -> str | None:
    v = doc.get(key)
    if isinstance(v, dict) and isinstance(v.get("@odata.id"), str):
        return v["@odata.id"]
    return None


class RedfishSource:
    """Power of one chassis of a Redfish service (``chassis``: its Id; by
    default the first chassis that has power data)."""

    def __init__(
        self,
        name: str,
        url: str,
        *,
        chassis: str | None = None,
        username: str | None = None,
        password: str | None = None,
        verify: bool | str = True,
        timeout: float = 5.0,
        clock=time.time,
        root: str = "/redfish/v1/",
    ):
        from sushy.connector import Connector

        self.name = name
        self.url = url
        self.chassis = chassis
        self.clock = clock
        self.root = root
        # one attempt per poll: the poller is the retry loop (sushy retries
        # "or 3" times 2 s apart when told 0)
        self.conn = Connector(
            url,
            verify=verify,
            default_request_timeout=timeout,
            connect_timeout=timeout,
            server_side_retries=1,
            server_side_retries_delay=0.01,
        )
        if username is not None:
            self.conn.set_http_basic_auth(username, password or "")
        self.paths: list[tuple[str, str]] | None = None  # [(kind, path)] found by discover()

    def _get(self, path: str) -> dict:
        from requests import exceptions as rq
        from sushy import exceptions as sx

        try:
            resp = self.conn.get(path, stream=True)  # streamed: the size cap below holds before the body is in memory
            buf = bytearray()
            for chunk in resp.iter_content(65536):
                buf += chunk
                if len(buf) > MAX_BODY:
                    resp.close()
                    raise SourceError("bad_json", f"{path}: body over {MAX_BODY} bytes")
            body = bytes(buf)
        except rq.RequestException as exc:  # a read timeout or reset while streaming the body
            timeout = isinstance(exc, rq.Timeout)
            raise SourceError("timeout" if timeout else "unreachable", f"{path}: {_why(str(exc))}") from None
        except sx.HTTPError as exc:
            raise SourceError("http_error", f"{path}: HTTP {getattr(exc, 'status_code', '?')}") from None
        except sx.ConnectionError as exc:
            inner = exc.__context__ or exc.__cause__
            timeout = isinstance(inner, rq.Timeout) or "timed out" in str(exc).lower()
            raise SourceError("timeout" if timeout else "unreachable", f"{path}: {_why(str(exc))}") from None
        try:
            doc = json.loads(body.decode("utf-8"))  # NaN/Infinity parse; _num calls them not_finite
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise SourceError("bad_json", f"{path}: {str(exc)[:100]}") from None
        if not isinstance(doc, dict):
            raise SourceError("bad_format", f"{path}: not a JSON object")
        return doc

    def discover(self) -> list[tuple[str, str]]:
        root = self._get(self.root)
        coll = _odata(root, "Chassis")
        if coll is None:
            raise SourceError("bad_format", "service root has no Chassis")
        members = _list(self._get(coll).get("Members"), "Chassis.Members")
        for m in members:
            p = m.get("@odata.id") if isinstance(m, dict) else None
            if not isinstance(p, str):
                continue
            ch = self._get(p)
            if self.chassis is not None and ch.get("Id") != self.chassis:
                continue
            found = [(k, q) for k in ("EnvironmentMetrics", "PowerSubsystem", "Power") if (q := _odata(ch, k))]
            if found or self.chassis is not None:
                return found
        if self.chassis is not None:
            raise SourceError("bad_format", f"no chassis with Id {self.chassis!r}")
        raise SourceError("bad_format", "no chassis with power data")

    def read(self) -> list[Reading]:
        if self.paths is None:
            self.paths = self.discover()
        parse = {"EnvironmentMetrics": parse_environment, "PowerSubsystem": parse_power_subsystem, "Power": parse_power}
        parts = []
        try:
            for kind, path in self.paths:
                doc = self._get(path)
                parts.append(parse[kind](doc, self.name, self.clock()))
        except SourceError as exc:
            if exc.reason == "http_error":
                self.paths = None  # a 404 after a BMC reset: walk again next time
            raise
        out = combine(parts)
        if not out:
            raise SourceError("bad_format", "the chassis reports no power, capacity or energy")
        return out


def _why(msg: str) -> str:
    """The informative end of a requests/urllib3 error chain."""
    if "CERTIFICATE_VERIFY_FAILED" in msg:
        return "TLS: certificate verify failed (not signed by a trusted CA; give verify: a CA bundle)"
    _, sep, cause = msg.rpartition("Caused by ")
    return (cause if sep else msg)[:200]
