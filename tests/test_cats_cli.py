"""``pyfrr-pwr service``: the CLI against a control socket served the way
the daemon answers it (cats.service.request + answer over a real TED)."""

import argparse
import json
import socket
import threading

import pytest

from pyfrr_pwr.cats import service as cs
from pyfrr_pwr.cli import service as cli
from pyfrr_pwr.model.ted import TED
from pyfrr_pwr.proto import control as pc
from pyfrr_pwr.proto import wire

HEAD, A, B = "10.0.0.1", "10.0.1.1", "10.0.2.1"
GBPS = 1.25e8


def _ted():
    ted = TED("0.0.0.0")
    for site, ci, n in ((A, 400.0, 1), (B, 80.0, 2)):
        ne = wire.NodeEnergy(
            site,
            power_w=wire.Reading(1000.0, 1, 0, "measured", 1),
            carbon_g_per_kwh=wire.Reading(ci, 1, 0, "estimated", 2),
            sources=((1, "redfish"), (2, "grid")),
        )
        si = wire.ServiceInstance(site, "infer", f"10.9.{n}.1", 10 * GBPS, (), 5)
        ted.apply(site, wire.make_lsid(200, n), wire.encode([ne, si]))
    return {"0.0.0.0": ted}


PATHS = {A: [cs.PathFigures(A, 1e-9, 2000, 100, 10 * GBPS, 2)], B: [cs.PathFigures(B, 2e-9, 7000, 300, 10 * GBPS, 4, ("10.0.0.9",))]}


def _serve(path, teds, seen):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(path))
    srv.listen(4)

    def run():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            with c:
                line = c.makefile("rb").readline()
                d = json.loads(line)
                seen.append(dict(d))
                assert d.pop("cmd") == "service"
                try:
                    d.pop("k", None)
                    req = cs.request(**d)
                    rep = pc.Reply(True, cs.answer(req, teds, lambda s: PATHS.get(s, []), router_id=HEAD))
                except ValueError as exc:
                    rep = pc.Reply(False, error=str(exc))
                c.sendall(pc.encode(rep))

    threading.Thread(target=run, daemon=True).start()
    return srv


@pytest.fixture
def agent(tmp_path):
    seen = []
    path = tmp_path / "agent.sock"
    srv = _serve(path, _ted(), seen)
    yield str(path), seen
    srv.close()


def run(capsys, *argv):
    p = argparse.ArgumentParser(prog="pyfrr-pwr")
    cli.register(p.add_subparsers(dest="cmd", required=True))
    args = p.parse_args(list(argv))
    rc = args.func(args)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_json_answer_ranks_the_low_carbon_site_first(agent, capsys):
    sock, seen = agent
    rc, out, _ = run(capsys, "service", "infer", "--demand", "1G", "--socket", sock, "--json")
    res = json.loads(out)
    assert rc == 0 and [e["site"] for e in res["ranked"]] == [B, A]
    assert seen[-1] == {"cmd": "service", "service": "infer", "demand": GBPS}
    assert res["ranked"][0]["terms"]["carbon"]["value"] == pytest.approx(0.1 * 80)


def test_table_shows_each_term_and_the_bound_that_failed(agent, capsys):
    sock, seen = agent
    rc, out, _ = run(capsys, "service", "infer", "--socket", sock, "--critical", "--weights", "carbon=2,price=0")
    assert rc == 0 and "chosen: 10.9.1.1 at 10.0.1.1" in out  # B's 7 ms breaks the 5 ms bound
    assert "carbon" in out and "x 2 =" in out and "max_delay" in out
    assert seen[-1]["critical"] is True and seen[-1]["weights"] == "carbon=2,price=0"
    rc, out, _ = run(capsys, "service", "infer", "--socket", sock, "--max-delay", "1ms")
    assert rc == cli.EX_NONE and "max_delay: best 2 ms" in out and "exceeds 1 ms" in out


def test_unknown_service_and_bad_arguments(agent, capsys):
    sock, _ = agent
    rc, out, _ = run(capsys, "service", "nothing", "--socket", sock)
    assert rc == cli.EX_NONE and "no instance of service 'nothing' is advertised" in out
    for bad in (["--weights", "speed=1"], ["--max-delay", "soon"], ["--demand", "-1G"]):
        with pytest.raises(SystemExit) as ei:
            run(capsys, "service", "infer", "--socket", sock, *bad)
        assert ei.value.code == 2


def test_no_agent_is_a_connection_error(tmp_path, capsys):
    with pytest.raises(ConnectionError, match="no agent answers"):
        run(capsys, "service", "infer", "--socket", str(tmp_path / "none.sock"))


def test_request_defaults_from_the_site_settings():
    from pyfrr_pwr.files.catscfg import CatsSettings

    s = CatsSettings(max_delay_us=8000, max_jitter_us=500, demand=1e6, weights={"carbon": 3})
    r = cs.request("infer", settings=s)
    assert (r.max_delay_us, r.max_jitter_us, r.demand, r.weights["carbon"]) == (8000, 500, 1e6, 3)
    assert cs.request("infer", settings=s, critical=True).max_delay_us == 5000
    assert cs.request("infer", weights="carbon=1", settings=s).weights["carbon"] == 1
    with pytest.raises(ValueError, match="service"):
        cs.request("")
