"""``pyfrr-pwr evaluate``: how much power the routing saves, on a real
network and its traffic (``pyfrr_pwr.evaluate``; docs/evaluation.md).

  pyfrr-pwr evaluate --topohub sndlib/abilene            # SNDlib network and its demands
  pyfrr-pwr evaluate --clab containerlab/fig-2-0.clab.yml
  pyfrr-pwr evaluate --topohub germany50 --points 10 --time-limit 2 --jobs 2 --plots out/
  pyfrr-pwr evaluate --list                              # the networks topohub holds

Errors (unknown network, bad demands or power figures) name the file and
the field, and exit with status 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pyfrr_pwr.cli.render import console
from pyfrr_pwr.files.power import ConfigError

__all__ = ["register", "cmd_evaluate", "main"]


def _scales(text: str | None) -> list | None:
    if not text or text == "auto":
        return None
    out = []
    for part in text.split(","):
        try:
            v = float(part)
        except ValueError:
            raise ConfigError(f"--scale: {part.strip()!r} is not a number (give e.g. 0.5,1,1.5 or auto)") from None
        if not (v > 0 and v < float("inf")):
            raise ConfigError(f"--scale: {part.strip()!r} must be a finite number > 0")
        out.append(v)
    return out


def _strategies(text: str) -> tuple:
    from pyfrr_pwr.evaluate.placement import STRATEGIES

    names = tuple(s.strip() for s in text.split(",") if s.strip())
    bad = [s for s in names if s not in STRATEGIES]
    if bad or not names:
        raise ConfigError(f"--strategies: unknown {', '.join(bad) or '(none given)'} (choose from {', '.join(STRATEGIES)})")
    return names


def load_instance(args):
    from pyfrr_pwr.evaluate import instance, sources
    from pyfrr_pwr.evaluate.powermodel import DEFAULTS

    if args.idle_fraction is not None and not 0 <= args.idle_fraction <= 1:
        raise ConfigError(f"--idle-fraction: {args.idle_fraction} is not within 0 and 1")
    if args.areas < 0:
        raise ConfigError(f"--areas: {args.areas} must be >= 0")
    defaults = sources.load_defaults(args.power) if args.power else DEFAULTS
    if args.topohub:
        net, matrix = sources.load_topohub(args.topohub)
        files = None
    else:
        net, files = sources.load_clab(args.clab)
        matrix = None
        if args.power:
            raise ConfigError(f"--power: {args.clab} has its routers' power.yml files; --power sets defaults for topohub networks")
    return instance.prepare(net, matrix, files, args.demands, args.areas, defaults, args.profile, args.idle_fraction)


def _need(*modules) -> None:
    """The evaluation's libraries are an extra: say which is missing."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(f"evaluate needs {', '.join(missing)}: pip install 'pyfrr-pwr[evaluate]' (or {' '.join(missing)})")


def cmd_evaluate(args) -> int:
    _need("scipy", *(["matplotlib"] if args.plots else []))
    from pyfrr_pwr.evaluate import report, sources
    from pyfrr_pwr.evaluate.sweep import Options, run_point, sweep

    if args.list:
        for n in sources.topohub_names():
            print(n)
        return 0
    if not args.topohub and not args.clab:
        raise ConfigError("evaluate: give --topohub NAME or --clab FILE (or --list)")
    scales = _scales(args.scale)
    opts = Options(_strategies(args.strategies), args.k, args.refresh, args.time_limit)
    if args.k < 1:
        raise ConfigError(f"-k: {args.k} must be >= 1")
    if args.points < 2 and scales is None:
        raise ConfigError(f"--points: {args.points} must be >= 2")
    inst = load_instance(args)
    if "draft-inter" in opts.strategies and len(inst.net.areas) < 2:
        raise ConfigError(f"{inst.net.source}: draft-inter needs areas; this network has one (use --areas N, or leave draft-inter out)")
    err = sys.stderr

    def progress(p):
        worst = ", ".join(f"{s} refused {r.refused}" for s, r in p.rows.items() if r.refused)
        print(f"scale {p.scale:.3g}: {sum(r.seconds for r in p.rows.values()):.1f} s" + (f" ({worst})" if worst else ""), file=err, flush=True)

    sw = sweep(inst, opts, scales, args.points, max(1, args.jobs), progress)
    files = []
    if args.plots:
        from pyfrr_pwr.evaluate import plots

        out = Path(args.plots)
        files += plots.power_vs_load(sw, out / f"{inst.net.name}-power")
        pt = report.pick_point(sw, args.draw_scale)
        if pt is not None:
            draw = _strategies(args.draw)[0]
            kept = run_point(inst, pt.scale, Options((draw,), opts.k, opts.refresh, opts.time_limit), keep=True)
            files += plots.topology(inst, kept.placements[draw], pt.scale, out / f"{inst.net.name}-{draw}-s{pt.scale:.3g}".replace(".", "_"))
    if args.json:
        doc = report.to_json(sw)
        doc["plots"] = [str(f) for f in files]
        print(json.dumps(doc, indent=2))
        return 0
    con = console()
    info = report.instance_info(sw)
    con.print(
        f"[bold]{info['network']}[/bold] ({info['source']}): {info['nodes']} routers, {info['links']} links, areas {', '.join(info['areas'])} ({info['areas_from']}), "
        f"{info['demands']} demands ({info['demand_source']}, {info['demand_gbps_at_scale_1']:,.1f} Gb/s at scale 1); power model: {info['power_model']}"
    )
    for n in info["notes"]:
        con.print(f"  note: {n}")
    con.print(report.sweep_table(sw))
    pt = report.pick_point(sw, args.detail_scale)
    if pt is not None:
        con.print(report.detail_table(sw, pt))
    if sw.first_refusal:
        s, who = sw.first_refusal
        con.print(f"first refusal at scale {s:.3g}: {', '.join(who)}")
    con.print(f"sweep: {len(sw.points)} load points in {sw.seconds:.1f} s")
    for f in files:
        con.print(f"wrote {f}")
    return 0


def register(sub) -> None:
    """Add ``evaluate`` to the top-level parser (imports nothing heavy: the
    evaluation's libraries load only when the command runs)."""
    from pyfrr_pwr.evaluate.placement import STRATEGIES

    SHAPES = ("linear", "flattening", "exponential")  # draft sec. 2.1.8 (evaluate.powermodel.SHAPES)

    e = sub.add_parser("evaluate", help="power of OSPF, the draft, power-down and a central optimum on a network and its traffic")
    src = e.add_mutually_exclusive_group()
    src.add_argument("--topohub", metavar="NAME", help="a topohub network, e.g. sndlib/abilene (SNDlib networks bring their demands)")
    src.add_argument("--clab", metavar="FILE", help="a containerlab topology with power.yml files")
    e.add_argument("--list", action="store_true", help="list the networks topohub holds and exit")
    e.add_argument(
        "--demands", metavar="FILE", help="demands (YAML/JSON: {src: {dst: value}} or [{src, dst, value}]); default: the network's matrix, else a gravity model"
    )
    e.add_argument("--areas", type=int, default=2, help="non-backbone areas to derive for a flat network (default 2; 0: one area)")
    e.add_argument("--power", metavar="FILE", help="power defaults for networks without power.yml files (docs/evaluation.md)")
    e.add_argument("--profile", choices=SHAPES, help="line-card power profile for every card (draft sec. 2.1.8; default: linear, or the power.yml's)")
    e.add_argument("--idle-fraction", type=float, help="idle draw as a fraction of full load, every card (default 0.9)")
    e.add_argument("--scale", help="load scales, comma-separated (1 = the dimensioned matrix); default: automatic sweep")
    e.add_argument("--points", type=int, default=10, help="load points of the automatic sweep (default 10)")
    e.add_argument("--strategies", default=",".join(STRATEGIES), help=f"comma-separated, from {', '.join(STRATEGIES)}")
    e.add_argument("-k", type=int, default=2, help="paths per ABR vector entry and head-end search (draft-inter; default 2)")
    e.add_argument("--refresh", type=int, help="placements between ABR vector recomputations (draft-inter; default: an eighth of the demands)")
    e.add_argument("--time-limit", type=float, default=10.0, help="seconds per optimum programme (default 10)")
    e.add_argument("--jobs", type=int, default=1, help="load points run in parallel processes (default 1)")
    e.add_argument("--plots", metavar="DIR", help="write PNG and SVG plots here")
    e.add_argument("--draw", default="draft", metavar="STRATEGY", help="strategy whose placement --plots draws on the topology (default draft)")
    e.add_argument("--draw-scale", type=float, help="load point to draw (default: the middle one with no refusal)")
    e.add_argument("--detail-scale", type=float, help="load point of the detailed table (default: the middle one with no refusal)")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=cmd_evaluate)


def main(argv=None) -> int:
    """This command on its own, with the top-level command's error
    handling (until cli.main registers the group)."""
    import argparse

    p = argparse.ArgumentParser(prog="pyfrr-pwr")
    sub = p.add_subparsers(dest="cmd", required=True)
    register(sub)
    args = p.parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"pyfrr-pwr: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"pyfrr-pwr {args.cmd}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
