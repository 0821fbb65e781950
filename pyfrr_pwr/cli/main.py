"""``pyfrr-pwr``: the operator's command line.

Offline commands (no router needed):
  metric TOPOLOGY            every link's POWER per end and PWRLINK
  paths TOPOLOGY --from X --to Y -k K [constraints]
  decode HEX                 an LSA body, as a table or --json
  encode JSON                TLV objects (JSON list, @file or -) to hex
Tables use rich; --json prints machine-readable output instead.
Errors go to stderr, name the file/field at fault, and exit 2 (a bad
argument too: argparse's usage error). No agent or ospfd to talk to: exit 1.
Anything else is a bug: one line, exit 70 (EX_SOFTWARE), the traceback only
with PYFRR_PWR_DEBUG=1.

``pyfrr-pwr agent ...`` goes straight to the agent's lean entry point
(``agent.daemon.main``, as the labs start it) before any other command
module is imported (rich, numpy's evaluation modules, the offline tools):
an operator's agent starts as fast and as small as a lab's (issue 10).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback

from pyfrr_pwr.files.power import ConfigError
from pyfrr_pwr.proto import wire
from pyfrr_pwr.proto.control import AgentError

__all__ = ["main", "build_parser", "EX_SOFTWARE"]

EX_SOFTWARE = 70  # sysexits.h: an internal software error


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pyfrr-pwr", description="Power-aware TE for FRRouting (draft-mjsraman-rtgwg-intra-as-psp-te-leak-03)")
    from pyfrr_pwr.cli import agentctl, evaluate, labctl, lsdb, offline, service

    sub = p.add_subparsers(dest="cmd", required=True)
    for group in (offline, agentctl, lsdb, labctl, evaluate, service):
        group.register(sub)
    return p


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    msg = lines[0] if lines else ""
    return msg if len(msg) <= 300 else msg[:297] + "..."


def main(argv=None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["agent"]:  # the lean entry point, nothing else imported
        from pyfrr_pwr import lazypkg

        lazypkg.install()
        from pyfrr_pwr.agent import daemon

        a = daemon.parse_args(args_list)
        a.cmd = "agent"

        def func(a):
            daemon.setup_logging(a)
            return daemon.run_agent(a.config, a.socket, a.api, a.name)

        return _guarded(a, func)
    args = build_parser().parse_args(argv)
    return _guarded(args, args.func)


def _guarded(args, func) -> int:
    """Run a command, its errors mapped to exit codes (module docstring)."""
    try:
        return func(args)
    except ConnectionError as exc:
        print(f"pyfrr-pwr {args.cmd}: {exc}", file=sys.stderr)
        return 1
    except (ConfigError, AgentError, wire.DecodeError) as exc:  # AgentError: refused, or no agent
        print(f"pyfrr-pwr: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"pyfrr-pwr {args.cmd}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the last resort: a bug, said in one line
        if os.environ.get("PYFRR_PWR_DEBUG"):
            traceback.print_exc()
        print(
            f"pyfrr-pwr {args.cmd}: internal error: {type(exc).__name__}: {_one_line(exc)} (please report; run with PYFRR_PWR_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return EX_SOFTWARE


if __name__ == "__main__":
    sys.exit(main())
