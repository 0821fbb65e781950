"""Power configuration files: errors name file, line and field."""

import dataclasses
import math
import textwrap

import pytest

from pyfrr_pwr.files.power import ConfigError, load_power, parse_rate
from pyfrr_pwr.model.constraints import Constraints
from pyfrr_pwr.model.power import PowerModelError, RouterPower

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
        (GOOD.replace("speed: 10G, available: 5G", "speed: 10G, highest_speed: 1G"), ":11: ports.eth1.highest_speed: must be >= speed"),
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


def test_multi_capacity_port_weight(tmp_path):
    cfg = load_power(write(tmp_path, GOOD.replace("speed: 10G, available: 5G", "speed: 10G, highest_speed: 100G, available: 5G")))
    assert cfg.ports["eth1"].multi_capacity and cfg.ports["eth1"].weight == 0.1
    assert cfg.port_metrics("eth1").weight == 0.1
    assert not cfg.ports["eth2"].multi_capacity and cfg.port_metrics("eth2").weight == 1.0  # highest_speed defaults to speed


def test_the_model_is_the_config_without_the_file(tmp_path):
    p = write(tmp_path, GOOD)
    cfg = load_power(p)
    assert isinstance(cfg, RouterPower)
    model = RouterPower(cfg.router, cfg.base_speed, cfg.line_cards, cfg.ports, cfg.te_head, cfg.te_tail)
    assert model.port_metrics("eth1") == cfg.port_metrics("eth1")
    # the model has its own error (a ValueError); the loader names the file
    with pytest.raises(PowerModelError, match="ports.eth9: no such port") as ei:
        model.port_metrics("eth9")
    assert isinstance(ei.value, ValueError) and not isinstance(ei.value, ConfigError)
    with pytest.raises(ConfigError, match="no such port") as ei:
        cfg.port_metrics("eth9")
    assert str(ei.value).startswith(f"{p}: ports.eth9")
    with pytest.raises(PowerModelError, match="highest speed"):
        dataclasses.replace(cfg.ports["eth1"], highest_speed=1e9)


def test_model_imports_nothing_above_it():
    import ast

    from conftest import ROOT

    for f in (ROOT / "pyfrr_pwr/model").glob("*.py"):
        for n in ast.walk(ast.parse(f.read_text())):
            names = [a.name for a in n.names] if isinstance(n, ast.Import) else [n.module or ""] if isinstance(n, ast.ImportFrom) else []
            for name in names:
                if name.startswith("pyfrr_pwr."):
                    assert name.split(".")[1] in ("model", "proto", "_core"), f"{f.name} imports {name}"


# -- issue 11: the agent's signalling keys, and numbers that must stay finite ---

KEY = "0123456789abcdef-signalling"


def agent_cfg(tmp_path, agent: str):
    return write(tmp_path, GOOD + f"agent: {agent}\n")


def test_agent_defaults_for_signalling(tmp_path):
    cfg = load_power(write(tmp_path, GOOD))
    assert cfg.agent == {"signal_key_id": 1, "reservation_refresh": 5.0, "reservation_hold": 15.0}
    cfg = load_power(agent_cfg(tmp_path, f"{{signal_key: {KEY}, signal_key_id: 0, reservation_refresh: 1.5, reservation_hold: 4}}"))
    assert cfg.agent == {"signal_key": KEY, "signal_key_id": 0, "reservation_refresh": 1.5, "reservation_hold": 4}


def test_signal_key_file_is_read_relative_to_the_power_yml(tmp_path):
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys/sig.key").write_text(f"  {KEY}\n\n")
    cfg = load_power(agent_cfg(tmp_path, "{signal_key_file: keys/sig.key}"))
    assert cfg.agent["signal_key"] == KEY and cfg.agent["signal_key_file"] == str(tmp_path / "keys/sig.key")
    absolute = load_power(agent_cfg(tmp_path, f"{{signal_key_file: {tmp_path / 'keys/sig.key'}}}"))
    assert absolute.agent["signal_key"] == KEY


@pytest.mark.parametrize(
    "agent,field,expect",
    [
        ("{signal_key: short-secret}", "agent.signal_key", "at least 16 characters, has 12"),
        ("{signal_key: 1234567890123456789}", "agent.signal_key", "must be a string, not int"),
        (f"{{signal_key: {KEY}, signal_key_file: k}}", "agent.signal_key_file", "mutually exclusive"),
        ("{signal_key_file: missing.key}", "agent.signal_key_file", "not a file"),
        ("{signal_key_file: short.key}", "agent.signal_key_file", "at least 16 characters, has 12"),
        ("{signal_key_file: binary.key}", "agent.signal_key_file", "not UTF-8"),
        ("{signal_key_file: .}", "agent.signal_key_file", "not a file"),
        ("{signal_key_id: 256}", "agent.signal_key_id", "256 is greater than the maximum of 255"),
        ("{signal_key_id: 1.5}", "agent.signal_key_id", "not of type 'integer'"),
        ("{reservation_refresh: 0}", "agent.reservation_refresh", "less than or equal to the minimum of 0"),
        ("{reservation_refresh: .inf}", "agent.reservation_refresh", "finite"),
        ("{reservation_hold: .nan}", "agent.reservation_hold", "finite"),
        ("{reservation_refresh: 5, reservation_hold: 5}", "agent.reservation_hold", "must be longer than reservation_refresh (5 s)"),
        ("{reservation_refresh: 20}", "agent.reservation_refresh", "reservation_hold (15 s (the default)) must be longer"),
        ("{api: '[::1]:'}", "agent.api", "HOST:PORT"),
    ],
)
def test_agent_signalling_errors_name_file_line_and_field(tmp_path, agent, field, expect):
    (tmp_path / "short.key").write_text("short-secret\n")
    (tmp_path / "binary.key").write_bytes(b"\xff" * 20)
    p = agent_cfg(tmp_path, agent)
    with pytest.raises(ConfigError) as ei:
        load_power(p)
    msg = str(ei.value)
    assert msg.startswith(f"{p}:15: {field}: ") and expect in msg, msg
    assert "short-secret" not in msg and KEY not in msg  # a key is never quoted


def test_duplicate_keys_are_refused(tmp_path):
    p = write(tmp_path, GOOD + "te_endpoint: {tail: true}\n")
    with pytest.raises(ConfigError, match=rf"^{p}:15: te_endpoint: duplicate key 'te_endpoint' \(first on line 14\)"):
        load_power(p)


@pytest.mark.parametrize("k", ["1.0e-6", "0.5", "100"])  # YAML 1.1: a float needs its dot
def test_steepness_at_its_bounds_gives_a_finite_profile(tmp_path, k):
    for shape in ("flattening", "exponential"):
        cfg = load_power(write(tmp_path, GOOD.replace("shape: flattening", f"shape: {shape}, steepness: {k}")))
        pts = cfg.line_cards["LC2"].profile.points
        assert all(math.isfinite(w) and 100 - 1e-6 <= w <= 300 + 1e-6 for _, w in pts)
        assert pts[0][1] == pytest.approx(100) and pts[-1][1] == pytest.approx(300)


def test_parse_rate_refuses_what_is_not_finite_and_long_strings_quickly():
    import time

    for bad in ("1e400G", float("inf"), float("nan"), 10**400, "9" * 100000 + "X", None, [1]):
        with pytest.raises(ValueError):
            t0 = time.monotonic()
            parse_rate(bad)
        assert time.monotonic() - t0 < 0.1


# found by tests/fuzz/campaign.py: files that loaded but broke the agent's arithmetic


@pytest.mark.parametrize(
    "old,new,expect",
    [
        # 1e-300 b/s over a 10G base underflows to 0 normalised ports: ZeroDivisionError
        ("eth3: {speed: 10G, power_w: 12}", "eth3: {speed: 1e-290G, power_w: 12}", ":13: ports.eth3.speed: 1e-281 b/s is not a speed from 1 b/s"),
        # 1.25e307 bytes/s does not fit the Link TLV's float32
        ("speed: 100G, available: 50G", "speed: 1e299G, available: 50G", ":12: ports.eth2.speed: 1e+308 b/s is not a speed"),
        ("base_speed: 10G", "base_speed: 0.5", ":2: base_speed: 0.5 b/s is not a speed"),
        ("port_speeds: [10G, 10G, 10G, 10G]", "port_speeds: [10G, 10G, 10G, 2000T]", ":7: line_cards.LC1.port_speeds.3: 2e+15 b/s"),
        ("power_w: 12}", "power_w: 12, mcast_replication: 1e-300}", ":13: ports.eth3.mcast_replication:"),
        ("power_w: 200", "power_w: 1.0e+7", ":5: line_cards.LC1.power_w: 10000000.0 is greater than the maximum of 1000000.0"),
        # JSON Schema's integers include 5.0; the Link TLV's encoder does not
        ("speed: 10G, available: 5G}", "speed: 10G, available: 5G, delay_us: 5.0}", ":11: ports.eth1.delay_us: 5.0 is not of type 'integer'"),
        ("te_endpoint: {head: true}", "te_endpoint: {head: true}\nksp: {k: 8.0}", ":15: ksp.k: 8.0 is not of type 'integer'"),
        # a profile that falls with load: its interpolation went below 0 W (subnormal figures)
        ("idle_w: 100, peak_w: 300", "idle_w: 300, peak_w: 100", ":9: line_cards.LC2.profile: peak_w (100 W) is below idle_w (300 W)"),
        (
            "{shape: flattening, idle_w: 100, peak_w: 300}",
            "{points: [[0, 100], [0.5, 90], [1, 300]]}",
            ":9: line_cards.LC2.profile.points: power falls from 100 W to 90 W",
        ),
        (
            "{shape: flattening, idle_w: 100, peak_w: 300}",
            "{points: [[0, 100], [1.5, 300]]}",
            ":9: line_cards.LC2.profile.points.1.0: 1.5 is greater than the maximum of 1",
        ),
    ],
)
def test_figures_the_agent_cannot_compute_with_are_refused(tmp_path, old, new, expect):
    assert old in GOOD
    p = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(ConfigError) as ei:
        load_power(p)
    assert str(ei.value).startswith(f"{p}{expect}"), str(ei.value)


def test_an_abrs_vectors_can_bound_jitter(tmp_path):
    """ksp.constraints.max_jitter (issue 9 sec. 2): what an ABR's vectors
    must meet, beside max_delay; a negative bound names its field."""
    p = tmp_path / "power.yml"
    p.write_text("ports:\n  eth1: {speed: 10G, power_w: 10}\nksp:\n  constraints: {max_delay: 10000, max_jitter: 1000}\n")
    assert load_power(p).ksp_constraints == Constraints(max_delay=10000.0, max_jitter=1000.0)
    p.write_text("ports:\n  eth1: {speed: 10G, power_w: 10}\nksp:\n  constraints: {max_jitter: -1}\n")
    with pytest.raises(ConfigError, match=r"power.yml:4: ksp.constraints.max_jitter"):
        load_power(p)
