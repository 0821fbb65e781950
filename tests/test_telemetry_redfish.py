"""Redfish readers against a real Redfish server: sushy-static (sushy-tools)
serving the mockups in tests/data/telemetry/redfish, started per test on a
free localhost port (a copy of the mockup, so a test can break it)."""

import os
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from pyfrr_pwr.telemetry.energy import SourceError
from pyfrr_pwr.telemetry.redfish import RedfishSource, parse_environment, parse_power
from pyfrr_pwr.telemetry.store import Store

MOCKUPS = Path(__file__).parent / "data" / "telemetry" / "redfish"
SUSHY_STATIC = Path(sys.executable).parent / "sushy-static"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, proc, deadline: float = 20.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"sushy-static exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("sushy-static did not start listening")


class Server:
    def __init__(self, root: Path, tls: tuple | None = None):
        self.root = root
        self.port = free_port()
        cmd = [str(SUSHY_STATIC), "-i", "127.0.0.1", "-p", str(self.port), "-m", str(root)]
        if tls:
            cmd += ["-c", str(tls[0]), "-k", str(tls[1])]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_listening(self.port, self.proc)
        except Exception:
            self.stop()
            raise
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def site(tmp_path):
    """sushy-static serving a copy of a mockup: site("site-a") -> Server."""
    servers = []

    def start(name, tls=None):
        root = tmp_path / name
        shutil.copytree(MOCKUPS / name, root)
        s = Server(root, tls)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()


class Clock:
    def __init__(self, t=1_800_000_000.0):
        self.t = t

    def __call__(self):
        return self.t


def by_name(rs):
    return {r.name: r for r in rs}


def test_environment_metrics_power_subsystem_and_energy(site):
    s = site("site-a")
    src = RedfishSource("bmc-a", s.url, clock=Clock())
    got = by_name(src.read())
    # EnvironmentMetrics' sensor (374 W) is preferred over Power.PowerConsumedWatts (344 W)
    assert (got["power"].value, got["power"].unit, got["power"].accuracy) == (374.0, "W", "measured")
    assert (got["capacity"].value, got["capacity"].accuracy) == (2000.0, "nominal")  # PowerSubsystem.CapacityWatts
    assert got["energy"].value == pytest.approx(36166.0 * 3.6e6)  # EnergykWh -> J
    assert got["energy"].unit == "J" and got["power"].source == "bmc-a"
    assert [k for k, _ in src.paths] == ["EnvironmentMetrics", "PowerSubsystem", "Power"]


def test_legacy_power_average_and_supply_capacity_on_a_blade(site):
    s = site("site-b")
    got = by_name(RedfishSource("bmc-b", s.url).read())  # the enclosure has no power data: the blade is used
    assert got["power"].value == 151.5  # PowerConsumedWatts null -> PowerMetrics.AverageConsumedWatts
    assert got["capacity"].value == 900.0 and got["capacity"].accuracy == "nominal"  # 2 x 450 W supplies
    assert "energy" not in got
    with pytest.raises(SourceError) as ei:
        RedfishSource("x", s.url, chassis="Enclosure").read()
    assert ei.value.reason == "bad_format"
    with pytest.raises(SourceError) as ei:
        RedfishSource("x", s.url, chassis="nope").read()
    assert ei.value.reason == "bad_format" and "nope" in str(ei.value)


def test_hostile_bmc_counted_last_good_kept_then_stale(site):
    s = site("site-a")
    clock = Clock()
    store = Store(max_age=120, clock=clock)
    src = RedfishSource("bmc-a", s.url, clock=clock, timeout=2)
    t0 = clock.t
    assert store.poll(src) == 3
    env = s.root / "Chassis/1U/EnvironmentMetrics/index.json"
    good = env.read_text()
    cases = [
        ("{ not json", "bad_json"),
        ("[" * 100000 + "]" * 100000, "bad_json"),  # nesting deeper than the parser's recursion limit
        ('{"PowerWatts": {"Reading": 1}, "Pad": "' + "x" * (2 << 20) + '"}', "bad_json"),  # over MAX_BODY
        (good.replace("374.0", "NaN"), "not_finite"),
        (good.replace("374.0", "-5"), "out_of_range"),
        (good.replace("374.0", '"374 W"'), "bad_format"),
        (good.replace('"PowerWatts": {', '"PowerWatts": [{').replace('"Reading": 374.0}', '"Reading": 374.0}]'), "bad_format"),
    ]
    want = Counter()
    for text, reason in cases:
        clock.t += 10
        env.write_text(text)
        assert store.poll(src) == 0, reason
        want[("bmc-a", reason)] += 1
        assert store.drops == want, reason
    env.unlink()  # 404: discovery is walked again next time
    clock.t += 10
    assert store.poll(src) == 0 and store.drops[("bmc-a", "http_error")] == 1
    st = store.status()
    power = next(v for v in st["values"] if v["name"] == "power")
    assert power["value"] == 374.0 and power["age"] == pytest.approx(10.0 * (len(cases) + 1)) and not power["stale"]
    assert store.get("power").value == 374.0  # still reported, with its age
    clock.t = t0 + 121  # older than max_age: no longer reported, still shown
    assert store.get("power") is None and store.current() == []
    assert next(v for v in store.status()["values"] if v["name"] == "power")["stale"]
    env.write_text(good)  # the BMC recovers
    assert store.poll(src) == 3 and store.get("power").value == 374.0
    s.stop()  # the BMC goes away
    assert store.poll(src) == 0 and store.drops[("bmc-a", "unreachable")] == 1


def test_timeout_against_a_server_that_never_answers():
    with socket.socket() as ls:
        ls.bind(("127.0.0.1", 0))
        ls.listen(8)  # the kernel completes the handshake; nobody ever answers
        src = RedfishSource("dead", f"http://127.0.0.1:{ls.getsockname()[1]}", timeout=0.3)
        with pytest.raises(SourceError) as ei:
            src.read()
    assert ei.value.reason == "timeout"


def test_https_with_a_ca_bundle(site, tmp_path):
    if shutil.which("openssl") is None:  # make deps installs it: under CI its absence is a failure
        (pytest.fail if os.environ.get("CI") else pytest.skip)("no openssl to make a certificate")
    key, crt = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            key,
            "-out",
            crt,
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    s = site("site-a", tls=(crt, key))
    assert by_name(RedfishSource("tls", s.url, verify=str(crt)).read())["power"].value == 374.0
    with pytest.raises(SourceError) as ei:
        RedfishSource("tls", s.url).read()  # not signed by a CA we trust
    assert ei.value.reason == "unreachable" and "certificate" in str(ei.value).lower()


def test_pure_parsers_refuse_wrong_shapes():
    with pytest.raises(SourceError) as ei:
        parse_power({"PowerControl": {"PowerConsumedWatts": 3}}, "x", 0.0)
    assert ei.value.reason == "bad_format"
    with pytest.raises(SourceError) as ei:
        parse_power({"PowerControl": [{"PowerConsumedWatts": True}]}, "x", 0.0)
    assert ei.value.reason == "bad_format"
    with pytest.raises(SourceError) as ei:
        parse_environment({"PowerWatts": {"Reading": float("inf")}}, "x", 0.0)
    assert ei.value.reason == "not_finite"
    assert parse_environment({"EnergyJoules": {"Reading": 7}, "EnergykWh": {"Reading": 1}}, "x", 0.0)[0].value == 7.0
    assert parse_power({}, "x", 0.0) == []
