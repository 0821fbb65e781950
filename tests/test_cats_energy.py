"""Energy status adverts (cats.energy): banded and rate-limited like PWR
(draft sec. 2.2), stale values withdrawn, hostile readings counted."""

import math
from types import SimpleNamespace

import pytest

from pyfrr_pwr.cats import energy as ce
from pyfrr_pwr.proto import wire

T0 = 1_700_000_000.0
RID = "10.0.1.1"


def st(power=1000.0, ts=T0, acc="measured", src="redfish", **more):
    d = {"power_w": {"value": power, "ts": ts, "source": src, "accuracy": acc}}
    for k, v in more.items():
        d[k] = {"value": v, "ts": ts, "source": "grid", "accuracy": "estimated"}
        if k == "price_per_mwh":
            d[k]["currency"] = "EUR"
    return d


def test_first_reading_goes_out_and_small_changes_stay_silent():
    a = ce.EnergyAdvert(ratio=1.1, hysteresis=0.05, min_interval=5)
    assert a.update(st(1000), T0)
    t = a.tlv(RID, T0)
    assert t.power_w.value == 1000 and t.sources == ((1, "redfish"),)
    assert wire.decode(wire.encode([t])) == [t]
    for i in range(1, 20):  # +-2 %: inside the band
        assert not a.update(st(1000 + (20 if i % 2 else -20), T0 + 10 * i), T0 + 10 * i)
    assert a.update(st(1500, T0 + 300), T0 + 300)  # a band crossed
    assert a.tlv(RID, T0 + 300).power_w.value == 1500


def test_rate_limit_holds_a_change_until_the_interval_ends_and_sends_the_newest():
    a = ce.EnergyAdvert(min_interval=5)
    a.update(st(1000), T0)
    a.tlv(RID, T0)
    assert not a.update(st(2000, T0 + 1), T0 + 1)  # changed, but within 5 s
    assert a.next_due(T0 + 1) == T0 + 5
    assert not a.update(st(4000, T0 + 2), T0 + 2)
    assert a.update({}, T0 + 5)
    assert a.tlv(RID, T0 + 5).power_w.value == 4000


def test_stale_value_stops_being_advertised_and_comes_back():
    a = ce.EnergyAdvert(min_interval=0, max_age=60)
    a.update(st(1000, carbon_g_per_kwh=300), T0)
    assert a.tlv(RID, T0).carbon_g_per_kwh.value == 300
    # the grid feed stops; power keeps coming
    s = st(1000, T0 + 61)
    del s["power_w"]["ts"]
    s["power_w"]["ts"] = T0 + 61
    assert a.update(s, T0 + 61)
    t = a.tlv(RID, T0 + 61)
    assert t.carbon_g_per_kwh is None and t.power_w is not None and a.stats["energy_went_stale"] == 1
    view = a.show(T0 + 61)
    assert view["carbon_g_per_kwh"]["stale"] and not view["carbon_g_per_kwh"]["advertised"] and view["carbon_g_per_kwh"]["age_s"] == 61
    assert a.update(st(1000, T0 + 70, carbon_g_per_kwh=310), T0 + 70)
    assert a.tlv(RID, T0 + 70).carbon_g_per_kwh.value == 310


def test_age_is_advertised_and_accuracy_change_goes_out():
    a = ce.EnergyAdvert(min_interval=0)
    a.update(st(1000, T0 - 30), T0)
    assert a.tlv(RID, T0).power_w.age_s == 30
    assert a.update(st(1000, T0 + 1, acc="estimated"), T0 + 1)
    assert a.tlv(RID, T0 + 1).power_w.accuracy == "estimated"


def test_refresh_without_change():
    a = ce.EnergyAdvert(min_interval=1, refresh=100)
    a.update(st(1000), T0)
    a.tlv(RID, T0)
    assert not a.update(st(1000, T0 + 50), T0 + 50)
    assert a.update(st(1000, T0 + 100), T0 + 100)


@pytest.mark.parametrize(
    "name,r,why",
    [
        ("power_w", {"value": math.nan}, "not_finite"),
        ("power_w", {"value": -3.0}, "negative"),
        ("power_w", {"value": "12"}, "not_a_number"),
        ("power_w", {"value": 1e39}, "not_finite"),
        ("supply_load", {"value": 1.2}, "ratio_out_of_range"),
        ("power_w", {"value": 1.0, "ts": T0 + 3600}, "timestamp_in_future"),
        ("power_w", {"value": 1.0, "ts": -1}, "bad_timestamp"),
        ("power_w", {"value": 1.0, "accuracy": "gold"}, "bad_accuracy"),
        ("power_w", {"value": 1.0, "source": "a\nb"}, "bad_source"),
        ("price_per_mwh", {"value": 1.0}, "bad_currency"),
        ("volts", {"value": 1.0}, "unknown_name"),
        ("power_w", [1, 2], "not_an_object"),
    ],
)
def test_hostile_readings_are_counted_and_the_last_good_value_kept(name, r, why):
    a = ce.EnergyAdvert(min_interval=0)
    a.update(st(1000), T0)
    a.tlv(RID, T0)
    assert not a.update({name: r}, T0 + 1)
    assert a.stats[f"energy_dropped_{why}"] == 1
    assert a.latest["power_w"]["value"] == 1000


def test_negative_price_is_fine():
    a = ce.EnergyAdvert(min_interval=0)
    a.update(st(1000, price_per_mwh=-12.5), T0)
    t = a.tlv(RID, T0)
    assert t.price_per_mwh.value == -12.5 and t.currency == "EUR"
    assert wire.decode(wire.encode([t])) == [t]
    back = ce.decoded(t)
    assert back["price_per_mwh"]["currency"] == "EUR" and back["power_w"]["source"] == "redfish"


def test_status_of_reader_objects_checks_units():
    R = lambda n, v, u: SimpleNamespace(name=n, value=v, unit=u, ts=T0, source="x", accuracy="measured")  # noqa: E731
    from collections import Counter

    stats = Counter()
    s = ce.status_of(
        [R("power_w", 10.0, "W"), R("energy_j", 5.0, "Wh"), R("price_per_mwh", 50.0, "EUR/MWh"), R("price_per_mwh", 1.0, "EUR/kWh"), R("x", 1, "W")], stats
    )
    assert set(s) == {"power_w", "price_per_mwh"} and s["price_per_mwh"]["currency"] == "EUR"
    assert stats["energy_dropped_wrong_unit"] == 2 and stats["energy_dropped_unknown_name"] == 1


def test_bad_settings_refused():
    with pytest.raises(ValueError):
        ce.EnergyAdvert(ratio=1.0)
