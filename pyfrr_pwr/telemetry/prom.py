"""Power from a Prometheus exporter's text exposition (Kepler, Scaphandre,
node_exporter).

Issue 9 sec. 1: compute-site power scraped from an exporter URL. The text
format (Prometheus exposition format 0.0.4) is parsed by prometheus_client's
own parser; the metrics (energy-cats-facts) are:

* Kepler: ``kepler_node_cpu_watts`` (W, gauge), ``kepler_node_cpu_joules_total``
  (J, counter), per ``zone``; zones nest (``core`` is inside ``package``), so
  by default only ``zone="package"`` (and samples with no zone) count;
* Scaphandre: ``scaph_host_power_microwatts`` (uW, gauge),
  ``scaph_host_energy_microjoules`` (uJ, counter);
* node_exporter: ``node_rapl_package_joules_total`` (J, counter, per RAPL
  zone), ``node_hwmon_power_average_watt`` (W, gauge, per sensor).

Samples of one metric that pass the label filter are summed (packages of a
host). A counter becomes watts over the interval between two scrapes (the
samples' own timestamps when the exporter gives them, else our clock); a
counter that goes down (exporter restart) restarts the interval. Values
read from a gauge are ``measured``, Kepler's per-process split of them is
its model, so Kepler readings are ``estimated`` (Kepler estimates when it
has no RAPL). ``parse`` is pure; ``PromSource`` fetches and keeps the
counter state.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from pyfrr_pwr.telemetry.energy import Reading, SourceError
from pyfrr_pwr.telemetry.fetch import fetch

__all__ = ["Metric", "DEFAULT_METRICS", "parse", "PromSource"]


@dataclass(frozen=True)
class Metric:
    """Sample name -> a reading: ``kind`` "gauge" (a power) or "counter" (an
    energy total); ``scale`` to W or J; ``labels`` a filter: a sample with
    one of these labels set to another value is skipped."""

    sample: str
    reading: str = "power"  # the Reading name for a gauge; a counter gives "energy" and, over time, "power"
    kind: str = "gauge"
    scale: float = 1.0
    labels: dict = field(default_factory=dict)
    accuracy: str = "measured"


DEFAULT_METRICS = (
    Metric("kepler_node_cpu_watts", labels={"zone": "package"}, accuracy="estimated"),
    Metric("kepler_node_cpu_joules_total", kind="counter", labels={"zone": "package"}, accuracy="estimated"),
    Metric("scaph_host_power_microwatts", scale=1e-6),
    Metric("scaph_host_energy_microjoules", kind="counter", scale=1e-6),
    Metric("node_rapl_package_joules_total", kind="counter"),
    Metric("node_hwmon_power_average_watt"),
)


def parse(text: str, metrics=DEFAULT_METRICS) -> dict[str, tuple[float, float | None, Metric]]:
    """sample name -> (sum of matching samples, newest sample timestamp or
    None, its Metric), for the metrics found; SourceError on text that is
    not the exposition format or a NaN/inf/negative value."""
    from prometheus_client.parser import text_string_to_metric_families

    want = {m.sample: m for m in metrics}
    out: dict = {}
    try:
        for fam in text_string_to_metric_families(text):
            for s in fam.samples:
                m = want.get(s.name)
                if m is None and s.name.endswith("_total"):  # the parser appends _total to a counter's samples
                    m = want.get(s.name[:-6])
                if m is None:
                    continue
                if any(k in s.labels and s.labels[k] != v for k, v in m.labels.items()):
                    continue
                v = float(s.value)
                if not math.isfinite(v):
                    raise SourceError("not_finite", f"{s.name}{s.labels}: {v}")
                if v < 0:
                    raise SourceError("out_of_range", f"{s.name}{s.labels}: {v:g} < 0")
                ts = float(s.timestamp) if s.timestamp is not None else None
                total, t0, _ = out.get(m.sample, (0.0, None, m))
                t = ts if t0 is None else (t0 if ts is None else max(t0, ts))
                out[m.sample] = (total + v * m.scale, t, m)
    except SourceError:
        raise
    except Exception as exc:  # the parser raises ValueError/TypeError/IndexError on bad text
        raise SourceError("bad_format", f"not Prometheus text: {type(exc).__name__}: {str(exc)[:120]}") from None
    return out


class PromSource:
    """Scrape ``url`` (or read a file) and report power (W) and energy (J)."""

    def __init__(self, name: str, url: str, metrics=DEFAULT_METRICS, timeout: float = 5.0, clock=time.time, verify: bool | str = True):
        self.name = name
        self.url = url
        self.metrics = tuple(metrics)
        self.timeout = timeout
        self.clock = clock
        self.verify = verify
        self.counters: dict[str, tuple[float, float]] = {}  # sample -> (t, joules) of the previous scrape

    def read(self) -> list[Reading]:
        body = fetch(self.url, self.timeout, verify=self.verify, headers={"Accept": "text/plain; version=0.0.4"})
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise SourceError("bad_format", "exposition is not UTF-8") from None
        found = parse(text, self.metrics)
        now = self.clock()
        out: dict[str, Reading] = {}
        for m in self.metrics:  # in configured order: the first source of a name wins
            if m.sample not in found:
                continue
            v, ts, _ = found[m.sample]
            t = ts if ts is not None else now
            if m.kind == "gauge":
                out.setdefault(m.reading, Reading(m.reading, v, "W", t, self.name, m.accuracy))
                continue
            out.setdefault("energy", Reading("energy", v, "J", t, self.name, m.accuracy))
            prev = self.counters.get(m.sample)
            self.counters[m.sample] = (t, v)
            if prev is not None and t > prev[0] and v >= prev[1]:  # a counter that fell: exporter restarted
                out.setdefault("power", Reading("power", (v - prev[1]) / (t - prev[0]), "W", t, self.name, m.accuracy))
        if not out:
            raise SourceError("bad_format", f"none of {', '.join(m.sample for m in self.metrics)} in the exposition")
        return list(out.values())
