"""The power.yml section(s) agent.lsp (issue 7: LSP set-up, re-optimisation, protection) and agent.srv6 (checked in full by agent.sidplan.settings).

SCHEMA holds the JSON-schema fragment(s) files.power checks with
file, line and field in every error; parse(data, err) turns the checked
section into settings (err(field_path, message) builds the ConfigError
naming file, line and field). Kept apart from files.power so each
concern owns its section.

agent.lsp (every key optional; defaults in ``LspSettings``)::

    agent:
      lsp:
        enabled: true          # set up LSPs for reservations where SRv6 runs
        margin: 0.25           # relative PWR gain a new path needs (hysteresis, draft sec. 2.2)
        min_gain: 0            # absolute PWR gain it needs as well
        holddown: 30           # s between re-optimisations of one LSP (sec. 2.1.6)
        reoptimize_period: 0.2 # s between looks at a changed TED (0: never re-optimise)
        setup_timeout: 20      # s for a path's signalling and data plane
        max_depth: 8           # segments one SRH may hold (the head-end's list)
        watch_period: 0.5      # s between checks of the LSPs' reservations (lost, expired)

How fast an LSP whose head-end stopped refreshing goes everywhere is the
reservations' soft state: ``agent.reservation_hold`` (default 15 s) after
its last refresh each hop drops its booking and an ABR its binding SID.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["SCHEMA", "parse", "LspSettings"]


@dataclass(frozen=True)
class LspSettings:
    enabled: bool = True
    margin: float = 0.25
    min_gain: float = 0.0
    holddown: float = 30.0
    reoptimize_period: float = 0.2
    setup_timeout: float = 20.0
    max_depth: int = 8
    watch_period: float = 0.5


_NUM = {"type": "number", "minimum": 0, "maximum": 3600}
# where each fragment sits in power.yml (keys from the top) -> the fragment
SCHEMA: dict = {
    ("agent", "srv6"): {"type": "object"},
    ("agent", "lsp"): {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "enabled": {"type": "boolean"},
            "margin": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
            "min_gain": {"type": "number", "minimum": 0, "maximum": 1e12},
            "holddown": _NUM,
            "reoptimize_period": _NUM,
            "setup_timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 600},
            "max_depth": {"type": "integer", "minimum": 2, "maximum": 16},
            "watch_period": {"type": "number", "minimum": 0.05, "maximum": 60},
        },
    },
}


def parse(data: dict, err):
    """The checked top-level document; returns this section's LspSettings."""
    d = ((data.get("agent") or {}).get("lsp")) or {}
    kw = {}
    for f in fields(LspSettings):
        if f.name in d:
            v = d[f.name]
            kw[f.name] = float(v) if isinstance(f.default, float) else v
    return LspSettings(**kw)
