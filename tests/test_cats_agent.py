"""Issue 9 wired into the agent, in memory (AgentCores joined by
tests/helpers/flooding's Fabric, no ospfd): a compute site's energy status
and service instances ride in its node LSA to the other cores' TEDs, the
head-end's ``service`` answer ranks the sites it sees and follows a site's
carbon intensity, delay-only changes are banded like PWR, a request no
path meets names the bound, and the exporter scrapes a core's state.

Topology: containerlab/cats-3site (HE and the site S1 in area 1; S2 and S3
in areas 2 and 3, their power.yml ``cats.site: true``). ABR1 (areas 0 and 1)
is made a second site of area 1 here, so the head-end has two to rank."""

import asyncio
import dataclasses
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
from conftest import ROOT
from helpers.flooding import Fabric

from pyfrr_pwr.agent import control
from pyfrr_pwr.agent.core import AgentCore
from pyfrr_pwr.cats import service as cs
from pyfrr_pwr.model.constraints import Constraints
from pyfrr_pwr.proto import control as msg
from pyfrr_pwr.proto import control as pc
from pyfrr_pwr.proto import wire

TOPO = ROOT / "containerlab/cats-3site.clab.yml"
WALL = 1.8e9  # unix s: the readings' clock (the fabric's monotonic clock starts at 0)
AREA1 = "0.0.0.1"


def reading(v, accuracy="measured", ts=WALL, source="bmc"):
    return {"value": v, "ts": ts, "source": source, "accuracy": accuracy}


def status(ci, power=400.0, cap=2000.0, green=0.1, ts=WALL):
    return {
        "power_w": reading(power, ts=ts),
        "capacity_w": reading(cap, "nominal", ts=ts),
        "carbon_g_per_kwh": reading(ci, ts=ts, source="grid"),
        "green_share": reading(green, ts=ts, source="grid"),
    }


def request(**kw):
    """A ``service`` request as proto.control.Service will carry it."""
    base = dict(service="inference", demand=None, max_delay_us=None, max_jitter_us=None, weights=None, critical=False, k=None)
    return SimpleNamespace(**{**base, **kw})


@pytest.fixture
def fab():
    f = Fabric(TOPO)
    a1 = f.core("ABR1")
    a1.reconfigure(dataclasses.replace(a1.cfg, cats=f.core("S1").cfg.cats))  # a second site in area 1
    f.bring_up()
    assert f.errors == []
    return f


def feed(f, name, st, wall=WALL):
    f.send(name, f.core(name).set_energy(st, f.now, wall))
    f.settle()


def energy_tlvs(core, area, rid):
    return [t for (adv, _), tlvs in core.teds[area].lsas.items() if adv == rid for t in tlvs if isinstance(t, wire.NodeEnergy)]


def test_a_sites_energy_status_arrives_at_another_cores_ted(fab):
    f = fab
    feed(f, "S1", status(450.0))
    he = f.core("HE")
    (t,) = energy_tlvs(he, AREA1, f.rid("S1"))
    assert t.router_id == f.rid("S1")  # the placeholder router ID was replaced
    got = cs.energy_in(he.teds)[f.rid("S1")]
    assert got["carbon_g_per_kwh"]["value"] == pytest.approx(450.0)
    assert got["power_w"]["value"] == pytest.approx(400.0) and got["power_w"]["accuracy"] == "measured"
    assert got["capacity_w"]["accuracy"] == "nominal"
    assert {got[n]["source"] for n in got} == {"bmc", "grid"}
    # the instance is in the same node LSA
    insts = [i for i in cs.instances_in(he.teds, "inference") if i.router_id == f.rid("S1")]
    assert [i.address for i in insts] == ["10.30.101.2"]
    # area-scoped (RFC 5250 sec. 3): S3's status does not reach area 1
    feed(f, "S3", status(50.0))
    assert cs.energy_in(he.teds)[f.rid("S3")]["via"] == [f.rid("ABR3"), f.rid("ABR1")]  # leaked by the ABRs (agent.leak)
    assert f.rid("S3") in cs.energy_in(f.core("ABR3").teds)


def test_energy_is_banded_and_rate_limited_and_a_held_back_change_goes_out_later(fab):
    f = fab
    s1 = f.core("S1")  # its power.yml: energy_advert min_interval 1 s
    feed(f, "S1", status(450.0))
    n = s1.stats["originations"]
    # inside the band (ratio 1.1, hysteresis 5 %): nothing floods
    f.tick(5.0)
    feed(f, "S1", status(455.0, ts=WALL + 5), WALL + 5)
    assert s1.stats["originations"] == n
    # out of the band: floods at once
    f.tick(5.0)
    feed(f, "S1", status(900.0, ts=WALL + 10), WALL + 10)
    assert s1.stats["originations"] == n + 1
    # again within min_interval: held back, then goes out at a later call
    # with no new reading (the daemon calls every energy interval)
    f.tick(0.2)
    feed(f, "S1", status(100.0, ts=WALL + 10.2), WALL + 10.2)
    assert s1.stats["originations"] == n + 1
    assert s1.energy.pending and s1.energy_due(WALL + 10.2) == pytest.approx(WALL + 11)
    f.tick(1.0)
    feed(f, "S1", {}, WALL + 11.2)
    assert s1.stats["originations"] == n + 2
    assert cs.energy_in(f.core("HE").teds)[f.rid("S1")]["carbon_g_per_kwh"]["value"] == pytest.approx(100.0)


def test_the_head_ends_service_answer_ranks_sites_and_follows_carbon_intensity(fab):
    f = fab
    feed(f, "S1", status(450.0))
    feed(f, "ABR1", status(300.0))
    he = f.core("HE")
    ans = control.service(he, request())
    ranked = [e["site"] for e in ans["ranked"]]
    assert [s for s in ranked if s in (f.rid("ABR1"), f.rid("S1"))] == [f.rid("ABR1"), f.rid("S1")]  # the other areas' sites are ranked too
    best = ans["ranked"][0]
    assert set(best["terms"]) == set(cs.TERMS)
    assert best["cost"] == pytest.approx(sum(t["cost"] for t in best["terms"].values()))
    # 1 Gb/s of 10G capacity at a site drawing 400 W: 40 W; x 300 g/kWh x (1 - 0.1)
    assert best["terms"]["carbon"]["value"] == pytest.approx(0.04 * 300 * 0.9)
    # ABR1's carbon intensity rises: S1 wins
    f.tick(10.0)
    feed(f, "ABR1", status(900.0, ts=WALL + 10), WALL + 10)
    ranked = [e["site"] for e in control.service(he, request())["ranked"]]
    assert [s for s in ranked if s in (f.rid("ABR1"), f.rid("S1"))] == [f.rid("S1"), f.rid("ABR1")]
    assert he.timings.count["service"] == 2 and he.timings.count["path_choice"] >= 2


def test_service_answers_from_the_published_view(fab):
    f = fab
    feed(f, "S1", status(450.0))
    feed(f, "ABR1", status(300.0))
    he = f.core("HE")
    he.publish_view()
    f.tick(10.0)
    feed(f, "ABR1", status(900.0, ts=WALL + 10), WALL + 10)
    # the view is what the head-end chooses from until the daemon publishes anew
    assert control.service(he, request())["ranked"][0]["site"] == f.rid("ABR1")
    he.publish_view()
    assert control.service(he, request())["ranked"][0]["site"] == f.rid("S1")


def test_a_bad_service_request_is_refused_naming_the_field(fab):
    he = fab.core("HE")
    with pytest.raises(msg.AgentRefusal, match="demand"):
        control.service(he, request(demand=-1.0))
    with pytest.raises(msg.AgentRefusal, match="service"):
        control.service(he, request(service=""))


def test_the_service_request_through_the_control_answer(fab):
    feed(fab, "S1", status(450.0))
    rep = control.answer(fab.core("HE"), pc.Service(service="inference"))
    assert rep.ok and rep.result["ranked"][0]["site"] == fab.rid("S1")


def test_delay_changes_are_banded_like_pwr(fab):
    f = fab
    he = f.core("HE")
    (ifn,) = [i for i, l in he.links.items() if l.nbr_id == f.rid("S1")]
    n = he.stats["originations"]
    # a figure appearing re-originates, past min_interval (1 s) of the first LSA
    f.send("HE", he.set_delays({ifn: {"delay_us": 1000.0, "delay_var_us": 50.0}}, f.now))
    assert he.stats["originations"] == n and he.links[ifn].pending
    f.tick(2.0)
    f.send("HE", he.tick(f.now))
    f.settle()
    assert he.stats["originations"] == n + 1
    n += 1
    tl = [l for l in f.core("S1").teds[AREA1].links() if l.near.router == f.rid("HE") and l.near.tlv.link_id == f.rid("S1")]
    assert tl[0].near.tlv.delay_us == 1000 and tl[0].near.tlv.delay_var_us == 50
    # probe noise inside the band: no new LSA
    f.tick(2.0)
    f.send("HE", he.set_delays({ifn: {"delay_us": 1020.0, "delay_var_us": 51.0}}, f.now))
    assert he.stats["originations"] == n
    # out of the band: re-originated (min_interval 1 s has passed)
    f.tick(2.0)
    f.send("HE", he.set_delays({ifn: {"delay_us": 3000.0, "delay_var_us": 51.0}}, f.now))
    f.settle()
    assert he.stats["originations"] == n + 1
    tl = [l for l in f.core("S1").teds[AREA1].links() if l.near.router == f.rid("HE") and l.near.tlv.link_id == f.rid("S1")]
    assert tl[0].near.tlv.delay_us == 3000


def test_a_path_no_bound_meets_names_the_bound_and_the_best_figure(fab):
    f = fab
    f.tick(2.0)  # past min_interval of the first LSAs
    for n in ("HE", "S1"):
        c = f.core(n)
        f.send(n, c.set_delays({i: {"delay_us": 4000.0} for i, l in c.links.items() if l.nbr_id}, f.now))
    f.settle()
    he = f.core("HE")
    assert he.path_choice(f.rid("S1"), 3, Constraints(max_delay=10_000.0)).best.delay_us == pytest.approx(4000.0)
    with pytest.raises(msg.AgentRefusal, match="max_delay") as ei:
        he.path_choice(f.rid("S1"), 3, Constraints(max_delay=1000.0))
    (u,) = [u for u in ei.value.unmet if u["bound"] == "max_delay"]
    assert u["limit"] == 1000.0 and u["best"] == pytest.approx(4000.0)
    # the service answer reports the site as out of bounds, not as a winner
    feed(f, "S1", status(450.0))
    ans = control.service(he, request(max_delay_us=1000.0))
    assert f.rid("S1") not in [e["site"] for e in ans["ranked"]]
    assert ans["failed"]["max_delay"]["limit"] == 1000.0 and ans["failed"]["max_delay"]["best"] == pytest.approx(4000.0)


def test_an_energy_only_change_is_no_topology_change(fab):
    f = fab
    feed(f, "S1", status(450.0))
    ted = f.core("HE").teds[AREA1]
    gen = ted.topology_generation
    g = ted.graph()
    f.tick(10.0)
    feed(f, "S1", status(900.0, ts=WALL + 10), WALL + 10)
    assert cs.energy_in(f.core("HE").teds)[f.rid("S1")]["carbon_g_per_kwh"]["value"] == pytest.approx(900.0)
    assert ted.topology_generation == gen and ted.graph() is g


def test_telemetry_readings_become_the_energy_status():
    from pyfrr_pwr.telemetry.energy import Reading

    stats = {}
    from collections import Counter

    stats = Counter()
    st = AgentCore.energy_status(
        [
            Reading("power", 400.0, "W", WALL, "bmc", "measured"),
            Reading("capacity", 2000.0, "W", WALL, "bmc", "nominal"),
            Reading("carbon_intensity", 300.0, "gCO2eq/kWh", WALL, "grid", "estimated"),
            Reading("price", 80.0, "EUR/MWh", WALL, "grid", "measured"),
            Reading("supply_load", 3e6, "W", WALL, "mms", "measured"),  # the TLV carries a ratio
        ],
        stats,
    )
    assert set(st) == {"power_w", "capacity_w", "carbon_g_per_kwh", "price_per_mwh"}
    assert st["price_per_mwh"]["currency"] == "EUR" and st["carbon_g_per_kwh"]["accuracy"] == "estimated"
    assert stats["energy_dropped_wrong_unit"] == 1
    # with the supply's capacity configured, the load is advertised as its share (seed sec. 4.3)
    st = AgentCore.energy_status([Reading("supply_load", 3e6, "W", WALL, "mms", "measured")], stats, supply_capacity_w=4e6)
    assert st["supply_load"]["value"] == pytest.approx(0.75) and stats["energy_dropped_wrong_unit"] == 1


def test_the_exporter_scrapes_a_sites_energy_and_computations(fab):
    from pyfrr_pwr.agent.exporter import Exporter, state_of
    from pyfrr_pwr.files.catscfg import ExporterSettings

    f = fab
    s1 = f.core("S1")
    now = time.time()
    f.send("S1", s1.set_energy(status(450.0, ts=now), f.now, now))

    async def scrape():
        ex = Exporter(ExporterSettings(enabled=True, host="127.0.0.1", port=0), lambda: state_of(s1, None, s1.energy))
        await ex.start()
        try:
            host, port = ex.address
            r, w = await asyncio.open_connection(host, port)
            w.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            await w.drain()
            body = await r.read()
            w.close()
            return body.decode()
        finally:
            await ex.stop()

    text = asyncio.run(scrape())
    assert text.startswith("HTTP/1.1 200")
    assert 'pyfrr_pwr_energy_value{accuracy="measured",name="power_w",source="bmc",unit="W"} 400.0' in text
    assert 'pyfrr_pwr_energy_advertised{name="carbon_g_per_kwh"} 1.0' in text
    assert 'pyfrr_pwr_computations_seconds_count{kind="evaluate"}' in text
    assert 'pyfrr_pwr_computations_seconds_count{kind="energy"}' in text


def test_pyfrr_pwr_agent_is_as_lean_as_the_labs_agent(tmp_path):
    """``pyfrr-pwr agent`` reaches agent.daemon before any other command
    module (rich, the offline tools) is imported."""
    code = (
        "import sys\n"
        "from pyfrr_pwr.cli.main import main\n"
        f"rc = main(['agent', '-c', {str(tmp_path / 'none.yml')!r}, '--socket', {str(tmp_path / 'a.sock')!r}])\n"
        "bad = sorted(m for m in sys.modules if m == 'rich' or m.startswith('pyfrr_pwr.cli.') and m != 'pyfrr_pwr.cli.main' or m.startswith('pyfrr_pwr.offline'))\n"
        "print(rc, bad)\n"
    )
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert out.stdout.strip() == "2 []", (out.stdout, out.stderr)
    assert "none.yml" in out.stderr


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_running_agent_serves_metrics_and_stops_its_cats_tasks(tmp_path, monkeypatch):
    """The daemon shell with a site's power.yml (no ospfd: the API client
    retries): the exporter answers, the energy loop ran on the poller's
    readings (an unreachable Redfish server, counted), and SIGTERM stops
    the poller and the exporter."""
    import os
    import signal

    import yaml

    from pyfrr_pwr.agent.daemon import Agent
    from pyfrr_pwr.files.power import load_power

    src = yaml.safe_load((ROOT / "containerlab/cats-3site/S1/power.yml").read_text())
    xp = _free_port()
    src["agent"] = {
        **src.get("agent", {}),
        "exporter": {"enabled": True, "address": f"127.0.0.1:{xp}"},
        "signal_port": _free_port(),
        "srv6": {"enabled": False},
    }
    src["energy"]["readers"][0]["url"] = f"http://127.0.0.1:{_free_port()}"  # nobody listens
    src["energy"]["power_system"] = []
    (tmp_path / "power.yml").write_text(yaml.safe_dump(src))
    cfg = load_power(tmp_path / "power.yml")

    async def go():
        ag = Agent(cfg, str(tmp_path / "run/agent.sock"), "127.0.0.1", _free_port(), name="h10")
        run = asyncio.create_task(ag.run())
        body = ""
        for _ in range(200):  # until the exporter and one energy round are up
            await asyncio.sleep(0.05)
            if ag.exporter.address is None or not ag.poller.status()["polls"]:
                continue
            r, w = await asyncio.open_connection("127.0.0.1", xp)
            w.write(b"GET /metrics HTTP/1.1\r\n\r\n")
            await w.drain()
            body = (await r.read()).decode()
            w.close()
            if 'kind="energy"' in body:
                break
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(run, 20)
        return ag, body

    ag, body = asyncio.run(go())
    assert body.startswith("HTTP/1.1 200")
    assert 'pyfrr_pwr_computations_seconds_count{kind="energy"}' in body
    assert ag.poller.status()["drops"]["bmc"]["unreachable"] >= 1
    assert ag.exporter.server is None
    assert not [k for k in ag.core.stats if k.endswith("_crashes")]
