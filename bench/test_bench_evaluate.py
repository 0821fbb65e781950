"""The evaluation's speed target (issue 8): the whole automatic sweep of
germany50 (SNDlib: 50 routers, 88 links, its 662 demands) at 10 load
points, every strategy (OSPF hop and inverse-capacity, the draft intra- and
inter-area, power-down, the optimum with every element up and with
sleeping), the optimum time-limited to 2 s per programme, the load points
two at a time on this 2-core machine. Target: under 60 s.

The same run from the command line:

    pyfrr-pwr evaluate --topohub germany50 --points 10 --time-limit 2 --jobs 2

Recorded (``extra_info``): the sweep's wall time; its processor time, the
parent's and the worker processes' (``getrusage``), which is what two idle
cores would have to do and is less sensitive to other jobs on a shared
machine than the wall time; the processor time each strategy took summed
over the points; the load average before and after.

Then each strategy alone at one load point (scale 0.95, the middle of the
sweep), and the fast paths against their references in the same run (the
intra-area draft re-weighting its compiled graph in place against
recompiling it per placement; the inter-area draft patching its TE
databases against plain ones; power-down with one live graph against a
compile per trial): peers interleaved, compare the medians.
"""

import os
import resource
import time

import pytest

from pyfrr_pwr.evaluate import demands as dem
from pyfrr_pwr.evaluate import draft, instance, optimum, ospf, powerdown, sources
from pyfrr_pwr.evaluate.sweep import STRATEGIES, Options, sweep

TARGET_S = 60.0
SCALE = 0.95  # the middle of germany50's sweep


@pytest.fixture(scope="module")
def g50():
    net, matrix = sources.load_topohub("sndlib/germany50")
    inst = instance.prepare(net, matrix)
    assert (len(inst.net.nodes), len(inst.net.links), len(inst.base)) == (50, 88, 662)
    return inst


def _cpu() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def test_germany50_sweep_10_points(benchmark, g50):
    opts = Options(STRATEGIES, time_limit=2.0)
    jobs = min(2, os.cpu_count() or 1)
    benchmark.group = "evaluate germany50: 10 load points, 7 strategies, optimum <= 2 s per programme"
    load0 = os.getloadavg()
    cpu0 = _cpu()
    sw = benchmark.pedantic(lambda: sweep(g50, opts, None, 10, jobs=jobs), rounds=1, iterations=1)
    cpu = _cpu() - cpu0
    assert len(sw.points) == 10
    per = {s: sum(p.rows[s].cpu_seconds or 0.0 for p in sw.points) for s in STRATEGIES}
    benchmark.extra_info.update(
        impl="pyfrr_pwr",
        jobs=jobs,
        wall_s=sw.seconds,
        target_s=TARGET_S,
        cpu_s=cpu,
        cpu_strategies_s=sum(per.values()),
        **{f"cpu_{s}_s": v for s, v in per.items()},
        loadavg_before=load0,
        loadavg_after=os.getloadavg(),
        first_refusal_scale=sw.first_refusal[0] if sw.first_refusal else None,
    )


def _start(g50, ds):
    return powerdown.run(g50.net, ds)


RUNS = {
    "ospf-hop": lambda g, ds, st: ospf.run(g.net, ds, "hop"),
    "ospf-invcap": lambda g, ds, st: ospf.run(g.net, ds, "invcap"),
    "draft": lambda g, ds, st: draft.run_intra(g.net, g.power, ds),
    "draft-inter": lambda g, ds, st: draft.run_inter(g.net, g.power, ds),
    "powerdown": lambda g, ds, st: powerdown.run(g.net, ds),
    "optimum": lambda g, ds, st: optimum.run(g.net, g.power, ds, False, 2.0),
    "optimum-sleep": lambda g, ds, st: optimum.run(g.net, g.power, ds, True, 2.0, start=st),
}


def _timed(benchmark, fn, rounds=3):
    cpus = []

    def once():
        c = time.process_time()
        out = fn()
        cpus.append(time.process_time() - c)
        return out

    out = benchmark.pedantic(once, rounds=rounds, iterations=1)
    benchmark.extra_info.update(cpu_s_median=sorted(cpus)[len(cpus) // 2], cpu_s_all=cpus, loadavg=os.getloadavg())
    return out


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_germany50_one_point_per_strategy(benchmark, g50, strategy):
    ds = dem.scaled(g50.base, SCALE)
    st = _start(g50, ds) if strategy == "optimum-sleep" else None
    benchmark.group = f"evaluate germany50 at scale {SCALE}: one strategy (optimum <= 2 s)"
    pl = _timed(benchmark, lambda: RUNS[strategy](g50, ds, st))
    benchmark.extra_info.update(strategy=strategy, placed=int(pl.placed.sum()))


@pytest.mark.parametrize("impl", ["in-place", "recompile"])
def test_germany50_draft_intra_in_place_vs_recompile(benchmark, g50, impl):
    ds = dem.scaled(g50.base, SCALE)
    benchmark.group = f"evaluate germany50 draft (intra-area) at scale {SCALE}: compiled graph updated in place vs recompiled"
    _timed(benchmark, lambda: draft.run_intra(g50.net, g50.power, ds, inplace=impl == "in-place"))
    benchmark.extra_info["impl"] = impl


@pytest.mark.parametrize("impl", ["patched", "plain"])
def test_germany50_draft_inter_patched_vs_plain_teds(benchmark, g50, impl):
    ds = dem.scaled(g50.base, SCALE)
    benchmark.group = f"evaluate germany50 draft-inter at scale {SCALE}: patched TE databases vs plain ones"
    fast = impl == "patched"
    _timed(benchmark, lambda: draft.run_inter(g50.net, g50.power, ds, inplace=fast, patch=fast))
    benchmark.extra_info["impl"] = impl


@pytest.mark.parametrize("impl", ["live", "per-trial"])
def test_germany50_powerdown_live_vs_per_trial(benchmark, g50, impl):
    ds = dem.scaled(g50.base, SCALE)
    benchmark.group = f"evaluate germany50 powerdown at scale {SCALE}: one live graph vs a compile per trial"
    _timed(benchmark, lambda: powerdown.run(g50.net, ds, inplace=impl == "live"))
    benchmark.extra_info["impl"] = impl
