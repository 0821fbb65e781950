"""The CSPF constraints of a path request, in one frozen type.

Every place that asks for paths (the offline CLI, the agent's head-end and
its ABR vectors, reservations, the KSP core) takes a ``Constraints``; the set
of constraints is spelled out here and nowhere else. Units are the wire's:
bandwidth in bytes/s (RFC 3630 sec. 2.5.6), delay in microseconds (RFC 7471
sec. 4.1), jitter in microseconds as the sum of the links' delay variation
(RFC 7471 sec. 4.3; a sum of per-link variations is a conservative bound on
the path's), admin groups as 32-bit masks (RFC 3630 sec. 2.5.9).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

__all__ = ["Constraints", "NAMES"]

_MASK = 0xFFFFFFFF


@dataclass(frozen=True)
class Constraints:
    min_bandwidth: float | None = None  # bytes/s every link must have available
    max_hops: int | None = None
    max_delay: float | None = None  # microseconds, summed along the path
    admin_include_any: int = 0  # at least one of these admin-group bits
    admin_include_all: int = 0  # every one of these bits
    admin_exclude: int = 0  # none of these bits
    exclude_nodes: tuple = ()  # router IDs (or graph node labels)
    exclude_edges: tuple = ()  # (u, v) or (u, v, key)
    max_jitter: float | None = None  # microseconds, sum of per-link delay variation (RFC 7471 sec. 4.3)

    def __post_init__(self):
        mb = self.min_bandwidth
        if mb is not None:
            if isinstance(mb, bool) or not isinstance(mb, (int, float)) or math.isnan(mb) or mb < 0:
                raise ValueError(f"min_bandwidth must be a number >= 0, got {mb!r}")
            object.__setattr__(self, "min_bandwidth", float(mb))
        mh = self.max_hops
        if mh is not None and (isinstance(mh, bool) or not isinstance(mh, int) or not 0 <= mh < 2**31):
            raise ValueError(f"max_hops must be an integer from 0 to 2^31-1, got {mh!r}")
        for name in ("max_delay", "max_jitter"):
            md = getattr(self, name)
            if md is not None:
                if isinstance(md, bool) or not isinstance(md, (int, float)) or not 0 <= md < math.inf:
                    raise ValueError(f"{name} must be finite and >= 0, got {md!r}")
                object.__setattr__(self, name, float(md))
        for name in ("admin_include_any", "admin_include_all", "admin_exclude"):
            v = getattr(self, name)
            if v is None:
                object.__setattr__(self, name, 0)
            elif isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= _MASK:
                raise ValueError(f"{name} must be a 32-bit mask, got {v!r}")
        object.__setattr__(self, "exclude_nodes", tuple(self.exclude_nodes or ()))
        object.__setattr__(self, "exclude_edges", tuple(tuple(e) for e in (self.exclude_edges or ())))

    @classmethod
    def of(cls, constraints: Constraints | dict | None = None, **kw) -> Constraints:
        """A Constraints from another one, a dict of fields, or keywords
        (keywords win); unknown names raise ``TypeError`` naming them."""
        base = constraints if isinstance(constraints, Constraints) else None
        d = dict(constraints) if isinstance(constraints, dict) else {}
        d.update(kw)
        unknown = set(d) - NAMES
        if unknown:
            raise TypeError(f"unknown constraint(s) {sorted(unknown)}; known: {sorted(NAMES)}")
        return replace(base, **d) if base is not None else cls(**d)

    def with_(self, **kw) -> Constraints:
        return replace(self, **kw)

    def link_local(self) -> Constraints:
        """What a search can enforce link by link; hop, delay and jitter
        budgets belong to a whole path (an inter-area path is judged on its
        sum)."""
        return replace(self, max_hops=None, max_delay=None, max_jitter=None)

    def to_dict(self) -> dict:
        """Only the constraints that are set (the JSON form)."""
        default = Constraints()
        d = asdict(self)
        return {k: (list(map(list, v)) if k == "exclude_edges" else list(v) if isinstance(v, tuple) else v) for k, v in d.items() if v != getattr(default, k)}

    def describe(self) -> str:
        parts = []
        for k, v in sorted(self.to_dict().items()):
            parts.append(f"{k}={v * 8 / 1e9:g} Gb/s" if k == "min_bandwidth" else f"{k}={v}")
        return ", ".join(parts) or "none"


NAMES = frozenset(f.name for f in fields(Constraints))
