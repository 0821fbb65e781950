"""``pyfrr-pwr``: the operator's command line.

Offline commands (no router needed):
  metric TOPOLOGY            every link's POWER per end and PWRLINK
  paths TOPOLOGY --from X --to Y -k K [constraints]
  decode HEX                 an LSA body, as a table or --json
  encode JSON                TLV objects (JSON list, @file or -) to hex
Tables use rich; --json prints machine-readable output instead.
Errors go to stderr, name the file/field at fault, and exit 2.
"""
from __future__ import annotations

import argparse
import sys

from pyfrr_pwr.cli import agentctl, labctl, lsdb, offline
from pyfrr_pwr.files.power import ConfigError
from pyfrr_pwr.proto import wire
from pyfrr_pwr.proto.control import AgentError

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pyfrr-pwr", description="Power-aware TE for FRRouting (draft-mjsraman-rtgwg-intra-as-psp-te-leak-03)")
    sub = p.add_subparsers(dest="cmd", required=True)
    for group in (offline, agentctl, lsdb, labctl):
        group.register(sub)
    return p


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


if __name__ == "__main__":
    sys.exit(main())
