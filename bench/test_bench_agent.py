"""The agent on real FRR (issue 10; needs root and FRR): fig-2-0 in
namespaces, 23 routers, fake hwmon sensors on R4's ports (``prepare``).

Rows measured (medians over >= 10 rounds; the control socket polled every
few ms from this process, timestamps on this process's monotonic clock):

* a power change at R4 (area 2, its port towards ABR2 ten times dearer,
  then back) until TEh1's chosen path to TEt2 changes ABR chain, with every
  distinct choice seen on the way (``intermediate``: chains that are
  neither the old nor the new one);
* the same change until TEh1's TEDs last changed before its choice did
  (it holds the new vectors);
* R4's port towards ABR2 down until the choice changes; up again until
  the old choice is back;
* every agent's CPU and RSS at rest: R4's sensors back to the agent's
  default read interval (SIGHUP, ``agent.reload``), the lab settled (no
  agent's TED, vectors or originations changed for ``SETTLE_QUIET_S``),
  then ``REST_WINDOW_S`` with nothing asked of any agent; CPU is utime +
  stime from /proc/PID/stat (every thread), per agent, median and max;
* ``lab up --wait`` to every head-end answering its path queries, beside
  the time to OSPF Full and synced agents.

The machine is shared: /proc/loadavg is recorded with each figure.
Lab name ``h5b`` (PYFRR_PWR_BENCH_LAB overrides it).

Where the time goes: the agents run with ``PYFRR_PWR_TRACE=1``
(``pyfrr_pwr.agent.trace``; PYFRR_PWR_BENCH_TRACE=0 turns it off) and
each round's steps (``pyfrr_pwr.lab.trace.stages``: R4's read and
origination, each ABR's vector rounds, TEh1's last LSA, view and choice
round) go to extra_info as medians (``stages_median_ms``) and are printed
per round with ``-s``.
"""

import os
import shutil
import statistics
import time
from pathlib import Path

import pytest
import yaml

from pyfrr_pwr.lab import trace
from pyfrr_pwr.lab.agents import agent_request
from pyfrr_pwr.lab.runner import Lab

pytestmark = pytest.mark.frr

LAB = os.environ.get("PYFRR_PWR_BENCH_LAB", "h5b")
TRACE = os.environ.get("PYFRR_PWR_BENCH_TRACE", "1") != "0"
PORT = "eth5"  # R4's port towards ABR2 (R4-ABR2)
POLL = 0.003  # s between polls of the control socket
REST_WINDOW_S = 60.0  # the at-rest CPU window (1 tick of 10 ms is 0.017 % of it)
SETTLE_QUIET_S = 5.0  # at rest: no agent changed anything for this long first
REST_INTERVAL_S, REST_MIN_INTERVAL_S = 0.1, 1.0  # the agent's defaults (daemon.Agent, AgentCore) R4 goes back to


ROOT = Path(__file__).resolve().parents[1]
R4_UNIT_W = 222 / 8  # R4's LC1: 222 W over eight 10G ports (tools/gen_topologies.py)


def prepare(dst: Path, interval: float = 0.02, min_interval: float = 0.5) -> tuple[Path, dict]:
    """Copy fig-2-0 to dst; R4's ports read their power from files
    (microwatts, hwmon power*_input). Returns (clab file, {port: file})."""
    shutil.copytree(ROOT / "containerlab/fig-2-0", dst / "fig-2-0")
    shutil.copy(ROOT / "containerlab/fig-2-0.clab.yml", dst / "fig-2-0.clab.yml")
    hw = dst / "hwmon"
    hw.mkdir()
    pf = dst / "fig-2-0/R4/power.yml"
    cfg = yaml.safe_load(pf.read_text())
    files = {}
    for port, p in cfg["ports"].items():
        f = hw / f"{port}_power1_input"
        f.write_text(f"{int(R4_UNIT_W * 1e6)}\n")
        p.update(power_w=R4_UNIT_W, power_reader={"type": "hwmon", "path": str(f)})
        files[port] = f
    cfg.setdefault("agent", {}).update(interval=interval, min_interval=min_interval)  # keeps the lab's signalling key
    pf.write_text(yaml.safe_dump(cfg))
    return dst / "fig-2-0.clab.yml", files


def load() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    d = tmp_path_factory.mktemp("h5fig20")
    clab, files = prepare(d)
    if TRACE:
        os.environ["PYFRR_PWR_TRACE"] = "1"  # the agents the lab starts inherit it
    lab = Lab(clab, name=LAB)
    lab.down(quiet=True)
    try:  # a lab that does not come up is taken down too
        t0 = time.monotonic()
        lab.up(wait=True, timeout=240)
        t1 = time.monotonic()
        lab.started_at = t1
        paths = lab.wait_paths(120)
        lab.up_times = {"ospf_full_and_agents_s": t1 - t0, "paths_after_s": paths, "total_s": t1 - t0 + paths, "load": load()}
        lab.files = files
        os.environ.pop("PYFRR_PWR_TRACE", None)
        yield lab
    finally:
        os.environ.pop("PYFRR_PWR_TRACE", None)
        lab.down(quiet=True)


def rid(lab, name):
    return lab.topo.resolve(name).router_id


def chain(lab, head="TEh1", tail="TEt2"):
    r = agent_request(lab.nodes[head].agent_socket, {"cmd": "path", "to": rid(lab, tail)})
    return tuple(r["best"]["abr_chain"]) + tuple(r["best"]["head_path"])


def ted_changes(lab, node="TEh1"):
    return agent_request(lab.nodes[node].agent_socket, {"cmd": "status"})["stats"].get("ted_changes", 0)


def watch(lab, before, until, timeout=10.0, t0=None, views=True):
    """Poll TEh1 until ``until(choice)``; (seconds, distinct choices seen,
    seconds to the last change of TEh1's view before the end), from ``t0``
    (monotonic; default: now). ``views=False`` asks only for the path (the
    view time is None then): a status request per poll doubles what the
    probe costs TEh1's event loop while it converges."""
    t0 = time.monotonic() if t0 is None else t0
    seen = [before]
    last_view, last_view_t = (ted_changes(lab) if views else None), None
    while True:
        c = chain(lab)
        now = time.monotonic() - t0
        if c != seen[-1]:
            seen.append(c)
        v = ted_changes(lab) if views else None
        if v != last_view:
            last_view, last_view_t = v, now
        if until(c):
            return now, seen, last_view_t
        if now > timeout:
            raise TimeoutError(f"TEh1's choice did not settle in {timeout} s: {seen}")
        time.sleep(POLL)


def breakdown(lab, marks, origin="R4", head="TEh1"):
    """Each round's steps (``lab.trace.stages``) from the agents' trace
    lines; marks: [(t_change, t_seen)]. [] when the agents do not trace."""
    if not TRACE:
        return []
    evs = trace.events({n: lab.nodes[n].agent_log for n in lab.nodes if lab.nodes[n].runs_agent})
    dump = os.environ.get("PYFRR_PWR_BENCH_TRACE_DUMP")  # a file: every round's trace lines, ms after the change
    if dump:
        with open(dump, "a") as f:
            for t0, t1 in marks:
                f.write(f"--- round: seen at {(t1 - t0) * 1e3:.1f} ms\n")
                for t, node, ev, fields in trace.window(evs, t0 - 0.01, t1 + 0.05):
                    f.write(f"{(t - t0) * 1e3:8.1f} {node:5} {ev} {' '.join(fields)}\n")
    return [trace.stages(evs, t0, origin, rid(lab, origin), head, t1) for t0, t1 in marks]


def write_w(lab, w):
    f = lab.files[PORT]
    tmp = f.with_suffix(".tmp")
    tmp.write_text(f"{int(w * 1e6)}\n")
    os.replace(tmp, f)  # a sensor's value appears whole


def test_power_change_at_r4_until_teh1s_choice_changes(benchmark, lab):
    base = chain(lab)
    write_w(lab, R4_UNIT_W * 10)
    time.sleep(3)
    dear = chain(lab)
    write_w(lab, R4_UNIT_W)
    time.sleep(3)
    assert chain(lab) == base and dear != base, "R4's port power does not move TEh1's choice"
    lat, vec, inter, marks = [], [], [], []
    state = {"dear": False}

    def change():
        state["dear"] = not state["dear"]
        before = chain(lab)
        want = dear if state["dear"] else base
        t0 = time.monotonic()
        write_w(lab, R4_UNIT_W * (10 if state["dear"] else 1))
        t, seen, tv = watch(lab, before, lambda c: c == want, t0=t0)
        marks.append((t0, t0 + t))
        lat.append(t)
        vec.append(tv if tv is not None else t)
        inter.append(len([c for c in seen if c not in (base, dear)]))

    benchmark.group = "issue 10: power change at R4 -> TEh1's chosen inter-area path (fig-2-0, real FRR)"
    benchmark.extra_info.update(impl="pyfrr_pwr", load_before=load())
    benchmark.pedantic(change, setup=lambda: time.sleep(1.0), rounds=12, iterations=1)
    steps = breakdown(lab, marks)
    benchmark.extra_info.update(
        stages_median_ms=trace.summary(steps),
        choice_median_ms=statistics.median(lat) * 1e3,
        choice_min_ms=min(lat) * 1e3,
        choice_max_ms=max(lat) * 1e3,
        view_median_ms=statistics.median(vec) * 1e3,
        intermediate_choices_total=sum(inter),
        rounds_with_intermediate=sum(1 for i in inter if i),
        load_after=load(),
    )
    print("\npower change -> choice ms", [round(x * 1e3) for x in lat], "view ms", [round(x * 1e3) for x in vec], "intermediate", inter, load())
    for st in steps:
        print("  steps ms", st)
    print("  median steps ms", trace.summary(steps))


def test_link_down_and_up_on_the_chosen_path(benchmark, lab):
    """The link is set down and up over a netlink socket opened in R4's
    namespace beforehand (``ip netns exec ip link`` alone costs 50-150 ms
    of process start-up on this loaded machine, which is not the agent's)."""
    from pyroute2 import IPRoute

    ipr = IPRoute(netns=lab.nodes["R4"].ns)
    idx = ipr.link_lookup(ifname=PORT)[0]
    base = chain(lab)
    down, up, inter, mdown, mup = [], [], [], [], []

    def flap():
        before = chain(lab)
        assert before == base
        t0 = time.monotonic()
        ipr.link("set", index=idx, state="down")
        t, seen, _ = watch(lab, before, lambda c: c != base, t0=t0, views=False)
        mdown.append((t0, t0 + t))
        down.append(t)
        t0 = time.monotonic()
        ipr.link("set", index=idx, state="up")
        t2, seen2, _ = watch(lab, seen[-1], lambda c: c == base, timeout=30, t0=t0, views=False)
        mup.append((t0, t0 + t2))
        up.append(t2)
        inter.append(len(seen) - 2 + len(seen2) - 2)

    benchmark.group = "issue 10: link on the chosen path down / up -> TEh1's choice (fig-2-0, real FRR)"
    benchmark.extra_info.update(impl="pyfrr_pwr", load_before=load())
    try:
        benchmark.pedantic(flap, setup=lambda: time.sleep(2.0), rounds=10, iterations=1)
    finally:
        ipr.close()
    sdown, sup = breakdown(lab, mdown), breakdown(lab, mup)
    drops = []
    if TRACE:  # adjacencies lost anywhere but on the link flapped on purpose (fast hellos under load)
        evs = trace.events({n: lab.nodes[n].agent_log for n in lab.nodes if lab.nodes[n].runs_agent})
        ends = {"10.20.29.0", "10.20.29.1"}  # R4-ABR2's /31 (containerlab/fig-2-0/addresses.yml)
        drops = trace.adjacency_drops(evs, lab.started_at, time.monotonic(), ends)
        benchmark.extra_info["adjacency_drops_elsewhere"] = len(drops)
    benchmark.extra_info.update(
        down_stages_median_ms=trace.summary(sdown),
        up_stages_median_ms=trace.summary(sup),
        down_median_ms=statistics.median(down) * 1e3,
        down_max_ms=max(down) * 1e3,
        up_median_ms=statistics.median(up) * 1e3,
        up_max_ms=max(up) * 1e3,
        intermediate_choices_total=sum(inter),
        load_after=load(),
    )
    print("\nlink down ms", [round(x * 1e3) for x in down], "up ms", [round(x * 1e3) for x in up], "intermediate", inter, load())
    for a, b in zip(sdown, sup):
        print("  down steps ms", a, "\n  up steps ms", b)
    print("  median down steps ms", trace.summary(sdown), "\n  median up steps ms", trace.summary(sup))
    print("  adjacencies lost elsewhere since the lab was up:", drops)


def _cpu_rss(pid):
    """(utime + stime in clock ticks, every thread; VmRSS in KiB) of a process."""
    st = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    rss_kb = next(int(l.split()[1]) for l in Path(f"/proc/{pid}/status").read_text().splitlines() if l.startswith("VmRSS"))
    return int(st[11]) + int(st[12]), rss_kb


def _sched(pid) -> tuple[int, int]:
    """(ns on CPU, timeslices run) summed over the process's threads
    (/proc/PID/task/*/schedstat): the CPU figure at ns resolution, and how
    often the agent woke up, which load on a shared machine does not
    inflate the way it inflates CPU time. (0, 0) without schedstats."""
    ns = n = 0
    for t in Path(f"/proc/{pid}/task").iterdir():
        try:
            f = (t / "schedstat").read_text().split()
        except OSError:
            continue
        ns, n = ns + int(f[0]), n + int(f[2])
    return ns, n


def _agent_pids(lab) -> dict:
    return {p["node"]: p["pid"] for p in lab._load_state()["procs"] if p["what"] == "agent"}


def _rest_interval(lab, node="R4", timeout=30.0):
    """``node``'s agent back to the default read interval and min_interval
    (its fake sensors stay, unchanging): power.yml rewritten and reloaded
    with SIGHUP (``agent.reload``: both are applied without a restart);
    returns once the agent logged the reload."""
    import signal

    pf = Path(lab.nodes[node].power)
    cfg = yaml.safe_load(pf.read_text())
    cfg.setdefault("agent", {}).update(interval=REST_INTERVAL_S, min_interval=REST_MIN_INTERVAL_S)
    pf.write_text(yaml.safe_dump(cfg))
    logf = Path(lab.nodes[node].agent_log)
    mark = logf.stat().st_size
    os.kill(_agent_pids(lab)[node], signal.SIGHUP)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with open(logf, "rb") as f:
            f.seek(mark)
            tail = f.read().decode(errors="replace")
        lines = [l for l in tail.splitlines() if "reloaded" in l or "reload of" in l]
        if lines:
            assert all("reloaded" in l and "applied" in l for l in lines), lines
            return
        time.sleep(0.1)
    raise TimeoutError(f"{node}'s agent did not log the reload in {timeout} s")


_ACTIVITY = ("ted_changes", "vector_rounds", "vectors_originated", "originations", "withdrawals")


def _activity(lab) -> dict:
    """Each agent's counters of TED changes, vector rounds and originations."""
    out = {}
    for n in sorted(_agent_pids(lab)):
        st = agent_request(lab.nodes[n].agent_socket, {"cmd": "status"})["stats"]
        out[n] = tuple(st.get(k, 0) for k in _ACTIVITY)
    return out


def _settle(lab, quiet=SETTLE_QUIET_S, timeout=120.0) -> tuple[float, dict]:
    """Wait until no agent's TED, vector rounds or originations changed for
    ``quiet`` s (the flaps' and the reload's aftermath flooded out); the
    seconds it took and the counters then."""
    t0 = time.monotonic()
    last, since = None, time.monotonic()
    while True:
        now = _activity(lab)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return time.monotonic() - t0, now
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"the lab did not go quiet for {quiet} s in {timeout} s")
        time.sleep(0.5)


def test_agents_at_rest_and_lab_up(benchmark, lab):
    """Rest as a deployed lab sits: default sensor interval, the last flap
    long over, nothing asked of the agents during the window."""
    _rest_interval(lab)
    settled, quiet = _settle(lab)
    pids = _agent_pids(lab)
    hz = os.sysconf("SC_CLK_TCK")
    a, sa = {n: _cpu_rss(p) for n, p in pids.items()}, {n: _sched(p) for n, p in pids.items()}
    t0 = time.monotonic()
    time.sleep(REST_WINDOW_S)
    b, sb = {n: _cpu_rss(p) for n, p in pids.items()}, {n: _sched(p) for n, p in pids.items()}
    t = time.monotonic() - t0
    wake = {n: (sb[n][1] - sa[n][1]) / t for n in pids}
    run_pct = {n: (sb[n][0] - sa[n][0]) / 1e9 / t * 100 for n in pids}
    assert _agent_pids(lab) == pids, "an agent restarted during the window"
    busy = sorted(n for n, c in _activity(lab).items() if c != quiet[n])  # not at rest after all (an adjacency lost under load, ...)
    cpu = {n: (b[n][0] - a[n][0]) / hz / t * 100 for n in pids}
    rss = {n: b[n][1] / 1024 for n in pids}
    benchmark.group = "issue 10: agents at rest (fig-2-0, 23 agents) and lab up --wait"
    benchmark.extra_info.update(
        impl="pyfrr_pwr",
        rest_window_s=round(t, 1),
        rest_settle_s=round(settled, 1),
        rest_agents_active_in_window=busy,
        cpu_at_rest_median_percent=statistics.median(cpu.values()),
        cpu_at_rest_max_percent=max(cpu.values()),
        cpu_at_rest_max_node=max(cpu, key=cpu.get),
        cpu_at_rest_all_percent=sum(cpu.values()),
        cpu_at_rest_percent_by_node={n: round(c, 3) for n, c in sorted(cpu.items())},
        rss_mib_by_node={n: round(r, 1) for n, r in sorted(rss.items())},
        schedstat_cpu_at_rest_median_percent=statistics.median(run_pct.values()),
        schedstat_cpu_at_rest_max_percent=max(run_pct.values()),
        wakeups_at_rest_median_per_s=statistics.median(wake.values()),
        wakeups_at_rest_max_per_s=max(wake.values()),
        rss_median_mib=statistics.median(rss.values()),
        rss_max_mib=max(rss.values()),
        load=load(),
        **{f"lab_up_{k}": v for k, v in lab.up_times.items()},
    )
    print(
        f"\nat rest ({t:.0f} s window after {settled:.0f} s to settle): cpu % median {statistics.median(cpu.values()):.3f} max {max(cpu.values()):.3f}"
        f" ({max(cpu, key=cpu.get)}) all {sum(cpu.values()):.2f}; agents whose TED or vectors changed in the window: {busy}",
        {n: round(c, 3) for n, c in sorted(cpu.items())},
        f"\n  schedstat: cpu % median {statistics.median(run_pct.values()):.3f} max {max(run_pct.values()):.3f};"
        f" wakeups/s median {statistics.median(wake.values()):.1f} max {max(wake.values()):.1f}",
        {n: round(w, 1) for n, w in sorted(wake.items())},
        "\nrss MiB",
        {n: round(r, 1) for n, r in sorted(rss.items())},
        lab.up_times,
        load(),
    )
    benchmark(lambda: agent_request(lab.nodes["TEh1"].agent_socket, {"cmd": "path", "to": rid(lab, "TEt2")}))
