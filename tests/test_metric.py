"""The draft's arithmetic (sec. 2.1.1-2.1.8, 2.2)."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyfrr_pwr.model import metric
from pyfrr_pwr.model.metric import Banding, PowerProfile
from pyfrr_pwr.proto import wire


def test_power_bias_example_sec_2_1_3():
    # one end computes 10, the other 2: PWRLINK is 6
    assert metric.pwrlink(10, 2) == 6


def test_normalisation_to_lowest_common_port_speed_sec_2_1_1():
    speeds = [10e9, 10e9, 10e9, 100e9]
    unit = metric.lowest_common_speed(speeds)
    assert unit == 10e9
    assert metric.normalized_units(100e9, unit) == 10
    assert metric.power_per_unit(260, speeds, unit) == 20.0


def test_power_metric_units_and_display():
    # 20 W per normalised port over 5 Gb/s available = 4 W per Gb/s
    r = metric.power_metric(20.0, metric.bps_to_Bps(5e9))
    assert math.isclose(metric.w_per_gbps(r), 4.0)


def test_lower_of_two_rule_sec_2_1_8_2():
    assert metric.effective_metric(3.0, 1.0) == 1.0
    assert metric.effective_metric(3.0, None) == 3.0
    assert metric.effective_metric(None, None) is None


def test_weighted_pwrlink_reduces_to_mean():
    assert metric.pwrlink_weighted(4, 2, 1, 1) == metric.pwrlink(4, 2)
    # a 100G-capable port running at 10G counts for a tenth
    assert math.isclose(metric.pwrlink_weighted(4, 2, 0.1, 1.0), (0.4 + 2) / 1.1)
    with pytest.raises(ValueError):
        metric.pwrlink_weighted(1, 1, 0, 0)


def test_capacity_weight_running_over_highest_sec_2_1_1():
    assert metric.capacity_weight(10e9, 100e9) == 0.1  # bits/s from power.yml
    assert metric.capacity_weight(1.25e9, 1.25e10) == 0.1  # bytes/s from a Link TLV
    assert metric.capacity_weight(10e9, 10e9) == 1.0
    # no highest capacity sent (or nonsense): the port runs at its highest
    for speed, highest in ((1.25e9, None), (None, 1e9), (1e9, 0.0), (0.0, 1e9), (1e9, float("nan"))):
        assert metric.capacity_weight(speed, highest) == 1.0
    assert metric.capacity_weight(100e9, 10e9) == 1.0  # clamped into (0, 1]
    assert 0 < metric.capacity_weight(1.0, 3.4e38) <= 1e-12


def test_link_pwrlink_is_the_one_formula():
    assert metric.link_pwrlink(10, 2) == metric.pwrlink(10, 2) == 6
    assert metric.link_pwrlink(10, 2, 0.1, 0.1) == 6  # equal weights: exactly the mean
    assert metric.link_pwrlink(5.6, 1.6, 0.1, 1.0) == metric.pwrlink_weighted(5.6, 1.6, 0.1, 1.0)
    assert math.isclose(metric.link_pwrlink(5.6, 1.6, 0.1, 1.0), 2.16 / 1.1)
    # one end known: its POWER, whatever the weights
    assert metric.link_pwrlink(3.0, None, 0.1, 1.0) == 3.0
    assert metric.link_pwrlink(None, 3.0, 0.1, 1.0) == 3.0
    assert metric.link_pwrlink(None, None) is None


def test_clamp_keeps_saturated_ports_finite_and_encodable():
    cap = metric.bps_to_Bps(10e9)
    a = metric.clamp_avail_bw(0.0, cap)
    assert a == cap * 1e-3
    r = metric.power_metric(300.0, a)
    assert math.isfinite(r)
    wire.pack_floats([r])
    assert metric.power_metric(3e38, 1e-3) == metric.FLT_MAX
    with pytest.raises(ValueError):
        metric.power_metric(1.0, 0.0)


def test_profile_shapes_sec_2_1_8():
    assert PowerProfile.linear(100, 200).shape == "linear"
    assert PowerProfile.flattening(100, 200).shape == "flattening"
    assert PowerProfile.exponential(100, 200).shape == "exponential"
    assert PowerProfile(((0, 1), (0.5, 3), (0.7, 3.1), (1, 9))).shape == "mixed"
    p = PowerProfile(((0, 100), (0.5, 150), (1, 160)))
    assert p(0.25) == 125 and p(2) == 160 and p(-1) == 100
    assert p.available_power(0.5) == 10


@pytest.mark.parametrize("pts", [((0, 1),), ((0, 1), (0, 2), (1, 3)), ((0.1, 1), (1, 2)), ((0, -1), (1, 1))])
def test_bad_calibration_points(pts):
    with pytest.raises(ValueError):
        PowerProfile(pts)


def test_switchover_sec_2_1_8_1():
    # consumed/avail-bw equals available-power/avail-bw where P(u) = P(1)/2
    lin = PowerProfile.linear(0, 200)
    assert math.isclose(metric.switchover(lin), 0.5, abs_tol=1e-9)
    u = metric.switchover(PowerProfile.exponential(20, 400))
    p = PowerProfile.exponential(20, 400)
    assert math.isclose(p(u), p.available_power(u), rel_tol=1e-6)
    assert metric.switchover(PowerProfile.linear(150, 200)) is None


def test_crossovers_between_exponential_and_flattening_sec_2_1_8_1_c():
    a = PowerProfile.exponential(50, 400, 4)
    b = PowerProfile.flattening(100, 300, 4)
    xs = metric.crossovers(a, b)
    assert len(xs) == 1
    u = xs[0]
    assert abs(a(u) - b(u)) < 1e-6
    assert a(u - 0.1) < b(u - 0.1) and a(u + 0.1) > b(u + 0.1)


def test_banding_suppresses_changes_inside_the_interval_sec_2_2():
    b = Banding([1.0, 2.0, 4.0, 8.0], hysteresis=0.1)
    assert b.update(3.0) == 3.0
    assert b.update(3.9) is None  # same interval
    assert b.update(4.2) is None  # over the edge, inside the hysteresis
    assert b.update(4.5) == 4.5  # left the interval
    assert b.update(3.8) is None  # back under 4 but not under 4 - 10 %
    assert b.update(3.5) == 3.5


@given(st.lists(st.floats(0.5, 20), min_size=1, max_size=60))
def test_banding_advertises_only_on_interval_change(values):
    b = Banding.geometric(0.5, 20, 1.25, 0.05)
    last = None
    for v in values:
        out = b.update(v)
        if out is not None:
            last = out
        assert b.value == last
        # whatever is advertised is within the hysteresis band of the current value's interval
    assert last is not None


def test_banding_geometric_edges():
    b = Banding.geometric(1, 10, 2)
    assert b.edges == [1, 2, 4, 8, 16]
    with pytest.raises(ValueError):
        Banding.geometric(1, 10, 1)
