"""Layer 5, the ``pyfrr-pwr`` command: argument parsing, rendering and one
module per command group."""

from pyfrr_pwr.cli.main import main

__all__ = ["main"]
