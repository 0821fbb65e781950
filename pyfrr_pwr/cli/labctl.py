"""``lab``: containerlab topologies on network namespaces (no Docker)."""

from __future__ import annotations

import argparse
import json
import sys

from rich.console import Console
from rich.table import Table

from pyfrr_pwr.cli.agentctl import agent_request
from pyfrr_pwr.cli.render import console as _out
from pyfrr_pwr.files.power import ConfigError
from pyfrr_pwr.proto import control as pc


def lab_paths(lab, args) -> int:
    """Every TE endpoint's inter-area choice to every TE endpoint of another
    area, asked of the endpoints' agents (draft sec. 2.2)."""
    import time

    topo = lab.topo
    eps = [r for r in topo.routers.values() if r.power is not None and r.power.te_endpoint and r.router_id]
    pairs = [(h, t) for h in eps for t in eps if h is not t and not (h.areas & t.areas)]
    results: dict = {}
    end = time.monotonic() + args.timeout
    while len(results) < len(pairs) and time.monotonic() < end:
        for h, t in pairs:
            if (h.name, t.name) in results:
                continue
            try:
                results[(h.name, t.name)] = agent_request(str(lab.nodes[h.name].agent_socket), pc.Path(to=t.router_id))
            except (pc.AgentError, OSError, ValueError):  # not converged yet, or no agent yet
                pass
        if len(results) < len(pairs):
            time.sleep(0.5)
    if args.json:
        print(json.dumps({f"{h}->{t}": r.to_json() for (h, t), r in results.items()}, indent=2))
        return 0 if len(results) == len(pairs) else 1
    name = topo.name_of
    t = Table(title=f"lab {lab.name}: inter-area power-shortest paths (W per Gb/s), chosen by each head-end from the ABRs' vectors")
    for col in ("head-end", "tail-end", "ABR sequence", "head-end path", "head PWR", "vector PWR", "total", "runners-up"):
        t.add_column(col, justify="right" if "PWR" in col or col in ("total", "runners-up") else "left")
    for h, tl in pairs:
        r = results.get((h.name, tl.name))
        if r is None:
            t.add_row(h.name, tl.name, "(no answer)", "", "", "", "", "")
            continue
        b = r.best
        ecmp = f" (+{len(r.ecmp) - 1} ECMP)" if len(r.ecmp) > 1 else ""
        t.add_row(
            h.name,
            tl.name,
            " -> ".join(name(x) for x in b.abr_chain) + ecmp,
            "-".join(name(x) for x in b.head_path),
            f"{b.head.pwr_w_per_gbps:.4g}",
            f"{b.vector.pwr_w_per_gbps:.4g}",
            f"{b.pwr_w_per_gbps:.4g}",
            str(len(r.runners_up)),
        )
    _out().print(t)
    missing = len(pairs) - len(results)
    if missing:
        print(f"{missing} pair(s) got no answer within {args.timeout:.0f}s", file=sys.stderr)
    return 0 if not missing else 1


def no_srv6_note(lab) -> str | None:
    """What to tell whoever brings up a lab whose agents run SRv6 (routers
    with a locator) on a kernel that has none; None otherwise, or when the
    kernel cannot be asked. Once per ``lab up``: each agent's ``show
    status`` says it too (``srv6.disabled``), but no one reads 23 of them."""
    from pyfrr_pwr.agent import sidplan
    from pyfrr_pwr.dataplane.netlink import NO_SEG6_LWT, NetlinkError, seg6_lwtunnels
    from pyfrr_pwr.dataplane.sids import SidError

    def srv6(n) -> bool:
        if not (n.runs_agent and n.locator is not None):
            return False
        try:  # the agent's own reading of agent.srv6
            return sidplan.settings((lab.topo.routers[n.name].power.agent or {}).get("srv6")).enabled
        except SidError:  # that agent runs without SRv6 and logs why
            return False

    if not any(srv6(n) for n in lab.nodes.values()):
        return None
    try:
        if seg6_lwtunnels():
            return None
    except NetlinkError:
        return None
    return f"{NO_SEG6_LWT}; the agents compute, flood and reserve paths, but no LSP steers traffic onto them (docs/dataplane.md)"


def cmd_lab(args) -> int:
    import logging

    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from pyfrr_pwr.lab.runner import Lab, LabError

    logging.basicConfig(level=logging.WARNING)
    try:
        lab = Lab(args.topology, name=args.name, validate_schema=not args.no_schema, firewall=not getattr(args, "no_firewall", False))
        if args.action == "up":
            con = Console(stderr=True)
            with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=con, transient=False) as prog:
                task = prog.add_task(f"lab {lab.name}: starting", total=None)
                lab.up(
                    agents=not args.no_agents,
                    wait=args.wait,
                    timeout=args.timeout,
                    progress=lambda m: prog.update(task, description=f"lab {lab.name}: {m}"),
                    paths=not args.no_wait_paths,
                )
                prog.update(
                    task,
                    description=f"lab {lab.name}: up"
                    + ((", converged, agents ready" + ("" if args.no_wait_paths else ", paths answered")) if args.wait else ""),
                )
            note = None if args.no_agents else no_srv6_note(lab)
            if note:
                con.print(f"[yellow]note[/yellow]: {note}", highlight=False, soft_wrap=True)
            return 0
        if args.action == "down":
            n = lab.down()
            print(f"lab {lab.name}: down, {n} process(es) stopped")
            return 0
        if args.action == "status":
            st = lab.status()
            if args.json:
                print(json.dumps(st, indent=2))
                return 0
            t = Table(title=f"lab {lab.name}")
            for col in ("node", "namespace", "up", "processes", "OSPF Full"):
                t.add_column(col)
            for node, s in st.items():
                procs = " ".join(f"{k}{'' if v else '(dead)'}" for k, v in s["processes"].items())
                full = f"{s['ospf_full']}/{s['ospf_expected']}" if "ospf_full" in s else "-"
                t.add_row(node, s["namespace"], "yes" if s["up"] else "no", procs or "-", full)
            _out().print(t)
            return 0
        if args.action == "paths":
            return lab_paths(lab, args)
        if args.action == "restart":
            pids = lab.restart(args.node, args.what, wait=args.wait, timeout=args.timeout)
            print(f"lab {lab.name}: {args.node} {args.what} restarted (pid {', '.join(map(str, pids))})")
            return 0
        if args.action == "exec":
            argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
            if not argv:
                raise ConfigError("usage: pyfrr-pwr lab exec TOPOLOGY NODE -- COMMAND...")
            return lab.exec(args.node, argv).returncode
    except LabError as exc:
        print(f"pyfrr-pwr lab: {exc}", file=sys.stderr)
        return 1
    return 2


def register(sub) -> None:
    """Add this group's subcommands to the top-level parser."""
    lb = sub.add_parser("lab", help="run a containerlab topology on network namespaces (no Docker)")
    lsub = lb.add_subparsers(dest="action", required=True)
    for action, hlp in (
        ("up", "bring a lab up"),
        ("down", "stop its processes, delete its namespaces"),
        ("status", "nodes, processes, OSPF adjacencies"),
        ("exec", "run a command in a node"),
        ("paths", "every TE endpoint's inter-area path to the endpoints of other areas"),
        ("restart", "restart one node's daemon (ospfd, zebra, any enabled daemon) or its agent"),
    ):
        a = lsub.add_parser(action, help=hlp)
        a.add_argument("topology")
        a.add_argument("--name", help="lab name (default: the topology's)")
        a.add_argument("--no-schema", action="store_true", help="skip containerlab schema validation (files newer than the schema)")
        if action == "up":
            a.add_argument(
                "--wait",
                action="store_true",
                help="return once OSPF has converged, every agent answers, synced, and every TE head-end answers a path to every "
                "tail-end of another area (fails naming the node or pairs otherwise)",
            )
            a.add_argument("--no-wait-paths", action="store_true", help="with --wait: do not wait for the head-ends' path answers")
            a.add_argument("--timeout", type=float, default=60.0)
            a.add_argument("--no-agents", action="store_true")
            a.add_argument("--no-firewall", action="store_true", help="do not load the nftables rules guarding ports 2607 and 2700")
        if action == "restart":
            a.add_argument("node")
            a.add_argument("what", nargs="?", default="ospfd", help="ospfd (default), zebra, any enabled daemon, or agent")
            a.add_argument("--wait", action="store_true", help="return once the node is converged and its agent ready again")
            a.add_argument("--timeout", type=float, default=60.0)
        if action in ("status", "paths"):
            a.add_argument("--json", action="store_true")
        if action == "paths":
            a.add_argument("--timeout", type=float, default=60.0)
        if action == "exec":
            a.add_argument("node")
            a.add_argument("argv", nargs=argparse.REMAINDER, help="-- COMMAND ARGS...")
        a.set_defaults(func=cmd_lab)
