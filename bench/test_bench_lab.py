"""Real FRR in namespaces (needs root and FRR): lab bring-up to converged
OSPF and answering head-ends (``lab up --wait``) per topology, a power change at G to the new value in X's TED, and the
agent's CPU and memory at rest and while re-originating.

No peer exists for these numbers; they are recorded as measured (median of
rounds) in bench/results.json and bench/README.md.
"""

import statistics
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers import (
    fig217,  # noqa: E402
    wait_for,  # noqa: E402
)
from helpers.fig217 import RID  # noqa: E402

from pyfrr_pwr.cli.agentctl import agent_request  # noqa: E402
from pyfrr_pwr.lab.runner import Lab  # noqa: E402

ROOT = fig217.ROOT


@pytest.mark.parametrize("topo", ["fig-2-1-7", "fig-2-1-1", "fig-2-0"])
def test_lab_bring_up_to_converged(benchmark, topo):
    lab = Lab(ROOT / f"containerlab/{topo}.clab.yml", name=f"pwbench-{topo.replace('fig-', '')}")
    lab.down(quiet=True)
    benchmark.group = "lab up --wait (namespaces, FRR, agents) to converged OSPF and every head-end answering its paths"
    benchmark.extra_info.update(impl=topo, routers=len(lab.nodes), links=len(lab.topo.links))
    try:

        def reset():  # setup must return None for pytest-benchmark
            lab.down(quiet=True)

        # as `lab up --wait` does (issue 10): until the head-ends answer their inter-area path queries
        benchmark.pedantic(lambda: lab.up(wait=True, timeout=120, paths=True), setup=reset, rounds=3, iterations=1)
    finally:
        lab.down(quiet=True)


@pytest.fixture(scope="module")
def sensor_lab(tmp_path_factory):
    clab, hw = fig217.prepare(tmp_path_factory.mktemp("bench217"))
    lab = Lab(clab, name="pwbench-power")
    lab.down(quiet=True)
    lab.up(wait=True, timeout=60)
    lab.hwmon = hw
    try:
        wait_for(lambda: len(agent(lab, "X", cmd="ted", area="0.0.0.1")["0.0.0.1"]["links"]) == 16, 30, "X's TED")
        yield lab
    finally:
        lab.down(quiet=True)


def agent(lab, node, **req):
    return agent_request(str(lab.nodes[node].agent_socket), req)


def gh_changed_at(lab):
    for key, t in agent(lab, "X", cmd="ted_times"):
        if key[0] == RID["G"] and key[1] == RID["H"]:
            return t
    return None


def test_power_change_to_remote_ted(benchmark, sensor_lab):
    """Write a new sensor value at G; time until X's agent installs it in its
    TED (X's own monotonic timestamp, same clock as ours). Includes G's
    sensor poll (50 ms interval here, so about 25 ms on average)."""
    lab = sensor_lab
    vals = iter(["20000000\n", "2000000\n"] * 50)
    lat = []

    def change():
        t0 = time.monotonic()
        before = gh_changed_at(lab)
        lab.hwmon.write_text(next(vals))
        t = wait_for(lambda: (c := gh_changed_at(lab)) != before and c, 5, "X to see G's change", step=0.002)
        lat.append(t - t0)

    benchmark.group = "power change at G -> X's TED (fig-2-1-7, real FRR)"
    benchmark.extra_info.update(impl="pyfrr_pwr")
    benchmark.pedantic(change, setup=lambda: time.sleep(0.6), rounds=15, iterations=1)
    benchmark.extra_info.update(
        ted_latency_median_ms=statistics.median(lat) * 1e3,
        ted_latency_max_ms=max(lat) * 1e3,
        ted_latency_min_ms=min(lat) * 1e3,
    )


def _cpu_rss(pid):
    st = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(st[11]) + int(st[12])
    rss_kb = next(int(l.split()[1]) for l in Path(f"/proc/{pid}/status").read_text().splitlines() if l.startswith("VmRSS"))
    return ticks, rss_kb


def test_agent_cpu_and_rss(benchmark, sensor_lab):
    import os

    lab = sensor_lab
    st = lab._load_state()
    pid = next(p["pid"] for p in st["procs"] if p["node"] == "G" and p["what"] == "agent")
    # the agent is `ip netns exec ... python`, which execs python: same pid
    hz = os.sysconf("SC_CLK_TCK")
    c0, _ = _cpu_rss(pid)
    time.sleep(5)
    c1, rss_rest = _cpu_rss(pid)
    rest = (c1 - c0) / hz / 5
    end = time.monotonic() + 5
    flip = 0
    while time.monotonic() < end:
        lab.hwmon.write_text("20000000\n" if flip % 2 == 0 else "2000000\n")
        flip += 1
        time.sleep(0.5)
    c2, rss_busy = _cpu_rss(pid)
    busy = (c2 - c1) / hz / 5
    benchmark.group = "agent control socket round trip (status)"
    benchmark.extra_info.update(
        impl="pyfrr_pwr",
        cpu_at_rest_percent=rest * 100,
        cpu_reoriginating_percent=busy * 100,
        rss_at_rest_mib=rss_rest / 1024,
        rss_reoriginating_mib=rss_busy / 1024,
        reoriginations=flip,
    )
    benchmark(lambda: agent(lab, "G", cmd="status"))
