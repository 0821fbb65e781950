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
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback

from pyfrr_pwr.cli import agentctl, evaluate, labctl, lsdb, offline, service
from pyfrr_pwr.files.power import ConfigError
from pyfrr_pwr.proto import wire
from pyfrr_pwr.proto.control import AgentError

__all__ = ["main", "build_parser", "EX_SOFTWARE"]

EX_SOFTWARE = 70  # sysexits.h: an internal software error


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pyfrr-pwr", description="Power-aware TE for FRRouting (draft-mjsraman-rtgwg-intra-as-psp-te-leak-03)")
    sub = p.add_subparsers(dest="cmd", required=True)
    for group in (offline, agentctl, lsdb, labctl, evaluate, service):
        group.register(sub)
    return p


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    msg = lines[0] if lines else ""
    return msg if len(msg) <= 300 else msg[:297] + "..."


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
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
