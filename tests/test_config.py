"""Power configuration files: errors name file, line and field."""
import textwrap

import pytest

from pyfrr_pwr.files.power import ConfigError, load_power, parse_rate
from pyfrr_pwr.model.constraints import Constraints

GOOD = """\
router: r1
base_speed: 10G
line_cards:
  LC1:
    power_w: 200
    max_power_w: 260
    port_speeds: [10G, 10G, 10G, 10G]
  LC2:
    profile: {shape: flattening, idle_w: 100, peak_w: 300}
ports:
  eth1: {line_card: LC1, port: P1, speed: 10G, available: 5G}
  eth2: {line_card: LC2, port: P1, speed: 100G, available: 50G}
  eth3: {speed: 10G, power_w: 12}
te_endpoint: {head: true}
"""


def write(tmp_path, text, name="power.yml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def test_parse_rate():
    assert parse_rate("10G") == 10e9
    assert parse_rate("2.5G") == 2.5e9
    assert parse_rate("100Mbps") == 100e6
    assert parse_rate(1000) == 1000.0
    for bad in ("ten", "10X", -1, True):
        with pytest.raises(ValueError):
            parse_rate(bad)


def test_good_file_and_port_metrics(tmp_path):
    cfg = load_power(write(tmp_path, GOOD))
    assert cfg.te_head and not cfg.te_tail and cfg.k == 8
    m = cfg.port_metrics("eth1")
    # 200 W over 4 normalised ports = 50 W per unit; 5 Gb/s available
    assert abs(m.consumed * 1.25e8 - 10.0) < 1e-9
    # (260 - 200) / 4 = 15 W per unit of available power
    assert abs(m.available * 1.25e8 - 3.0) < 1e-9
    assert m.effective == m.available
    # measured availability overrides the configured figure
    assert cfg.port_metrics("eth1", available_bps=10e9).consumed < m.consumed
    # a profile is evaluated at the card's load: more load, more power
    lo = cfg.port_metrics("eth2", available_bps=90e9)
    hi = cfg.port_metrics("eth2", available_bps=10e9)
    assert hi.unit_power_w > lo.unit_power_w
    assert cfg.port_metrics("eth3").unit_power_w == 12


@pytest.mark.parametrize(
    "text,expect",
    [
        (GOOD.replace("speed: 10G, available: 5G", "speed: 10X, available: 5G"), ":11: ports.eth1.speed"),
        (GOOD.replace("line_card: LC1", "line_card: LC9"), ":11: ports.eth1.line_card: unknown line card 'LC9'"),
        (GOOD.replace("router: r1", "router: r1\ncolour: blue"), "(top level): Additional properties"),
        (GOOD.replace("power_w: 200", "power_w: -5"), ":5: line_cards.LC1.power_w"),
        (GOOD.replace("available: 5G", "available: 50G"), "ports.eth1.available: 5e+10 b/s exceeds"),
        (GOOD.replace("ports:\n", "ports: [\n"), "YAML error"),
        ("", ":1: (top level): file is empty"),
    ],
)
def test_errors_name_file_line_and_field(tmp_path, text, expect):
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as ei:
        load_power(p)
    msg = str(ei.value)
    assert str(p) in msg
    assert expect in msg, msg


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_power(tmp_path / "nope.yml")


def test_shipped_example_config_loads():
    from conftest import ROOT

    cfg = load_power(ROOT / "frr-config/power.example.yml")
    assert cfg.te_head and cfg.te_tail and cfg.k == 8
    assert cfg.ksp_constraints == Constraints(min_bandwidth=1.25e8, max_hops=16)
    assert cfg.ports["eth1"].admin_group == 1
    m = cfg.port_metrics("eth2")  # profile-driven card
    assert m.available is not None and m.consumed > 0
    assert cfg.port_metrics("eth3").mcast is not None


def test_a_port_at_its_power_limit_does_not_look_free(tmp_path):
    cfg = load_power(write(tmp_path, GOOD))
    at_limit = cfg.port_metrics("eth1", measured_w={"LC1": 260.0})  # max_power_w is 260
    assert at_limit.available is None and at_limit.effective == at_limit.consumed > 0
    over = cfg.port_metrics("eth1", measured_w={"LC1": 300.0})
    assert over.available is None and over.effective > at_limit.effective
