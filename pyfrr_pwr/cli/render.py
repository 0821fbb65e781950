"""Rendering shared by the command groups: rich consoles and PWR figures in W per Gb/s."""

from __future__ import annotations

import sys

from rich.console import Console

from pyfrr_pwr.model import metric

__all__ = ["fmt", "console", "no_lsp"]


def fmt(v) -> str:
    if v is None:
        return "-"
    return f"{metric.w_per_gbps(v):.4g}"


def no_lsp(reason: str) -> str:
    """The line under a reservation that no LSP carries (``Reserved.no_lsp``)."""
    return f"no LSP: traffic is not steered onto this path ({reason})"


def console() -> Console:
    # piped output (logs, scripts) is not squeezed to 80 columns
    return Console(highlight=False, width=None if sys.stdout.isatty() else 160)
