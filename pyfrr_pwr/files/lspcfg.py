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
        protection: false      # every LSP gets a disjoint backup (as --backup) and a liveness prober
        ecmp: false            # every LSP carries the equal-PWR set (as --ecmp: UCMP multipath, sec. 2.1.5)
        wtr: 5                 # s wait-to-restore: a primary up again carries traffic after this
        switch_hold: 1         # s after a liveness switch during which no re-optimisation starts
        liveness:              # end-to-end probes over the SR path (dataplane.liveness)
          interval: 0.02       # s between probes per path (0.005-10)
          multiplier: 3        # unanswered probes that make a path DOWN (2-255)
          up_after: 5          # echoes in a row that make it UP again (1-1000)
          grace: 0.06          # s an echo may take (0.001-60)
          port: 7853           # UDP port of every agent's reflector
          key_file: null       # shared HMAC key (>= 16 bytes); null: unauthenticated
          allowed: [fd00::/16] # where a reflector sends echoes (the SID block)
          rate: 2000           # echoes per second a reflector sends at most (1-100000)
          threaded: true       # prober and reflector in a thread of their own (docs/protection.md sec. 4c)
          fast_switch: true    # that thread switches to the backup itself, the LSP machine told after (sec. 4c)
          nice: -10            # that thread's scheduling priority: ahead of other agents' and daemons' bursts (sec. 4c)

Every agent with SRv6 runs the reflector (it answers probes); the
head-end runs one prober per protected LSP.

How fast an LSP whose head-end stopped refreshing goes everywhere is the
reservations' soft state: ``agent.reservation_hold`` (default 15 s) after
its last refresh each hop drops its booking and an ABR its binding SID.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, fields

__all__ = ["SCHEMA", "parse", "LspSettings", "LivenessSettings"]


@dataclass(frozen=True)
class LivenessSettings:
    interval: float = 0.02
    multiplier: int = 3
    up_after: int = 5
    grace: float = 0.06
    port: int = 7853
    key: bytes | None = None  # the key_file's content
    allowed: tuple = ("fd00::/16",)
    rate: float = 2000.0
    threaded: bool = True  # agent.liveness.LivenessService(threaded=...)
    fast_switch: bool = True  # agent.lsp_live: the prober's thread switches (FastSwitch); the loop undoes one it does not follow
    nice: int | None = -10  # the prober's thread's nice value (LivenessService(nice=...)); None: the agent's own

    @property
    def sid_block(self) -> str:
        return self.allowed[0]


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
    protection: bool = False
    ecmp: bool = False
    wtr: float = 5.0
    switch_hold: float = 1.0  # dataplane.lspmsg.LspConfig.switch_hold (no race with a liveness switch)
    liveness: LivenessSettings = field(default_factory=lambda: LivenessSettings())


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
            "protection": {"type": "boolean"},
            "ecmp": {"type": "boolean"},
            "wtr": _NUM,
            "switch_hold": _NUM,
            "liveness": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "interval": {"type": "number", "minimum": 0.005, "maximum": 10},
                    "multiplier": {"type": "integer", "minimum": 2, "maximum": 255},
                    "up_after": {"type": "integer", "minimum": 1, "maximum": 1000},
                    "grace": {"type": "number", "minimum": 0.001, "maximum": 60},
                    "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                    "key_file": {"type": ["string", "null"], "minLength": 1},
                    "allowed": {"type": "array", "minItems": 1, "maxItems": 64, "items": {"type": "string"}},
                    "rate": {"type": "number", "minimum": 1, "maximum": 100000},
                    "threaded": {"type": "boolean"},
                    "fast_switch": {"type": "boolean"},
                    "nice": {"type": ["integer", "null"], "minimum": -20, "maximum": 19},
                },
            },
        },
    },
}


def parse(data: dict, err):
    """The checked top-level document; returns this section's LspSettings."""
    d = ((data.get("agent") or {}).get("lsp")) or {}
    kw = {}
    for f in fields(LspSettings):
        if f.name in d and f.name != "liveness":
            v = d[f.name]
            kw[f.name] = float(v) if isinstance(f.default, float) else v
    if "liveness" in d:
        kw["liveness"] = _liveness(d["liveness"] or {}, err)
    return LspSettings(**kw)


def _liveness(d: dict, err) -> LivenessSettings:
    where = ["agent", "lsp", "liveness"]
    kw = {}
    for f in fields(LivenessSettings):
        if f.name in d:
            kw[f.name] = float(d[f.name]) if isinstance(f.default, float) else d[f.name]
    nets = []
    for i, n in enumerate(d.get("allowed") or ()):
        try:
            net = ipaddress.IPv6Network(n)
        except ValueError as exc:
            raise err([*where, "allowed", i], f"not an IPv6 prefix: {exc}") from None
        nets.append(str(net))
    if nets:
        kw["allowed"] = tuple(nets)
    kf = d.get("key_file")
    if kf:
        try:
            with open(kf, "rb") as fh:
                key = fh.read(4097).strip()
        except OSError as exc:
            raise err([*where, "key_file"], f"cannot read {kf}: {exc.strerror}") from None
        if len(key) < 16:
            raise err([*where, "key_file"], f"{kf} holds {len(key)} bytes; a liveness key needs at least 16")
        if len(key) > 4096:
            raise err([*where, "key_file"], f"{kf} is over 4096 bytes: not a key")
        kw["key"] = key
    return LivenessSettings(**kw)
