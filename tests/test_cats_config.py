"""power.yml's cats and agent.exporter sections (files.catscfg): settings,
defaults, and errors naming file, line and field."""

import textwrap

import pytest

from pyfrr_pwr.files.power import ConfigError, load_power

BASE = """\
router: r1
ports:
  eth1: {speed: 10G, power_w: 12, delay_us: 1500, delay_var_us: 40}
  eth2: {speed: 10G, power_w: 12}
"""

FULL = (
    BASE
    + """\
cats:
  site: true
  energy_advert: {ratio: 1.2, min_interval: 5, max_age: 120}
  services:
    - id: inference
      address: 10.9.1.1
      capacity: 10G
      l0:
        - {metric: cpu_utilisation, value: 0.4, statistic: mean, source: measured, window: 10}
        - {metric: 99, value: 3}
      l2: {score: 7, window: 10}
  request: {max_delay: 5ms, max_jitter: 800us, demand: 1G, weights: {carbon: 2}}
  probe: {enabled: true, port: 8871, interval: 0.5, window: 20, clock: unsynced}
agent:
  exporter: {enabled: true, address: "127.0.0.1:9470"}
"""
)


def load(tmp_path, text):
    p = tmp_path / "power.yml"
    p.write_text(textwrap.dedent(text))
    return load_power(p)


def test_defaults_off(tmp_path):
    c = load(tmp_path, BASE).cats
    assert not c.site and not c.exporter.enabled and not c.probe.enabled
    assert c.max_delay_us == 10_000 and c.max_jitter_us == 1_000  # seed sec. 3.3
    assert c.port_delays == {"eth1": {"delay_us": 1500, "delay_var_us": 40}}


def test_full_section(tmp_path):
    c = load(tmp_path, FULL).cats
    assert c.site and c.energy_advert == {"ratio": 1.2, "min_interval": 5, "max_age": 120}
    (s,) = c.services
    assert s["service_id"] == "inference" and s["capacity"] == 1.25e9 and s["l2_score"] == 7 and s["l2_window_ms"] == 10000
    assert s["l0"][0] == {"metric": 1, "value": 0.4, "statistic": "mean", "source": "measured", "window_ms": 10000}
    assert s["l0"][1]["metric"] == 99
    assert c.max_delay_us == 5000 and c.max_jitter_us == 800 and c.demand == 1.25e8 and c.weights == {"carbon": 2}
    assert c.probe.port == 8871 and c.probe.clock == "unsynced" and c.probe.window == 20
    assert (c.exporter.enabled, c.exporter.host, c.exporter.port) == (True, "127.0.0.1", 9470)


@pytest.mark.parametrize(
    "old,new,line,field",
    [
        ("address: 10.9.1.1", "address: 10.9.1.999", 10, "cats.services.0.address"),
        ("address: 10.9.1.1", "address: 224.0.0.5", 10, "cats.services.0.address"),
        ("score: 7", "score: 11", 15, "cats.services.0.l2.score"),
        ("metric: 99", "metric: volts", 14, "cats.services.0.l0.1.metric"),
        ("max_delay: 5ms", "max_delay: 5 parsecs", 16, "cats.request.max_delay"),
        ("weights: {carbon: 2}", "weights: {speed: 2}", 16, "cats.request.weights"),
        ('address: "127.0.0.1:9470"', 'address: "localhost:99999"', 19, "agent.exporter.address"),
        ('address: "127.0.0.1:9470"', 'address: "example.org:9470"', 19, "agent.exporter.address"),
        ("clock: unsynced", "clock: sundial", 17, "cats.probe.clock"),
        ("site: true", "site: false", 8, "cats.services"),
        ("capacity: 10G", "capacity: lots", 11, "cats.services.0.capacity"),
    ],
)
def test_errors_name_file_line_and_field(tmp_path, old, new, line, field):
    assert old in FULL
    with pytest.raises(ConfigError) as ei:
        load(tmp_path, FULL.replace(old, new))
    msg = str(ei.value)
    assert f"power.yml:{line}:" in msg and field in msg, msg


def test_duplicate_service_is_refused(tmp_path):
    text = FULL.replace("  request:", "    - {id: inference, address: 10.9.1.1}\n  request:")
    with pytest.raises(ConfigError, match="listed twice"):
        load(tmp_path, text)
