"""What a reload of power.yml changes (SIGHUP, issue 10): a pure diff of
the running configuration against the new one (``diff``) and the
configuration the agent goes on with (``merge``).

Applied without a restart: the power model (line cards, ports' figures,
``available``, power readers, speeds, base speed), the path computation
settings (``ksp.k``, banding, ``ksp_constraints``) and the agent's
measurement timers (``interval``, ``window``, ``min_interval``). The new
figures are advertised under the usual rules (draft sec. 2.1.6 and the
second sec. 2.2: banding, ``min_interval``).

Needing a restart, and kept at their running values until one: what the
agent's sessions and sockets were built with (the opaque type, profile,
ospfd's API address, the signalling port, key and timers, SRv6, LSPs,
energy, CATS, the exporter), the router's name, which ports exist, and its
TE endpoint role and prefixes (flooded in the node LSA, sec. 2). The
daemon logs each such field by name.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from pyfrr_pwr.files.power import PowerConfig

__all__ = ["HOT_AGENT_KEYS", "RESTART_FIELDS", "Diff", "diff", "merge"]

HOT_AGENT_KEYS = frozenset({"interval", "window", "min_interval"})
HOT_FIELDS = ("base_speed", "line_cards", "ports", "k", "band_ratio", "hysteresis", "ksp_constraints")
RESTART_FIELDS = ("router", "te_head", "te_tail", "te_prefixes", "lsp", "energy", "cats")


@dataclass(frozen=True)
class Diff:
    applied: tuple  # field names that change and apply now ("agent.interval", "ports.eth1", ...)
    restart: tuple  # field names that change but need a restart (kept as they run)

    @property
    def empty(self) -> bool:
        return not self.applied and not self.restart


def _eq(a, b) -> bool:
    try:
        return bool(a == b)
    except Exception:  # objects without a usable ==: compare their text
        return repr(a) == repr(b)


def diff(old: PowerConfig, new: PowerConfig) -> Diff:
    """Which fields differ, split into applied now and needing a restart."""
    applied, restart = [], []
    if set(old.ports) != set(new.ports):
        restart.append("ports (added or removed: " + ", ".join(sorted(set(old.ports) ^ set(new.ports))) + ")")
    for f in HOT_FIELDS:
        a, b = getattr(old, f), getattr(new, f)
        if f in ("ports", "line_cards"):
            for name in sorted(set(a) & set(b)):
                if not _eq(a[name], b[name]):
                    applied.append(f"{f}.{name}")
            if f == "line_cards" and set(a) != set(b):
                applied.append("line_cards (added or removed)")
        elif not _eq(a, b):
            applied.append(f)
    for f in RESTART_FIELDS:
        if not _eq(getattr(old, f, None), getattr(new, f, None)):
            restart.append(f)
    oa, na = old.agent or {}, new.agent or {}
    for k in sorted(set(oa) | set(na)):
        if _eq(oa.get(k), na.get(k)):
            continue
        (applied if k in HOT_AGENT_KEYS else restart).append(f"agent.{k}")
    return Diff(tuple(applied), tuple(restart))


def merge(old: PowerConfig, new: PowerConfig) -> PowerConfig:
    """The configuration to run with: ``new`` with every field that needs a
    restart kept as ``old`` has it. When the set of ports changed, the
    ports (and their line cards) stay as they run too: the agent's links
    are made once, per port."""
    keep = {f: getattr(old, f) for f in RESTART_FIELDS if hasattr(old, f)}
    agent = {k: v for k, v in (old.agent or {}).items() if k not in HOT_AGENT_KEYS}
    agent.update({k: v for k, v in (new.agent or {}).items() if k in HOT_AGENT_KEYS})
    keep["agent"] = agent
    if set(old.ports) != set(new.ports):
        keep["ports"] = old.ports
        keep["line_cards"] = old.line_cards
        keep["base_speed"] = old.base_speed
    return dataclasses.replace(new, **keep)
