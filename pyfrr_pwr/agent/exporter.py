"""The agent's Prometheus exporter (issue 9 sec. 4): off by default, bound
to the configured address (power.yml ``agent.exporter``).

Pure part: ``AgentCollector`` turns a snapshot of the agent's state (a
plain dict, from the callable the daemon gives, ``state_of(core, lsps)``)
into metric families with ``prometheus-client``. Shell: ``Exporter.run``
serves ``GET /metrics`` from the agent's own asyncio loop (no thread: the
snapshot is taken on the loop, so it never races the core's updates).
The HTTP side is hostile input: a request line and headers of at most
8 KiB within 5 s, GET only, else an error status and a count in
``stats`` (``http_<reason>``); nothing a client sends stops the agent.

Metrics (all prefixed ``pyfrr_pwr_``):

* ``link_power_consumed_w_per_gbps`` / ``link_power_available_w_per_gbps``
  / ``link_available_bandwidth_bytes`` {interface, neighbor}: what we
  advertise per link end (draft sec. 2.1.8.2);
  ``ted_pwrlink_w_per_gbps`` {area, from_router, to_router, local}: PWRLINK
  as our TEDs compute it (sec. 2.1.1);
* ``energy_value`` {name, unit, accuracy, source}, ``energy_age_seconds``,
  ``energy_advertised`` {name}: the site's energy status (seed sec. 4.3);
* ``lsas_total`` {event: originated | received | rejected};
* ``agent_events_total`` {reason}: every counter of ``core.stats``;
* ``computations`` {kind} (summary: count and seconds) from
  ``core.timings`` (a ``Timings``);
* ``lsps`` {state}: our LSPs by state.

``prometheus-client`` (the ``energy`` extra) is imported only when the
exporter is enabled or a collection is asked for, so an agent without it
runs with the exporter off.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from contextlib import contextmanager

log = logging.getLogger(__name__)

__all__ = ["AgentCollector", "Exporter", "Timings", "state_of", "render"]

MAX_REQUEST = 8192  # octets of request line and headers
READ_TIMEOUT = 5.0  # s


class Timings:
    """Computations and their durations, for the exporter: ``with
    timings("vectors"): ...`` counts one and adds its seconds."""

    def __init__(self, clock=time.perf_counter):
        self.count: Counter = Counter()
        self.seconds: Counter = Counter()
        self._clock = clock

    @contextmanager
    def __call__(self, kind: str):
        t0 = self._clock()
        try:
            yield
        finally:
            self.count[kind] += 1
            self.seconds[kind] += self._clock() - t0

    def snapshot(self) -> dict:
        return {k: {"count": n, "seconds": self.seconds[k]} for k, n in self.count.items()}


def _num(v):
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v else None


def state_of(core, lsps=None, energy=None) -> dict:
    """A snapshot of what the exporter shows, from an ``AgentCore`` (and
    the LSP manager, the energy advert): plain data, nothing shared."""
    stats = dict(getattr(core, "stats", {}) or {})
    teds = getattr(core, "teds", {}) or {}
    received = sum(t.stats.get("updates", 0) for t in teds.values())
    rejected = sum(t.stats.get("malformed", 0) for t in teds.values())
    try:
        links = core.show_links()
    except Exception:  # a view must never break the scrape  # noqa: BLE001
        links = []
    ted_links = []
    try:
        for area, d in core.show_ted().items():
            for l in d["links"]:
                ted_links.append({"area": area, "from": l["from"], "to": l["to"], "local": l["local"], "pwrlink": l["pwrlink"]})
    except Exception:  # noqa: BLE001
        pass
    timings = getattr(core, "timings", None)
    out_lsps = []
    if lsps is not None:
        try:
            shown = lsps.show()
            out_lsps = shown.get("lsps", []) if isinstance(shown, dict) else list(shown)
        except Exception:  # noqa: BLE001
            out_lsps = []
    en = {}
    if energy is not None:
        try:
            en = energy.show(time.time())
        except Exception:  # noqa: BLE001
            en = {}
    return {
        "router_id": getattr(core, "router_id", None),
        "links": links,
        "ted_links": ted_links,
        "energy": en,
        "stats": stats,
        "lsas": {
            "originated": stats.get("originations", 0) + stats.get("vectors_originated", 0),
            "received": received,
            "rejected": rejected + stats.get("malformed_lsas", 0),
        },
        "computations": timings.snapshot() if isinstance(timings, Timings) else {},
        "lsps": out_lsps,
    }


_UNITS = {"power_w": "W", "capacity_w": "W", "energy_j": "J", "supply_load": "ratio", "green_share": "ratio", "carbon_g_per_kwh": "gCO2eq/kWh"}
GBPS_BYTES = 1.25e8  # bytes/s in a Gb/s: W per byte/s -> W per Gb/s is / this


class AgentCollector:
    """prometheus-client collector over ``state()`` (called per scrape)."""

    def __init__(self, state):
        self.state = state
        self.errors = 0

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily

        try:
            s = self.state() or {}
        except Exception as exc:  # the scrape says so; the agent goes on  # noqa: BLE001
            self.errors += 1
            log.warning("exporter: agent state unavailable: %s", exc)
            s = {}
        up = GaugeMetricFamily("pyfrr_pwr_exporter_state_ok", "1 when the agent's state was read for this scrape")
        up.add_metric([], 1.0 if s else 0.0)
        yield up
        cons = GaugeMetricFamily(
            "pyfrr_pwr_link_power_consumed_w_per_gbps",
            "Consumed-Power-to-Available-Bandwidth we advertise (draft sec. 2.1.8.2)",
            labels=["interface", "neighbor"],
        )
        avail = GaugeMetricFamily(
            "pyfrr_pwr_link_power_available_w_per_gbps", "Available-Power-to-Available-Bandwidth we advertise", labels=["interface", "neighbor"]
        )
        bw = GaugeMetricFamily("pyfrr_pwr_link_available_bandwidth_bytes", "available bandwidth we advertise, bytes/s", labels=["interface", "neighbor"])
        for l in s.get("links") or ():
            lab = [str(l.get("interface")), str(l.get("neighbor") or "")]
            for fam, k, scale in ((cons, "power_consumed", GBPS_BYTES), (avail, "power_available", GBPS_BYTES), (bw, "avail_bw", 1.0)):
                v = _num(l.get(k))
                if v is not None:
                    fam.add_metric(lab, v * scale)
        yield from (cons, avail, bw)
        pl = GaugeMetricFamily(
            "pyfrr_pwr_ted_pwrlink_w_per_gbps", "PWRLINK per link end in our TEDs (draft sec. 2.1.1)", labels=["area", "from_router", "to_router", "local"]
        )
        for l in s.get("ted_links") or ():
            v = _num(l.get("pwrlink"))
            if v is not None:
                pl.add_metric([str(l.get("area")), str(l.get("from")), str(l.get("to")), str(l.get("local"))], v * GBPS_BYTES)
        yield pl
        ev = GaugeMetricFamily(
            "pyfrr_pwr_energy_value", "the site's energy status (seed sec. 4.3), newest good value", labels=["name", "unit", "accuracy", "source"]
        )
        age = GaugeMetricFamily("pyfrr_pwr_energy_age_seconds", "age of the newest good value", labels=["name"])
        adv = GaugeMetricFamily("pyfrr_pwr_energy_advertised", "1 when the value is flooded (0: stale)", labels=["name"])
        for name, r in sorted((s.get("energy") or {}).items()):
            v = _num(r.get("value"))
            if v is None:
                continue
            unit = f"{r.get('currency')}/MWh" if name == "price_per_mwh" else _UNITS.get(name, "")
            ev.add_metric([name, unit, str(r.get("accuracy", "")), str(r.get("source", ""))], v)
            if _num(r.get("age_s")) is not None:
                age.add_metric([name], float(r["age_s"]))
            adv.add_metric([name], 1.0 if r.get("advertised") else 0.0)
        yield from (ev, age, adv)
        lsas = CounterMetricFamily("pyfrr_pwr_lsas", "PWR LSAs originated, received (TED updates) and rejected (malformed)", labels=["event"])
        for k, v in sorted((s.get("lsas") or {}).items()):
            if _num(v) is not None:
                lsas.add_metric([k], float(v))
        yield lsas
        evs = CounterMetricFamily("pyfrr_pwr_agent_events", "the agent's named counters (core.stats)", labels=["reason"])
        for k, v in sorted((s.get("stats") or {}).items()):
            if _num(v) is not None:
                evs.add_metric([str(k)], float(v))
        yield evs
        comp = SummaryMetricFamily("pyfrr_pwr_computations_seconds", "path and vector computations and their durations", labels=["kind"])
        for k, d in sorted((s.get("computations") or {}).items()):
            comp.add_metric([k], count_value=d.get("count", 0), sum_value=d.get("seconds", 0.0))
        yield comp
        lg = GaugeMetricFamily("pyfrr_pwr_lsps", "our LSPs by state", labels=["state"])
        for st, n in sorted(Counter(str(l.get("state", "unknown")) if isinstance(l, dict) else "unknown" for l in s.get("lsps") or ()).items()):
            lg.add_metric([st], float(n))
        yield lg


def render(state) -> bytes:
    """The exposition text for one snapshot callable (tests, one-shot use)."""
    from prometheus_client.core import CollectorRegistry
    from prometheus_client.exposition import generate_latest

    reg = CollectorRegistry(auto_describe=False)
    reg.register(AgentCollector(state))
    return generate_latest(reg)


class Exporter:
    """``GET /metrics`` on the configured address, in the agent's loop.

    ``settings``: ``files.catscfg.ExporterSettings`` (or None: off)."""

    def __init__(self, settings, state):
        self.settings = settings
        self.collector = AgentCollector(state)
        self.registry = None
        if self.enabled:
            from prometheus_client.core import CollectorRegistry

            self.registry = CollectorRegistry(auto_describe=False)
            self.registry.register(self.collector)
        self.stats: Counter = Counter()
        self.server: asyncio.AbstractServer | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.settings and getattr(self.settings, "enabled", False))

    async def start(self) -> asyncio.AbstractServer | None:
        if not self.enabled:
            return None
        self.server = await asyncio.start_server(self._client, self.settings.host, self.settings.port, limit=MAX_REQUEST)
        log.info("exporter: serving /metrics on %s:%d", self.settings.host, self.settings.port)
        return self.server

    async def run(self) -> None:
        """For the daemon's task list: serve until cancelled (off: return at once)."""
        if await self.start() is None:
            return
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None

    @property
    def address(self) -> tuple | None:
        if self.server is None or not self.server.sockets:
            return None
        return self.server.sockets[0].getsockname()[:2]

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, body, ctype = await self._handle(reader)
            writer.write(f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            self.stats["http_disconnected"] += 1
        except Exception as exc:  # never let a client stop the agent  # noqa: BLE001
            self.stats["http_errors"] += 1
            log.warning("exporter: %s", exc)
        finally:
            writer.close()

    async def _handle(self, reader) -> tuple[str, bytes, str]:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
        except TimeoutError:
            self.stats["http_timeout"] += 1
            return "408 Request Timeout", b"request timeout\n", "text/plain"
        except asyncio.LimitOverrunError:
            self.stats["http_too_long"] += 1
            return "431 Request Header Fields Too Large", b"request too long\n", "text/plain"
        except asyncio.IncompleteReadError:
            self.stats["http_incomplete"] += 1
            return "400 Bad Request", b"incomplete request\n", "text/plain"
        parts = head.split(b"\r\n", 1)[0].split()
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/"):
            self.stats["http_malformed"] += 1
            return "400 Bad Request", b"malformed request line\n", "text/plain"
        method, target = parts[0], parts[1].split(b"?", 1)[0]
        if method != b"GET":
            self.stats["http_bad_method"] += 1
            return "405 Method Not Allowed", b"GET only\n", "text/plain"
        if target not in (b"/metrics", b"/"):
            self.stats["http_not_found"] += 1
            return "404 Not Found", b"try /metrics\n", "text/plain"
        from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

        self.stats["http_scrapes"] += 1
        return "200 OK", generate_latest(self.registry), CONTENT_TYPE_LATEST
