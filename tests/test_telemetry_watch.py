"""The C sensor-file watcher (telemetry.watch, csrc/pwr_watch.c) on a fake
sysfs tree: it signals its eventfd after its first round and after a round
that saw a file's text change (or its read fail), and never for a round
that found every text as before."""

import os
import select
import time

import pytest

from pyfrr_pwr.telemetry.watch import SysfsWatch, WatchError


def write(f, text):
    tmp = f.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, f)  # a sensor's value appears whole, in a new inode


def signalled(w, timeout=5.0) -> bool:
    r, _, _ = select.select([w], [], [], timeout)
    return bool(r) and w.drain()


def rounds_pass(w, n, timeout=5.0):
    """Until the thread finished n more rounds (no fixed sleep)."""
    goal, end = w.rounds() + n, time.monotonic() + timeout
    while w.rounds() < goal:
        assert time.monotonic() < end, "the watcher's thread stopped going round"
        time.sleep(0.005)


@pytest.fixture
def sensors(tmp_path):
    fs = [tmp_path / f"power{i}_input" for i in (1, 2)]
    for f in fs:
        f.write_text("27750000\n")
    return fs


def test_the_first_round_signals_then_only_a_change_does(sensors):
    with SysfsWatch(sensors, [0.01, 0.01]) as w:
        assert signalled(w)  # the baseline: the caller reads after it
        rounds_pass(w, 10)
        assert not w.drain()  # ten rounds of the same texts: no wake-up
        write(sensors[1], "30000000\n")
        assert signalled(w)
        rounds_pass(w, 5)
        assert not w.drain()


def test_a_file_that_goes_or_comes_back_is_a_change(sensors):
    with SysfsWatch(sensors, [0.01, 0.01]) as w:
        assert signalled(w)
        sensors[0].unlink()
        assert signalled(w)
        rounds_pass(w, 5)
        assert not w.drain()  # still missing: the same outcome
        write(sensors[0], "27750000\n")
        assert signalled(w)


def test_each_path_keeps_its_own_period(sensors):
    with SysfsWatch(sensors, [0.01, 3600.0]) as w:
        assert signalled(w)
        write(sensors[1], "1\n")  # read once an hour: not seen in these rounds
        rounds_pass(w, 10)
        assert not w.drain()
        assert w.confirmed(1) is None and w.confirmed(0) is not None
        t0 = w.confirmed(0)
        rounds_pass(w, 3)
        assert w.confirmed(0) > t0  # unchanged texts are confirmed every round
        assert t0 <= time.monotonic()  # the caller's clock (CLOCK_MONOTONIC)


def test_bad_arguments_name_what_is_wrong(tmp_path):
    with pytest.raises(WatchError, match="1 paths and 2 periods"):
        SysfsWatch([tmp_path / "a"], [1.0, 1.0])
    with pytest.raises(WatchError, match="invalid path or period"):
        SysfsWatch([tmp_path / "a"], [float("nan")])
    with pytest.raises(WatchError, match="invalid path or period"):
        SysfsWatch([""], [1.0])


def test_close_stops_the_thread_and_twice_is_harmless(sensors):
    w = SysfsWatch(sensors, [0.01, 0.01])
    fd = w.fileno()
    w.close()
    w.close()
    with pytest.raises(OSError):
        os.fstat(fd)  # the eventfd went after the thread
