"""The vocabulary of the LSP state machine (``lsp``): its states, its
configuration, the paths it carries, the events it takes and the actions it
returns, as plain frozen data (sans-I/O: the agent turns actions into
signalling and netlink calls, and I/O results back into events).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "State",
    "LspConfig",
    "LspPath",
    "Leg",
    "EncapLeg",
    "SetupRequested",
    "SignallingSucceeded",
    "SignallingFailed",
    "Tick",
    "PwrChanged",
    "LivenessLost",
    "LivenessRestored",
    "LinkDown",
    "ReleaseRequested",
    "Released",
    "Signal",
    "Refresh",
    "Release",
    "InstallEncap",
    "RemoveEncap",
    "InstallBackup",
    "RemoveBackup",
    "Switch",
    "Recompute",
]


class State(StrEnum):
    DOWN = "down"
    SETTING_UP = "setting-up"
    UP = "up"
    REOPTIMIZING = "reoptimizing"
    RELEASING = "releasing"
    GONE = "gone"


@dataclass(frozen=True)
class LspConfig:
    refresh: float = 5.0  # seconds between refreshes (softstate.REFRESH)
    setup_timeout: float = 3.0  # signalling answer awaited this long
    release_timeout: float = 3.0  # release confirmations awaited this long
    margin: float = 0.25  # relative PWR gain a new path needs
    min_gain: float = 0.0  # absolute PWR gain a new path needs as well
    holddown: float = 30.0  # seconds between re-optimisations (sec. 2.1.6)
    wtr: float = 5.0  # wait to restore: a recovered primary carries traffic again after this
    retry_min: float = 1.0  # backoff after a failed set-up, doubling ...
    retry_max: float = 30.0  # ... up to this
    primary_metric: int = 10  # below zebra's 20: the IGP's route stays the last resort
    backup_metric: int = 15
    reserve_backup: bool = True  # the backup books the LSP's bandwidth too (1:1)
    # after a liveness switch (second seed sec. 4.2) re-optimisation (draft sec. 2.2) waits this
    # long: the head-end's view settles 0.3-0.7 s after the TEDs (docs/dataplane.md), and a path
    # chosen from a view that does not know the failure yet could take traffic off the backup
    switch_hold: float = 1.0

    def __post_init__(self):
        for f in ("refresh", "setup_timeout", "release_timeout", "retry_min", "retry_max"):
            v = getattr(self, f)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"LspConfig.{f} = {v!r}: must be a positive number of seconds")
        for f in ("holddown", "wtr", "min_gain", "switch_hold"):
            v = getattr(self, f)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ValueError(f"LspConfig.{f} = {v!r}: must be a number >= 0")
        if not (isinstance(self.margin, (int, float)) and 0 <= self.margin < 1):
            raise ValueError(f"LspConfig.margin = {self.margin!r}: must be in [0, 1)")
        if self.retry_max < self.retry_min:
            raise ValueError("LspConfig.retry_max must be >= retry_min")
        if not (0 <= self.primary_metric < self.backup_metric < 2**32):
            raise ValueError(f"LspConfig: primary metric {self.primary_metric} must be below backup metric {self.backup_metric}")


@dataclass(frozen=True)
class LspPath:
    """A path: TED edges ``(u, v, key)`` from the head-end, its PWR (the sum
    of PWRLINK, draft sec. 2.1.7) and its share among equal-PWR legs."""

    edges: tuple
    pwr: float
    weight: int = 1

    def __post_init__(self):
        edges = tuple(tuple(e) for e in self.edges)
        if not edges or any(len(e) != 3 for e in edges):
            raise ValueError(f"path edges {self.edges!r} must be a non-empty sequence of (u, v, key)")
        for a, b in zip(edges, edges[1:]):
            if a[1] != b[0]:
                raise ValueError(f"path breaks between {a} and {b}")
        object.__setattr__(self, "edges", edges)
        if not (isinstance(self.pwr, (int, float)) and not math.isnan(self.pwr) and self.pwr >= 0):
            raise ValueError(f"path PWR {self.pwr!r} must be a number >= 0")
        if not (isinstance(self.weight, int) and 1 <= self.weight <= 256):
            raise ValueError(f"path weight {self.weight!r} must be an integer 1..256 (the kernel's multipath weight)")

    @property
    def nodes(self) -> tuple:
        return (self.edges[0][0], *(e[1] for e in self.edges))

    @property
    def first_hop(self) -> tuple:
        return self.edges[0]


@dataclass(frozen=True)
class Leg:
    """A signalled path: ``sig`` names the signalling instance, ``segs`` the
    SID list (path order), ``route`` the explicit route signalling recorded."""

    sig: int
    path: LspPath
    segs: tuple
    route: tuple


@dataclass(frozen=True)
class EncapLeg:
    """One nexthop of an encap route: SID list in path order, multipath
    weight, and the first link (its interface is the route's ``dev``)."""

    segs: tuple
    weight: int
    first_hop: tuple


# -- events -------------------------------------------------------------------


@dataclass(frozen=True)
class SetupRequested:
    """Set up on ``paths`` (equal-PWR legs), with an optional backup. In UP
    it re-routes at once (make-before-break), margin or not."""

    now: float
    paths: tuple
    backup: LspPath | None = None


@dataclass(frozen=True)
class SignallingSucceeded:
    now: float
    sig: int
    segs: tuple  # the SID list the agent built for the signalled route
    route: tuple | None = None  # the explicit route recorded (default: the path)


@dataclass(frozen=True)
class SignallingFailed:
    now: float
    sig: int
    reason: str = ""


@dataclass(frozen=True)
class Tick:
    now: float


@dataclass(frozen=True)
class PwrChanged:
    """The agent's new best path(s) after the TED changed, the current
    primary's PWR over the new TED (None: unchanged), and optionally a new
    backup path."""

    now: float
    best: tuple
    current_pwr: float | None = None
    backup: LspPath | None = None


@dataclass(frozen=True)
class LivenessLost:
    now: float
    which: str = "primary"  # or "backup"
    leg: int | None = None  # one equal-PWR leg of the primary failed (None: the primary as a whole)
    alive: tuple = ()  # with ``leg``: the primary's legs still usable (indices into ``Lsp.primary``)


@dataclass(frozen=True)
class LivenessRestored:
    now: float
    which: str = "primary"
    leg: int | None = None  # one failed leg answers again
    alive: tuple = ()  # the primary's legs usable now (empty: all)


@dataclass(frozen=True)
class LinkDown:
    """A TED edge ``(u, v, key)`` went away (or our own link lost carrier)."""

    now: float
    link: tuple


@dataclass(frozen=True)
class ReleaseRequested:
    now: float


@dataclass(frozen=True)
class Released:
    """A release was confirmed along the path of ``sig``."""

    now: float
    sig: int


# -- actions ------------------------------------------------------------------


@dataclass(frozen=True)
class Signal:
    lsp_id: int
    sig: int
    path: LspPath
    bandwidth: float
    role: str  # "primary" or "backup"


@dataclass(frozen=True)
class Refresh:
    lsp_id: int
    sig: int
    path: LspPath


@dataclass(frozen=True)
class Release:
    lsp_id: int
    sig: int
    path: LspPath


@dataclass(frozen=True)
class InstallEncap:
    """Install or replace the route for ``prefixes`` at ``metric``."""

    lsp_id: int
    prefixes: tuple
    legs: tuple  # EncapLeg, one per nexthop
    metric: int


@dataclass(frozen=True)
class RemoveEncap:
    lsp_id: int
    prefixes: tuple
    metric: int


@dataclass(frozen=True)
class InstallBackup:
    lsp_id: int
    prefixes: tuple
    leg: EncapLeg
    metric: int


@dataclass(frozen=True)
class RemoveBackup:
    lsp_id: int
    prefixes: tuple
    metric: int


@dataclass(frozen=True)
class Switch:
    """Replace (or create) the route at ``metric`` with ``legs``: ``to`` says
    whether they are the backup's or the primary's."""

    lsp_id: int
    prefixes: tuple
    to: str
    legs: tuple
    metric: int


@dataclass(frozen=True)
class Recompute:
    """Ask the agent for paths: answer with SetupRequested (DOWN) or
    PwrChanged (UP)."""

    lsp_id: int
    reason: str
