"""One node of a lab: its namespace and where its processes keep their files."""

from __future__ import annotations

import ipaddress
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Node", "AGENTS_DIR"]

# under the lab's root: one root-owned 0700 directory per agent, outside the
# node's FRR directory (which is frr's, so the frr user could rename any
# directory in it and put its own agent.sock in its place)
AGENTS_DIR = ".agents"


@dataclass
class Node:
    name: str
    ns: str
    rundir: Path  # FRR's: chowned to frr
    agent_dir: Path  # the agent's: root, 0700
    daemons: list = field(default_factory=list)
    options: dict = field(default_factory=dict)
    frr_conf: Path | None = None
    power: Path | None = None
    exec_cmds: list = field(default_factory=list)
    ipv6: dict = field(default_factory=dict)  # ifname -> [IPv6Interface], from frr.conf
    locator: ipaddress.IPv6Interface | None = None  # sr0's LOC::1/48, from frr.conf

    @property
    def locator_net(self) -> ipaddress.IPv6Network | None:
        return self.locator.network if self.locator is not None else None

    @property
    def frr(self) -> bool:
        return bool(self.daemons)

    @property
    def runs_agent(self) -> bool:
        return self.power is not None and "ospfd" in self.daemons

    @property
    def agent_socket(self) -> Path:
        return self.agent_dir / "agent.sock"

    @property
    def agent_log(self) -> Path:
        return self.agent_dir / "agent.log"

    def vtysh(self, *commands: str, timeout: float = 10) -> subprocess.CompletedProcess:
        args = ["vtysh", "--vty_socket", str(self.rundir)]
        for c in commands:
            args += ["-c", c]
        return subprocess.run(["ip", "netns", "exec", self.ns, *args], capture_output=True, text=True, timeout=timeout)
