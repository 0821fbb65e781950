"""SIGHUP reloads power.yml (issue 10): ``agent.reload`` (pure: which
fields changed, which apply without a restart, what the agent runs with)
and the real agent process: it applies what it can, keeps the rest and the
running configuration on a broken file, logs why, and never dies nor
leaves a stale socket. No ospfd needed (the agent retries its API
session meanwhile)."""

import signal
import socket
import subprocess
import sys
import time

import pytest
from helpers import wait_for

from pyfrr_pwr.agent import reload
from pyfrr_pwr.agent.core import AgentCore
from pyfrr_pwr.files.power import load_power
from pyfrr_pwr.lab.agents import agent_request

BASE = """\
router: R1
ports:
  eth1: {{speed: 10G, power_w: {w}, available: 5G}}
  eth2: {{speed: 10G, power_w: 5.0}}
ksp: {{k: {k}}}
agent:
  interval: {interval}
  opaque_type: {ot}
  api: 127.0.0.1:{api}
  signal_port: {sig}
  srv6: {{enabled: false}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write(p, w=2.0, k=8, interval=0.1, ot=200, api=1, sig=2700, extra=""):
    p.write_text(BASE.format(w=w, k=k, interval=interval, ot=ot, api=api, sig=sig) + extra)
    return p


def test_the_diff_says_what_applies_now_and_what_needs_a_restart(tmp_path):
    p = tmp_path / "power.yml"
    old = load_power(write(p))
    assert reload.diff(old, load_power(write(p))).empty
    new = load_power(write(p, w=3.0, k=4, interval=0.2, ot=201))
    d = reload.diff(old, new)
    assert set(d.applied) == {"ports.eth1", "k", "agent.interval"}
    assert d.restart == ("agent.opaque_type",)


def test_merge_keeps_what_needs_a_restart_and_takes_the_rest(tmp_path):
    p = tmp_path / "power.yml"
    old = load_power(write(p))
    new = load_power(write(p, w=3.0, interval=0.2, ot=201, sig=2701))
    eff = reload.merge(old, new)
    assert eff.ports["eth1"].power_w == 3.0 and eff.agent["interval"] == 0.2
    assert eff.agent["opaque_type"] == 200 and eff.agent["signal_port"] == 2700


def test_added_or_removed_ports_need_a_restart_and_the_ports_stay(tmp_path):
    p = tmp_path / "power.yml"
    old = load_power(write(p))
    write(p, w=3.0)
    p.write_text(p.read_text().replace("  eth2: {speed: 10G, power_w: 5.0}\n", ""))
    new = load_power(p)
    d = reload.diff(old, new)
    assert any(r.startswith("ports (added or removed: eth2") for r in d.restart)
    eff = reload.merge(old, new)
    assert set(eff.ports) == {"eth1", "eth2"} and eff.ports["eth1"].power_w == 2.0


def test_a_core_reconfigured_advertises_the_new_figure(tmp_path):
    """A reloaded port power reaches the next evaluation (no restart)."""
    from pyfrr_pwr.proto import ospfapi as api

    p = tmp_path / "power.yml"
    core = AgentCore(load_power(write(p)), min_interval=0.0)
    core.ifaddrs = {"eth1": "10.0.1.0"}
    first = []
    for m in (
        api.RouterIdChange("1.1.1.1"),
        api.IsmChange("10.0.1.0", "0.0.0.1", 4),
        api.NsmChange("10.0.1.0", "10.0.1.1", "2.2.2.2", 9),
        api.ReadyNotify(10, 200, "0.0.0.1"),
    ):
        first += [r for r in core.handle(m, 0.0) if type(r).__name__ == "OriginateRequest"]
    core.reconfigure(reload.merge(core.cfg, load_power(write(p, w=20.0))))
    again = [r for r in core.evaluate(5.0) if type(r).__name__ == "OriginateRequest"]
    assert first and again  # ten times the power on eth1: out of its band, re-originated
    assert core.cfg.ports["eth1"].power_w == 20.0


@pytest.fixture
def agent_proc(tmp_path):
    d = tmp_path / "run"
    d.mkdir(mode=0o700)
    cfg = write(tmp_path / "power.yml", api=free_port(), sig=free_port())
    sock = d / "agent.sock"
    logf = open(tmp_path / "agent.log", "wb")
    p = subprocess.Popen(
        [sys.executable, "-P", "-m", "pyfrr_pwr.cli", "agent", "-c", str(cfg), "--socket", str(sock), "--name", "t"],
        stdout=logf,
        stderr=subprocess.STDOUT,
        cwd=d,
    )
    try:
        wait_for(lambda: sock.exists() and agent_request(sock, {"cmd": "status"}), 120, "the agent's control socket")  # a loaded machine starts slowly
        yield p, cfg, sock, tmp_path / "agent.log"
    finally:
        if p.poll() is None:
            p.terminate()
            p.wait(10)
        logf.close()


def test_sighup_applies_a_new_power_figure_and_keeps_restart_only_fields(agent_proc):
    p, cfg, sock, logp = agent_proc
    api = load_power(cfg).agent["api"]
    sig = load_power(cfg).agent["signal_port"]
    write(cfg, w=4.0, interval=0.2, ot=201, api=api.rpartition(":")[2], sig=sig)
    p.send_signal(signal.SIGHUP)
    log = wait_for(lambda: "reloaded" in (t := logp.read_text()) and t, 10, "the reload's log line")
    assert "applied ports.eth1, agent.interval" in log
    assert "agent.opaque_type changed and needs a restart" in log
    st = agent_request(sock, {"cmd": "status"})
    assert p.poll() is None and st["stats"]["reloads"] == 1


def test_sighup_with_a_broken_file_keeps_the_running_config_and_says_why(agent_proc):
    p, cfg, sock, logp = agent_proc
    good = cfg.read_text()
    cfg.write_text(good.replace("power_w: 2.0", "power_w: -3"))
    p.send_signal(signal.SIGHUP)
    log = wait_for(lambda: "reload of" in (t := logp.read_text()) and t, 10, "the failed reload's log line")
    line = next(x for x in log.splitlines() if "reload of" in x)
    assert "failed, the running configuration stays" in line and str(cfg) in line and "power_w" in line
    st = agent_request(sock, {"cmd": "status"})
    assert p.poll() is None and st["stats"]["reload_errors"] == 1 and st["stats"].get("reloads", 0) == 0
    # and a SIGHUP storm does not kill it either
    for _ in range(20):
        p.send_signal(signal.SIGHUP)
        time.sleep(0.01)
    wait_for(lambda: agent_request(sock, {"cmd": "status"})["stats"]["reload_errors"] > 1, 10, "more failed reloads")
    assert p.poll() is None
    p.terminate()
    assert p.wait(10) == 0
    assert not sock.exists()  # no stale socket
