"""Prometheus exporter scraping against a real HTTP server (http.server in a
thread) serving Kepler, Scaphandre and node_exporter exposition text."""

import http.server
import socket
import threading
from pathlib import Path

import pytest

from pyfrr_pwr.telemetry.energy import SourceError
from pyfrr_pwr.telemetry.prom import Metric, PromSource, parse
from pyfrr_pwr.telemetry.store import Store

DATA = Path(__file__).parent / "data" / "telemetry" / "prom"


class Exporter:
    """A real HTTP server; ``body``/``status`` say what the next GET gets;
    ``hang`` makes it accept and never answer."""

    def __init__(self):
        self.body = b""
        self.status = 200
        self.hang = threading.Event()
        self.release = threading.Event()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if outer.hang.is_set():
                    outer.release.wait(30)
                    return
                self.send_response(outer.status)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/metrics"

    def serve(self, name_or_text):
        self.body = (DATA / name_or_text).read_bytes() if name_or_text.endswith(".txt") else name_or_text.encode()

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def exporter():
    e = Exporter()
    yield e
    e.close()


class Clock:
    def __init__(self, t=1_800_000_000.0):
        self.t = t

    def __call__(self):
        return self.t


def by_name(rs):
    return {r.name: r for r in rs}


def test_kepler_package_zone_only_and_counter_to_watts(exporter):
    exporter.serve("kepler.txt")
    clock = Clock()
    src = PromSource("kepler", exporter.url, clock=clock)
    got = by_name(src.read())
    # zone="package" only: core nests in package, package-0 duplicates it, dram is separate
    assert got["power"].value == 61.25 and got["power"].accuracy == "estimated"
    assert got["energy"].value == 123456.0 and got["energy"].unit == "J"
    clock.t += 10
    exporter.serve((DATA / "kepler.txt").read_text().replace("61.25", "0").replace("123456.0", "124056.0"))
    src2 = PromSource("kepler", exporter.url, metrics=[Metric("kepler_node_cpu_joules_total", kind="counter", labels={"zone": "package"})], clock=clock)
    clock.t -= 10
    exporter.serve("kepler.txt")
    assert "power" not in by_name(src2.read())  # one scrape of a counter: no interval yet
    clock.t += 10
    exporter.serve((DATA / "kepler.txt").read_text().replace("123456.0", "124056.0"))
    assert by_name(src2.read())["power"].value == pytest.approx(60.0)  # 600 J over 10 s


def test_scaphandre_microwatts_and_node_exporter_sums(exporter):
    exporter.serve("scaphandre.txt")
    got = by_name(PromSource("scaph", exporter.url).read())
    assert got["power"].value == pytest.approx(18.45) and got["power"].accuracy == "measured"
    assert got["energy"].value == pytest.approx(9876.54321)  # uJ -> J
    exporter.serve("node_exporter.txt")
    clock = Clock()
    src = PromSource("node", exporter.url, clock=clock)
    got = by_name(src.read())
    assert got["energy"].value == pytest.approx(30001.0)  # both packages, not dram
    assert got["power"].value == 212.5  # the hwmon gauge: no counter interval yet
    clock.t += 5
    exporter.serve((DATA / "node_exporter.txt").read_text().replace("10000.5", "10500.5"))
    assert by_name(src.read())["power"].value == pytest.approx(100.0)  # counter first: 500 J / 5 s


def test_counter_reset_restarts_the_interval(exporter):
    clock = Clock()
    src = PromSource("scaph", exporter.url, metrics=[Metric("scaph_host_energy_microjoules", kind="counter", scale=1e-6)], clock=clock)
    exporter.serve("scaph_host_energy_microjoules 5000000000\n")
    src.read()
    clock.t += 10
    exporter.serve("scaph_host_energy_microjoules 1000000\n")  # the exporter restarted
    assert "power" not in by_name(src.read())
    clock.t += 10
    exporter.serve("scaph_host_energy_microjoules 101000000\n")
    assert by_name(src.read())["power"].value == pytest.approx(10.0)


def test_hostile_exporter(exporter):
    clock = Clock()
    store = Store(max_age=60, clock=clock)
    src = PromSource("kepler", exporter.url, clock=clock, timeout=0.5)
    exporter.serve("kepler.txt")
    assert store.poll(src) == 2
    cases = [
        ('kepler_node_cpu_watts{zone="package"} NaN\n', "not_finite"),
        ('kepler_node_cpu_watts{zone="package"} -3\n', "out_of_range"),
        ('kepler_node_cpu_watts{zone="package" 3\n', "bad_format"),
        ("<html>502 Bad Gateway</html>\n", "bad_format"),
        ("node_cpu_seconds_total 1\n", "bad_format"),  # none of the power metrics
    ]
    for text, reason in cases:
        exporter.serve(text)
        assert store.poll(src) == 0, reason
        assert store.drops[("kepler", reason)] >= 1, reason
    exporter.serve("kepler.txt")
    exporter.status = 503
    assert store.poll(src) == 0 and store.drops[("kepler", "http_error")] == 1
    exporter.status = 200
    exporter.hang.set()
    assert store.poll(src) == 0 and store.drops[("kepler", "timeout")] == 1
    assert store.get("power").value == 61.25  # the last good value, still young enough
    clock.t += 61
    assert store.get("power") is None


def test_unreachable_and_file():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(SourceError) as ei:
        PromSource("x", f"http://127.0.0.1:{port}/metrics").read()
    assert ei.value.reason == "unreachable"
    assert by_name(PromSource("f", str(DATA / "scaphandre.txt")).read())["power"].value == pytest.approx(18.45)


def test_parse_is_pure_and_filters_labels():
    text = (DATA / "kepler.txt").read_text()
    found = parse(text)
    assert found["kepler_node_cpu_watts"][0] == 61.25
    found = parse(text, [Metric("kepler_node_cpu_watts", labels={"zone": "dram"})])
    assert found["kepler_node_cpu_watts"][0] == 7.75
    assert parse("kepler_node_cpu_watts 5 1800000000123\n")["kepler_node_cpu_watts"][1] == pytest.approx(1800000000.123)
