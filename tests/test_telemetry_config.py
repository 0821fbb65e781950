"""The power.yml energy section: what it builds, and config mistakes named by
file, line and field; the poller shell around the sources."""

import asyncio
import textwrap
import threading
import time

import pytest

from pyfrr_pwr.files import energycfg
from pyfrr_pwr.files.power import ConfigError, load_power
from pyfrr_pwr.telemetry.energy import Reading, SourceError, normalise
from pyfrr_pwr.telemetry.poller import Poller, build
from pyfrr_pwr.telemetry.store import Store

PORTS = "ports:\n  eth1: {power_w: 5, speed: 10G}\n"


def write(tmp_path, energy: str):
    p = tmp_path / "power.yml"
    p.write_text(PORTS + textwrap.dedent(energy))
    return p


def test_example_builds_every_kind_of_source(tmp_path):
    pw = tmp_path / "bmc.pass"
    pw.write_text("s3cret\n")
    feed = tmp_path / "uk.json"
    p = write(
        tmp_path,
        f"""\
        energy:
          role: compute-site
          site: dc-east
          interval: 20
          max_age: 120
          readers:
            - {{type: redfish, name: bmc, url: "https://10.0.0.5", chassis: 1U, username: root, password_file: {pw}, verify: false}}
            - type: prometheus
              name: kepler
              url: http://127.0.0.1:9102/metrics
              metrics: [{{sample: kepler_node_cpu_joules_total, kind: counter, labels: {{zone: package}}}}]
            - {{type: hwmon, name: psu, path: /sys/class/hwmon/hwmon3/power1_input}}
            - {{type: rapl, name: cpu, path: /sys/class/powercap/intel-rapl:0/energy_uj}}
          power_system:
            - type: mms
              name: substation
              address: 127.0.0.1:10102
              points: [{{name: supply_load, ref: GRIDLD0/MMXU1.TotW, unit: MW}}, {{name: price, ref: GRIDLD0/GGIO1.AnIn2, unit: EUR/MWh}}]
            - {{type: grid, name: uk, url: {feed}, format: uk-carbon}}
            - {{type: grid, name: em, url: "https://api.electricitymap.org/v3/carbon-intensity/latest?zone=DE", headers: {{auth-token: x}}}}
        """,
    )
    cfg = load_power(p)
    e = cfg.energy
    assert (e["role"], e["site"], e["interval"], e["max_age"], e["timeout"]) == ("compute-site", "dc-east", 20.0, 120.0, 5.0)
    assert e["readers"][0]["password"] == "s3cret" and e["readers"][0]["verify"] is False
    assert [r["name"] for r in e["readers"] + e["power_system"]] == ["bmc", "kepler", "psu", "cpu", "substation", "uk", "em"]
    poller = build(e)
    kinds = [type(s).__name__ for s in poller.sources]
    assert kinds == ["RedfishSource", "PromSource", "SensorSource", "SensorSource", "MmsSource", "GridSource", "GridSource"]
    assert poller.store.max_age == 120.0 and poller.interval == 20.0
    assert poller.sources[1].metrics[0].labels == {"zone": "package"}
    assert poller.sources[4].points[0].unit == "MW"
    assert load_power(write(tmp_path, "")).energy is None and build(None) is None


@pytest.mark.parametrize(
    "energy, line, field, words",
    [
        ("energy:\n  role: compute-site\n  readers:\n    - {type: redfish, name: b, ulr: http://x}\n", 6, "energy.readers.0", "ulr"),
        ("energy:\n  role: compute-site\n  readers:\n    - {type: redfish, name: b, url: 5}\n", 6, "energy.readers.0.url", "not of type"),
        ("energy:\n  role: compute-site\n  readers:\n    - {type: ipmi, name: b}\n", 6, "energy.readers.0.type", "ipmi"),
        ("energy:\n  role: compute-site\n  readers:\n    - {type: redfish, name: b, url: 'ftp://x'}\n", 6, "energy.readers.0.url", "http"),
        ("energy:\n  role: compute-site\n  readers:\n    - {type: redfish, name: b, url: 'http://x:99999'}\n", 6, "energy.readers.0.url", "port"),
        ("energy:\n  readers:\n    - {type: hwmon, name: b, path: /x}\n", 4, "energy.readers", "role: compute-site"),
        ("energy:\n  role: compute-site\n", 4, "energy.role", "at least one reader"),
        ("energy:\n  interval: 60\n  max_age: 30\n", 5, "energy.max_age", "longer than interval"),
        ("energy:\n  interval: 60\n  max_age: 300\n  timeout: 90\n", 6, "energy.timeout", "shorter than interval"),
        (
            "energy:\n  role: compute-site\n  readers:\n    - {type: hwmon, name: a, path: /x}\n    - {type: rapl, name: a, path: /y}\n",
            7,
            "energy.readers.1.name",
            "already used",
        ),
        ("energy:\n  role: compute-site\n  readers:\n    - {type: hwmon, name: a, path: rel/x}\n", 6, "energy.readers.0.path", "absolute"),
        ("energy:\n  power_system:\n    - {type: grid, name: g, url: feeds/uk.json}\n", 5, "energy.power_system.0.url", "absolute"),
        ("energy:\n  power_system:\n    - {type: mms, name: m, address: 'localhost'}\n", 5, "energy.power_system.0.address", "HOST:PORT"),
        (
            "energy:\n  power_system:\n    - type: mms\n      name: m\n      address: 'h:102'\n      points: [{name: price, ref: 'L/G.A', unit: furlongs}]\n",
            8,
            "energy.power_system.0.points.0.unit",
            "furlongs",
        ),
        (
            "energy:\n  role: compute-site\n  readers:\n    - {type: redfish, name: b, url: 'http://x', username: u, password_file: /nonexistent/pw}\n",
            6,
            "energy.readers.0.password_file",
            "cannot read",
        ),
        ("energy:\n  interval: .nan\n", 4, "energy.interval", ""),
    ],
)
def test_mistakes_name_file_line_and_field(tmp_path, energy, line, field, words):
    p = write(tmp_path, energy)
    with pytest.raises(ConfigError) as ei:
        load_power(p)
    msg = str(ei.value).splitlines()[0]
    assert msg.startswith(f"{p}:{line}: {field}:"), msg
    assert words in msg, msg


def test_every_configurable_unit_normalises():
    for u in energycfg.UNITS + ["EUR/MWh", "GBP/kWh"]:
        value, unit = normalise(1.0, u)
        assert value > 0 and Reading("x", value, unit, 0.0, "s").unit == unit


class Hang:
    """A blocking source that never returns until released (a BMC that hangs)."""

    name = "hung"
    timeout = 0.1

    def __init__(self):
        self.release = threading.Event()
        self.calls = 0

    def read(self):
        self.calls += 1
        self.release.wait(30)
        return []


class Boom:
    name = "boom"

    def read(self):
        raise ZeroDivisionError("a bug in a source")


class Fine:
    name = "fine"

    def __init__(self, clock):
        self.clock = clock

    def read(self):
        return [Reading("power", 42.0, "W", self.clock(), self.name), Reading("capacity", float("nan"), "W", self.clock(), self.name, "nominal")]


class Bad:
    name = "bad"

    def read(self):
        raise SourceError("bad_unit", "kWh/furlong")


def test_poller_never_raises_and_a_hung_source_costs_one_thread():
    async def main():
        clock = time.time
        hang = Hang()
        store = Store(max_age=60)
        p = Poller([hang, Boom(), Fine(clock), Bad()], store=store, timeout=0.2)
        await p.poll_once()
        await p.poll_once()  # the hung read is still running: not started again
        assert hang.calls == 1
        assert store.drops[("hung", "timeout")] == 2
        assert store.drops[("boom", "error")] == 2 and store.drops[("bad", "bad_unit")] == 2
        assert store.drops[("fine", "not_finite")] == 2  # the NaN capacity, the power kept
        assert p.latest()["power"].value == 42.0 and "capacity" not in p.latest()
        task = p.start()
        await asyncio.sleep(0)
        hang.release.set()
        await p.stop()
        assert task.done()
        st = p.status()
        assert st["drops"]["boom"] == {"error": st["drops"]["boom"]["error"]}

    asyncio.run(main())


def test_latest_prefers_measured_then_fresh():
    t = [1000.0]
    s = Store(max_age=100, clock=lambda: t[0])
    s.accept("a", [Reading("power", 10.0, "W", 990.0, "a", "estimated")])
    s.accept("b", [Reading("power", 12.0, "W", 950.0, "b", "measured"), Reading("capacity", 500.0, "W", 999.0, "b", "nominal")])
    s.accept("c", [Reading("power", 11.0, "W", 980.0, "c", "measured")])
    got = s.latest()
    assert got["power"].value == 11.0 and got["capacity"].value == 500.0
    s.accept("d", [Reading("power", 1.0, "W", 2000.0, "d")])  # 1000 s ahead of our clock
    assert s.drops[("d", "future")] == 1
    with pytest.raises(ValueError):
        Reading("power", 1.0, "kW", 0.0, "x")  # not normalised
    with pytest.raises(ValueError):
        Reading("power", 1.0, "W", 0.0, "x", "guessed")


def test_the_example_in_docs_energy_md_loads(tmp_path):
    from conftest import ROOT

    text = (ROOT / "docs" / "energy.md").read_text()
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    pw = tmp_path / "bmc.pass"
    pw.write_text("x\n")
    p = tmp_path / "power.yml"
    p.write_text(PORTS + block.replace("/etc/pyfrr-pwr/bmc.pass", str(pw)))
    e = load_power(p).energy
    assert e["role"] == "compute-site" and len(e["readers"]) == 4 and len(e["power_system"]) == 4
    assert [type(s).__name__ for s in build(e).sources][-4:] == ["MmsSource", "GridSource", "GridSource", "GridSource"]
