"""Grid feeds (carbon intensity, green share, supply load, day-ahead price)
in the JSON shapes of the public services, read from files and from a real
HTTP server."""

import http.server
import json
import threading
from pathlib import Path

import pytest

from pyfrr_pwr.telemetry.energy import SourceError, normalise, parse_time
from pyfrr_pwr.telemetry.grid import GridSource, parse, sniff
from pyfrr_pwr.telemetry.store import Store

DATA = Path(__file__).parent / "data" / "telemetry" / "grid"
NOW = parse_time("2026-03-01T12:10Z")


def feed(name):
    return json.loads((DATA / name).read_text())


def one(rs):
    (r,) = rs
    return r


@pytest.mark.parametrize(
    "name, fmt, reading, value, unit, accuracy, ts",
    [
        ("uk-intensity.json", "uk-carbon", "carbon_intensity", 176.0, "gCO2eq/kWh", "measured", "2026-03-01T12:00Z"),
        ("uk-intensity-forecast.json", "uk-carbon", "carbon_intensity", 182.0, "gCO2eq/kWh", "estimated", "2026-03-01T12:00Z"),
        ("uk-generation.json", "uk-carbon", "green_share", 0.486, "ratio", "measured", "2026-03-01T12:00Z"),
        ("emaps-carbon.json", "electricitymaps", "carbon_intensity", 302.0, "gCO2eq/kWh", "estimated", "2026-03-01T12:00Z"),
        ("awattar.json", "awattar", "price", 61.5, "EUR/MWh", "measured", "2026-03-01T12:00Z"),
        ("energy-charts-price.json", "energy-charts", "price", 61.5, "EUR/MWh", "measured", "2026-03-01T12:00Z"),
        ("energy-charts-ren.json", "energy-charts", "green_share", 0.619, "ratio", "measured", "2026-03-01T12:00Z"),
    ],
)
def test_feed_shapes(name, fmt, reading, value, unit, accuracy, ts):
    doc = feed(name)
    assert sniff(doc) == fmt
    r = one(parse(doc, "grid", NOW))
    assert (r.name, r.unit, r.accuracy, r.source) == (reading, unit, accuracy, "grid")
    assert r.value == pytest.approx(value)
    assert r.ts == parse_time(ts)


def test_electricitymaps_breakdown_and_slot_choice():
    got = {r.name: r for r in parse(feed("emaps-breakdown.json"), "em", NOW)}
    assert got["green_share"].value == pytest.approx(0.70)
    assert got["supply_load"].value == pytest.approx(57001e6) and got["supply_load"].unit == "W"  # MW -> W
    assert got["supply_load"].accuracy == "measured"
    # the slot holding now: at 12:40 the forecast series gives the 12:30 slot, at 13:30 the last one started
    assert one(parse(feed("uk-intensity-forecast.json"), "uk", parse_time("2026-03-01T12:40Z"))).value == 95.0
    assert one(parse(feed("awattar.json"), "aw", parse_time("2026-03-01T13:30Z"))).value == -4.2  # prices may be negative
    with pytest.raises(SourceError) as ei:
        parse(feed("awattar.json"), "aw", parse_time("2026-03-01T09:00Z"))
    assert ei.value.reason == "future"
    with pytest.raises(SourceError) as ei:
        parse(feed("energy-charts-ren.json"), "ec", parse_time("2026-03-01T13:10Z"))  # now's slot is null
    assert ei.value.reason == "bad_format"


@pytest.mark.parametrize(
    "mutate, reason",
    [
        (lambda d: d["data"][1].update(unit="Eur/MWx"), "bad_unit"),
        (lambda d: d["data"][1].update(unit="gCO2/kWh"), "bad_unit"),
        (lambda d: d["data"][1].update(marketprice=float("nan")), "not_finite"),
        (lambda d: d["data"][1].update(marketprice="61,5"), "bad_format"),
        (lambda d: d["data"][1].update(marketprice=1e9), "out_of_range"),
        (lambda d: d["data"][1].update(start_timestamp="yesterday"), "bad_format"),
        (lambda d: d.update(data={}), "bad_format"),
    ],
)
def test_hostile_price_feed(mutate, reason):
    d = feed("awattar.json")
    mutate(d)
    with pytest.raises(SourceError) as ei:
        parse(d, "aw", NOW, "awattar")
    assert ei.value.reason == reason


def test_units_are_normalised():
    d = feed("awattar.json")
    d["data"][1].update(marketprice=0.0615, unit="EUR/kWh")
    assert one(parse(d, "aw", NOW)).value == pytest.approx(61.5)
    e = feed("emaps-carbon.json")
    e.update(carbonIntensity=0.302, unit="tCO2eq/MWh")
    assert one(parse(e, "em", NOW)).value == pytest.approx(302.0)
    e.update(carbonIntensity=302000, unit="gCO2eq/kWh")  # milligrams sent as grams: no grid is that dirty
    with pytest.raises(SourceError) as ei:
        parse(e, "em", NOW)
    assert ei.value.reason == "out_of_range"
    g = feed("uk-generation.json")
    g["data"]["generationmix"][0]["perc"] = 250
    with pytest.raises(SourceError) as ei:
        parse(g, "uk", NOW)
    assert ei.value.reason == "out_of_range"
    assert normalise(5, "mW") == (0.005, "W") and normalise(5, "MW") == (5e6, "W")
    assert normalise(2, "kWh") == (7.2e6, "J")
    with pytest.raises(SourceError):
        normalise(1, "furlongs")


class Feed:
    def __init__(self):
        self.body, self.status = b"{}", 200
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v3/carbon-intensity/latest"


@pytest.fixture
def server():
    f = Feed()
    yield f
    f.httpd.shutdown()
    f.httpd.server_close()


def test_grid_source_from_url_and_file_with_stale_values(server):
    t = [NOW]
    store = Store(max_age=1800, clock=lambda: t[0])
    server.body = (DATA / "emaps-carbon.json").read_bytes()
    web = GridSource("em", server.url, clock=lambda: t[0])
    assert store.poll(web) == 1 and store.get("carbon_intensity").value == 302.0
    server.body = b'{"zone": "DE", "carbonIntensity": NaN, "datetime": "2026-03-01T12:00Z"}'
    assert store.poll(web) == 0 and store.drops[("em", "not_finite")] == 1
    server.body = b"<html>"
    assert store.poll(web) == 0 and store.drops[("em", "bad_json")] == 1
    server.status = 500
    assert store.poll(web) == 0 and store.drops[("em", "http_error")] == 1
    f = GridSource("uk", str(DATA / "uk-intensity.json"), clock=lambda: t[0])
    assert store.poll(f) == 1
    t[0] = parse_time("2026-03-01T13:00Z")  # the feed file is not updated: its value ages out
    assert store.poll(f) == 0 and store.drops[("uk", "stale")] == 1
    assert store.get("carbon_intensity", source="uk") is None
    assert store.status()["drops"]["em"] == {"bad_json": 1, "http_error": 1, "not_finite": 1}
    assert GridSource("nofile", "/nonexistent/feed.json").read.__self__  # constructing does no I/O
    with pytest.raises(SourceError) as ei:
        GridSource("nofile", "/nonexistent/feed.json").read()
    assert ei.value.reason == "unreadable"
