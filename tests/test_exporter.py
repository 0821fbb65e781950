"""The Prometheus exporter (agent.exporter): off by default, scraped over
HTTP from a real AgentCore's state; hostile HTTP counted, never fatal."""

import asyncio
import socket
import textwrap
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pyfrr_pwr.agent import exporter as ex
from pyfrr_pwr.agent.core import AgentCore
from pyfrr_pwr.cats.energy import EnergyAdvert
from pyfrr_pwr.files.catscfg import ExporterSettings
from pyfrr_pwr.files.power import load_power
from pyfrr_pwr.proto import ospfapi as api
from pyfrr_pwr.proto import wire

T0 = 1_700_000_000.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def core(tmp_path):
    p = tmp_path / "power.yml"
    p.write_text(
        textwrap.dedent(f"""\
        ports:
          eth1: {{speed: 10G, power_w: 2.0}}
        te_endpoint: {{tail: true}}
        agent:
          exporter: {{enabled: true, address: "127.0.0.1:{_free_port()}"}}
        """)
    )
    c = AgentCore(load_power(p), min_interval=1.0)
    c.ifaddrs = {"eth1": "10.0.1.0"}
    for m in (
        api.RouterIdChange("1.1.1.1"),
        api.IsmChange("10.0.1.0", "0.0.0.1", 4),
        api.NsmChange("10.0.1.0", "10.0.1.1", "2.2.2.2", 9),
        api.ReadyNotify(10, 200, "0.0.0.1"),
    ):
        c.handle(m, 0.0)
    c.evaluate(0.0)
    c.timings = ex.Timings()
    with c.timings("vectors"):
        pass
    # a neighbour's LSA, and a malformed one
    tlv = wire.LinkTLV("1.1.1.1", local_addrs=("10.0.1.1",), remote_addrs=("10.0.1.0",), pwr_consumed=1e-9, avail_bw=1e9)
    c.ted("0.0.0.1").apply("2.2.2.2", wire.make_lsid(200, 5), wire.encode([tlv]))
    c.ted("0.0.0.1").apply("2.2.2.2", wire.make_lsid(200, 6), b"\x00\x02\x00\x08junk")
    return c


def _families(text: str) -> dict:
    return {f.name: f for f in text_string_to_metric_families(text)}


def _value(fams, metric, **labels):
    for s in fams[metric].samples:
        if all(s.labels.get(k) == v for k, v in labels.items()) and s.name in (metric, metric + "_total"):
            return s.value
    raise KeyError((metric, labels))


def _energy():
    e = EnergyAdvert(min_interval=0, max_age=60)
    import time

    now = time.time()
    e.update({"power_w": {"value": 350.0, "ts": now - 5, "source": "redfish", "accuracy": "measured"}}, now)
    return e


def test_off_by_default(core):
    e = ex.Exporter(ExporterSettings(), lambda: ex.state_of(core))
    assert not e.enabled and asyncio.run(e.start()) is None
    assert not ex.Exporter(None, dict).enabled


def test_scrape_over_http(core):
    energy = _energy()

    async def go():
        e = ex.Exporter(core.cfg.cats.exporter, lambda: ex.state_of(core, None, energy))
        task = asyncio.create_task(e.run())
        while e.address is None:
            await asyncio.sleep(0.01)
        host, port = e.address
        url = f"http://{host}:{port}/metrics"
        text = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read().decode())
        bad = []
        for req in (b"POST /metrics HTTP/1.1\r\n\r\n", b"GET /secret HTTP/1.1\r\n\r\n", b"garbage\r\n\r\n", b"GET /" + b"a" * 9000 + b"\r\n\r\n", b"GET /met"):
            r, w = await asyncio.open_connection(host, port)
            w.write(req)
            if req == b"GET /met":
                w.write_eof()
            await w.drain()
            bad.append((await r.read()).split(b"\r\n", 1)[0])
            w.close()
        again = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read().decode())
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return text, bad, again, e

    text, bad, again, e = asyncio.run(go())
    fams = _families(text)
    assert _value(fams, "pyfrr_pwr_exporter_state_ok") == 1
    # our link's POWER: 2 W over 10 Gb/s = 0.2 W per Gb/s
    assert _value(fams, "pyfrr_pwr_link_power_consumed_w_per_gbps", interface="eth1", neighbor="2.2.2.2") == pytest.approx(0.2, rel=1e-6)
    assert _value(fams, "pyfrr_pwr_lsas", event="received") == 1 and _value(fams, "pyfrr_pwr_lsas", event="rejected") == 1
    assert _value(fams, "pyfrr_pwr_lsas", event="originated") >= 1
    assert _value(fams, "pyfrr_pwr_energy_value", name="power_w", unit="W", accuracy="measured", source="redfish") == 350
    assert 4 <= _value(fams, "pyfrr_pwr_energy_age_seconds", name="power_w") < 60
    assert _value(fams, "pyfrr_pwr_energy_advertised", name="power_w") == 1
    assert [s.value for s in fams["pyfrr_pwr_computations_seconds"].samples if s.name.endswith("_count")] == [1]
    assert _value(fams, "pyfrr_pwr_ted_pwrlink_w_per_gbps", from_router="2.2.2.2") > 0
    assert bad == [
        b"HTTP/1.1 405 Method Not Allowed",
        b"HTTP/1.1 404 Not Found",
        b"HTTP/1.1 400 Bad Request",
        b"HTTP/1.1 431 Request Header Fields Too Large",
        b"HTTP/1.1 400 Bad Request",
    ]
    assert e.stats["http_bad_method"] == e.stats["http_not_found"] == e.stats["http_malformed"] == e.stats["http_too_long"] == 1
    assert e.stats["http_scrapes"] == 2 and "pyfrr_pwr_link_power_consumed_w_per_gbps" in again


def test_a_failing_state_callable_still_answers():
    def broken():
        raise RuntimeError("core busy")

    fams = _families(ex.render(broken).decode())
    assert _value(fams, "pyfrr_pwr_exporter_state_ok") == 0


def test_lsps_by_state():
    class L:
        def show(self):
            return [{"id": "a", "state": "up"}, {"id": "b", "state": "up"}, {"id": "c", "state": "down"}]

    class C:
        stats = {"originations": 3}
        teds = {}
        router_id = "1.1.1.1"

        def show_links(self):
            return [{"interface": "eth9", "neighbor": None, "power_consumed": float("nan"), "avail_bw": 1e9}]

        def show_ted(self):
            return {}

    fams = _families(ex.render(lambda: ex.state_of(C(), L())).decode())
    assert _value(fams, "pyfrr_pwr_lsps", state="up") == 2 and _value(fams, "pyfrr_pwr_lsps", state="down") == 1
    assert _value(fams, "pyfrr_pwr_agent_events", reason="originations") == 3
    assert _value(fams, "pyfrr_pwr_link_available_bandwidth_bytes", interface="eth9") == 1e9
    assert not any(s.labels.get("interface") == "eth9" for s in fams["pyfrr_pwr_link_power_consumed_w_per_gbps"].samples)  # NaN: left out
