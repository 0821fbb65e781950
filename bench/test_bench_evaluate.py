"""The evaluation's speed target: the whole automatic sweep of germany50
(SNDlib: 50 routers, 88 links, its 662 demands) at 10 load points, every
strategy (OSPF hop and inverse-capacity, the draft intra- and inter-area,
power-down, the optimum with every element up and with sleeping), the
optimum time-limited to 2 s per programme, the load points two at a time
on this 2-core machine. Target: under 60 s.

The same run from the command line:

    pyfrr-pwr evaluate --topohub germany50 --points 10 --time-limit 2 --jobs 2

Recorded per run: the wall time of the sweep, the processor time summed
over strategies and points (what a quiet machine would need on one core),
and the share of it each strategy takes. Measured results and their
spread on these shared machines are in docs/evaluation.md ("Speed").
"""

import os

from pyfrr_pwr.evaluate import instance, sources
from pyfrr_pwr.evaluate.sweep import STRATEGIES, Options, sweep

TARGET_S = 60.0


def test_germany50_sweep_10_points(benchmark):
    net, matrix = sources.load_topohub("sndlib/germany50")
    inst = instance.prepare(net, matrix)
    assert (len(inst.net.nodes), len(inst.net.links), len(inst.base)) == (50, 88, 662)
    opts = Options(STRATEGIES, time_limit=2.0)
    jobs = min(2, os.cpu_count() or 1)
    benchmark.group = "evaluate germany50: 10 load points, 7 strategies, optimum <= 2 s per programme"
    sw = benchmark.pedantic(lambda: sweep(inst, opts, None, 10, jobs=jobs), rounds=1, iterations=1)
    assert len(sw.points) == 10
    cpu = {s: sum(p.rows[s].cpu_seconds or 0.0 for p in sw.points) for s in STRATEGIES}
    benchmark.extra_info.update(
        impl="pyfrr_pwr",
        jobs=jobs,
        wall_s=sw.seconds,
        target_s=TARGET_S,
        cpu_s=sum(cpu.values()),
        **{f"cpu_{s}_s": v for s, v in cpu.items()},
        first_refusal_scale=sw.first_refusal[0] if sw.first_refusal else None,
    )
