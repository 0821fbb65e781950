"""Power readers on fake sysfs trees (this machine has no sensors)."""

import textwrap

import pytest

from pyfrr_pwr.files.power import load_power
from pyfrr_pwr.telemetry.sensors import HwmonReader, RaplReader, make_reader


def test_hwmon_microwatts(tmp_path):
    f = tmp_path / "hwmon3/power1_input"
    f.parent.mkdir()
    f.write_text("12500000\n")
    assert HwmonReader(f).read() == 12.5
    f.write_text("garbage\n")
    assert HwmonReader(f).read() is None
    assert HwmonReader(tmp_path / "missing").read() is None


def test_rapl_energy_deltas_and_wrap(tmp_path):
    z = tmp_path / "intel-rapl:0"
    z.mkdir()
    (z / "max_energy_range_uj").write_text("1000000\n")
    e = z / "energy_uj"
    t = [100.0]
    r = RaplReader(e, clock=lambda: t[0])
    e.write_text("900000\n")
    assert r.read() is None  # first read primes the counter
    t[0] += 2.0
    e.write_text("950000\n")
    assert r.read() == pytest.approx(0.025)  # 50 mJ over 2 s
    t[0] += 1.0
    e.write_text("49999\n")  # wrapped: 50000 + 49999 + 1 uJ
    assert r.read() == pytest.approx(0.1)


def test_make_reader_and_config_hook(tmp_path):
    f = tmp_path / "power1_input"
    f.write_text("30000000\n")
    p = tmp_path / "power.yml"
    p.write_text(
        textwrap.dedent(f"""\
        line_cards:
          LC1: {{power_reader: {{type: hwmon, path: {f}}}, port_speeds: [10G, 10G, 10G]}}
        ports:
          eth1: {{line_card: LC1, speed: 10G, available: 10G}}
        """)
    )
    cfg = load_power(p)
    reader = make_reader(cfg.line_cards["LC1"].power_reader)
    m = cfg.port_metrics("eth1", measured_w={"LC1": reader.read()})
    assert m.unit_power_w == pytest.approx(10.0)  # 30 W over three 10G units
    with pytest.raises(ValueError, match="unknown power reader"):
        make_reader({"type": "ipmi", "path": "x"})
    from pyfrr_pwr.files.power import ConfigError

    with pytest.raises(ConfigError, match="no power figure"):
        cfg.port_metrics("eth1")  # reader unreadable and no static figure
