"""hwmon/RAPL reads are robust (issue 10: "A half-written hwmon file makes the
reader fall back to the static figure"): fake sysfs trees in a temp dir
(this machine has no power sensors)."""

import errno
import logging
import os
import textwrap
import time

import pytest

from pyfrr_pwr.files.power import load_power
from pyfrr_pwr.telemetry import sensors
from pyfrr_pwr.telemetry.energy import SourceError
from pyfrr_pwr.telemetry.sensors import HwmonReader, RaplReader, SensorSource, make_reader


class Clock:
    def __init__(self, t=1000.0):
        self.t = t

    def __call__(self):
        return self.t


def test_half_written_hwmon_file_keeps_the_measured_figure_not_the_static_one(tmp_path):
    """The issue's case end to end: a port with a static 50 W and a hwmon
    sensor reading 30 W; a read while the file is being rewritten (empty)
    must not turn POWER back into the static figure."""
    f = tmp_path / "hwmon3" / "power1_input"
    f.parent.mkdir()
    f.write_text("30000000\n")
    p = tmp_path / "power.yml"
    p.write_text(
        textwrap.dedent(f"""\
        ports:
          eth1: {{power_w: 50, power_reader: {{type: hwmon, path: {f}}}, speed: 10G, available: 10G}}
        """)
    )
    cfg = load_power(p)
    reader = make_reader(cfg.ports["eth1"].power_reader)
    w = reader.read()
    assert cfg.port_metrics("eth1", measured_w={"eth1": w}).unit_power_w == pytest.approx(30.0)
    f.write_text("")  # truncated, not yet rewritten: what write_text() leaves between its two steps
    w = reader.read()
    assert w == pytest.approx(30.0)
    assert cfg.port_metrics("eth1", measured_w={"eth1": w}).unit_power_w == pytest.approx(30.0)
    assert reader.errors["empty"] == 1 and reader.fallbacks == 0


def test_each_bad_read_is_counted_by_reason(tmp_path, monkeypatch):
    f = tmp_path / "power1_input"
    clock = Clock()
    r = HwmonReader(f, clock=clock)
    assert r.read() is None and r.errors["unreadable"] == 1  # no file, no last good value
    f.write_text("12500000\n")
    assert r.read() == 12.5
    for text, why in (("garbage\n", "not_number"), ("-4\n", "negative"), ("\n", "empty"), ("9" * 100, "not_number")):
        f.write_text(text)
        assert r.read() == 12.5, why
        assert r.errors[why] >= 1, why
    f.write_text("7000000")  # no newline, but the same on a re-read: a file written that way
    assert r.read() == 7.0
    real_read = sensors.read_attr

    def enodata(path):
        if str(path) == str(f):
            raise OSError(errno.ENODATA, "No data available")
        return real_read(path)

    monkeypatch.setattr(sensors, "read_attr", enodata)  # a driver's ENODATA cannot be made with a file
    assert r.read() == 7.0 and r.errors["enodata"] == 1


def test_after_hold_the_fallback_is_logged_and_counted(tmp_path, caplog):
    f = tmp_path / "power1_input"
    f.write_text("2000000\n")
    clock = Clock()
    r = HwmonReader(f, clock=clock, hold=30)
    assert r.read() == 2.0
    f.write_text("")
    clock.t += 29
    assert r.read() == 2.0
    clock.t += 2
    with caplog.at_level(logging.WARNING, logger="pyfrr_pwr.power"):
        assert r.read() is None
    assert r.fallbacks == 1
    assert any("using the static figure" in m for m in caplog.messages)
    f.write_text("3000000\n")
    assert r.read() == 3.0


def test_a_half_written_file_that_settles_is_read_again(tmp_path, monkeypatch):
    """The retry: a read that sees the file cut short re-reads at once and
    takes the complete text (a real sysfs attribute always ends in a newline)."""
    f = tmp_path / "power1_input"
    f.write_text("2000000\n")
    r = HwmonReader(f)
    texts = iter([b"12", b"12500000\n"])
    real_read = sensors.read_attr
    monkeypatch.setattr(sensors, "read_attr", lambda p: next(texts) if str(p) == str(f) else real_read(p))
    assert r.read() == 12.5  # not 12 uW
    assert sum(r.errors.values()) == 0


def test_a_sensor_file_replaced_whole_is_read_as_it_is_now(tmp_path):
    """Each read opens the file anew (``read_attr``): a file replaced by a
    rename (how a fake sensor, or a tool, writes a value whole) or a sensor
    whose driver was rebound is read as it is now, not as the inode an open
    file descriptor would still hold."""
    f = tmp_path / "power1_input"
    f.write_text("2000000\n")
    r = HwmonReader(f)
    assert r.read() == 2.0
    tmp = tmp_path / "power1_input.tmp"
    tmp.write_text("5000000\n")
    tmp.replace(f)
    assert r.read() == 5.0
    f.unlink()
    f.write_text("6000000\n")
    assert r.read() == 6.0 and sum(r.errors.values()) == 0


def test_read_attr_reads_at_most_a_sysfs_integers_worth(tmp_path):
    f = tmp_path / "big"
    f.write_bytes(b"1" * 10_000)
    assert sensors.read_attr(str(f)) == b"1" * (sensors.MAX_TEXT + 1)
    with pytest.raises(FileNotFoundError):
        sensors.read_attr(str(tmp_path / "none"))


def test_rapl_bad_read_keeps_counter_and_last_watts(tmp_path):
    z = tmp_path / "intel-rapl:0"
    z.mkdir()
    (z / "max_energy_range_uj").write_text("1000000\n")
    e = z / "energy_uj"
    clock = Clock(100.0)
    r = RaplReader(e, clock=clock)
    e.write_text("100000\n")
    assert r.read() is None  # primes
    clock.t += 1
    e.write_text("150000\n")
    assert r.read() == pytest.approx(0.05)
    clock.t += 1
    e.write_text("")
    assert r.read() == pytest.approx(0.05) and r.errors["empty"] == 1
    clock.t += 1
    e.write_text("350000\n")  # 200 mJ over the 2 s since the last good read
    assert r.read() == pytest.approx(0.1)
    assert r.joules == pytest.approx(0.25)


def test_sensor_source_readings(tmp_path):
    f = tmp_path / "power1_input"
    f.write_text("125000000\n")
    src = SensorSource("psu", HwmonReader(f), wall=lambda: 1234.0)
    (rd,) = src.read()
    assert (rd.name, rd.value, rd.unit, rd.ts, rd.source, rd.accuracy) == ("power", 125.0, "W", 1234.0, "psu", "measured")
    with pytest.raises(SourceError) as ei:
        SensorSource("gone", HwmonReader(tmp_path / "nope")).read()
    assert ei.value.reason == "unreadable"
    z = tmp_path / "rapl"
    z.mkdir()
    (z / "energy_uj").write_text("5\n")
    assert SensorSource("cpu", RaplReader(z / "energy_uj")).read() == []  # priming: nothing yet, not an error


def test_a_hwmon_chip_says_how_often_its_reading_changes(tmp_path):
    """``period`` (Documentation/hwmon/sysfs-interface, milliseconds): the
    channel's ``power<N>_average_interval``, else the chip's
    ``update_interval``; None without either or with garbage."""
    chip = tmp_path / "hwmon3"
    chip.mkdir()
    f = chip / "power1_input"
    f.write_text("2000000\n")
    assert HwmonReader(f).period is None
    (chip / "update_interval").write_text("500\n")
    assert HwmonReader(f).period == 0.5
    (chip / "power1_average_interval").write_text("1000\n")
    assert HwmonReader(f).period == 1.0
    assert HwmonReader(chip / "power2_input").period == 0.5  # another channel: the chip's interval
    for bad in ("0\n", "-5\n", "x\n", f"{sensors.MAX_PERIOD_MS + 1}\n"):
        (chip / "power1_average_interval").write_text(bad)
        (chip / "update_interval").write_text(bad)
        assert HwmonReader(f).period is None, bad
    assert RaplReader(tmp_path / "energy_uj").period is None


def test_the_measurer_reads_a_sensor_no_faster_than_its_hardware_updates(tmp_path):
    """agent.measure: a sensor whose chip updates every 1 s is read once a
    second; one that says nothing, every ``interval``; between reads the
    last figure stands."""
    from pyfrr_pwr.agent.measure import Measurer
    from pyfrr_pwr.files.power import load_power

    slow, fast = tmp_path / "slow", tmp_path / "fast"
    for d in (slow, fast):
        d.mkdir()
        (d / "power1_input").write_text("1000000\n")
    (slow / "update_interval").write_text("1000\n")
    p = tmp_path / "power.yml"
    p.write_text(
        "ports:\n"
        f"  eth1: {{speed: 10G, power_w: 2.0, available: 5G, power_reader: {{type: hwmon, path: {slow / 'power1_input'}}}}}\n"
        f"  eth2: {{speed: 10G, power_w: 2.0, available: 5G, power_reader: {{type: hwmon, path: {fast / 'power1_input'}}}}}\n"
    )
    m = Measurer(load_power(p), "t", 1.0, {}, sysfs=tmp_path)
    m.interval = 0.1
    seen = []
    for i, now in enumerate((0.0, 0.1, 0.5, 0.99, 1.0, 1.1)):
        for d in (slow, fast):
            (d / "power1_input").write_text(f"{i + 2}000000\n")  # both change every step
        if now >= m._next_read():
            seen.append((now, m.watts(now)))
    assert seen == [
        (0.0, {"eth1": 2.0, "eth2": 2.0}),
        (0.1, {"eth1": 2.0, "eth2": 3.0}),
        (0.5, {"eth1": 2.0, "eth2": 4.0}),
        (0.99, {"eth1": 2.0, "eth2": 5.0}),
        (1.0, {"eth1": 6.0, "eth2": 5.0}),  # the fast one is due at 1.09
        (1.1, {"eth1": 6.0, "eth2": 7.0}),
    ]
    assert m._next_read() == pytest.approx(1.2)  # the fast one; the slow one at 2.0


def write(f, text):
    tmp = f.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, f)  # a sensor's value appears whole


class _Core:
    """What Measurer.run asks of the agent's core: its links, and every
    evaluation's inputs recorded."""

    def __init__(self):
        self.links, self.ifaddrs, self.seen = {}, {}, []

    def set_measurements(self, used, watts, now):
        self.seen.append(dict(watts))
        return []


def test_the_measurer_reads_unchanged_sensors_once_and_a_change_at_once(tmp_path):
    """agent.measure with telemetry.watch: while no sensor file changes the
    agent's event loop does not read them (the watcher's thread does, every
    ``interval``); a change is read and evaluated at once, and a sensor
    that fails is read every ``interval`` again until it is good."""
    import asyncio
    from collections import Counter

    from pyfrr_pwr.agent.measure import Measurer
    from pyfrr_pwr.files.power import load_power

    fs = [tmp_path / f"power{i}_input" for i in (1, 2)]
    for f in fs:
        f.write_text("1000000\n")
    p = tmp_path / "power.yml"
    p.write_text(
        "ports:\n"
        f"  eth1: {{speed: 10G, power_w: 2.0, available: 5G, power_reader: {{type: hwmon, path: {fs[0]}}}}}\n"
        f"  eth2: {{speed: 10G, power_w: 2.0, available: 5G, power_reader: {{type: hwmon, path: {fs[1]}}}}}\n"
    )
    m = Measurer(load_power(p), "t", 1.0, {}, sysfs=tmp_path)
    reads = Counter()
    for name, r in m.readers.items():
        r.read = (lambda f, n: lambda: reads.update([n]) or f())(r.read, name)
    core = _Core()

    async def until(cond, what, timeout=5.0):
        end = time.monotonic() + timeout
        while not cond():
            assert time.monotonic() < end, what
            await asyncio.sleep(0.005)

    async def main():
        task = asyncio.create_task(m.run(core, lambda reqs: None, 0.01))
        try:
            await until(lambda: m._watch is not None and m._watch.rounds() >= 2, "no watcher")
            before = dict(reads)
            goal = m._watch.rounds() + 30
            await until(lambda: m._watch.rounds() >= goal, "the watcher stopped")
            assert reads == before and all(n <= 2 for n in reads.values())  # 30 rounds: nothing read on the loop
            write(fs[0], "3000000\n")
            await until(lambda: core.seen and core.seen[-1].get("eth1") == 3.0, "the change was not evaluated")
            fs[1].unlink()  # fails: read every interval again (the last figure held meanwhile)
            n = reads["eth2"]
            await until(lambda: reads["eth2"] >= n + 10, "a failing sensor was not read again")
            assert core.seen[-1] == {"eth1": 3.0, "eth2": 1.0}
            write(fs[1], "4000000\n")
            await until(lambda: core.seen[-1].get("eth2") == 4.0, "the sensor's recovery was not evaluated")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert m._watch is None  # stopped with the loop

    asyncio.run(main())
