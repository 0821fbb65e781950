"""Agents on loopback for the signalling tests: three AgentCores on a line
A - B - C (one area), each with its Signalling on its own 127.0.0.1 port,
and a test clock (tests/test_signalling*.py)."""

import asyncio
import textwrap

from pyfrr_pwr.agent.core import AgentCore
from pyfrr_pwr.agent.signalling import Signalling
from pyfrr_pwr.files.power import load_power
from pyfrr_pwr.proto import ospfapi as api
from pyfrr_pwr.proto import wire

KEY = "test-only-signal-key-0123456789"
A, B, C = "10.9.255.1", "10.9.255.2", "10.9.255.3"


class Clock:
    """Both clocks of one test: monotonic seconds and wall-clock ms."""

    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t

    def ms(self) -> int:
        return int(1_700_000_000_000 + self.t * 1000)

    def advance(self, dt: float) -> None:
        self.t += dt


POWER = textwrap.dedent("""\
    router: {name}
    ports:
      eth1: {{speed: 10G, power_w: 2.0}}
      eth2: {{speed: 10G, power_w: 2.0}}
    te_endpoint: {{head: true, tail: true}}
    """)

# a line A - B - C, one area: A eth1 - B eth1, B eth2 - C eth1
WIRING = {
    A: [("eth1", "10.9.1.0", "10.9.1.1", B)],
    B: [("eth1", "10.9.1.1", "10.9.1.0", A), ("eth2", "10.9.2.0", "10.9.2.1", C)],
    C: [("eth1", "10.9.2.1", "10.9.2.0", B)],
}


def make_core(tmp_path, rid, agent=None):
    p = tmp_path / f"{rid}.yml"
    p.write_text(POWER.format(name=rid))
    cfg = load_power(p)
    cfg.agent.update(agent or {})  # the loader's keys, as it will leave them (issue 11)
    core = AgentCore(cfg, min_interval=0.0)
    core.ifaddrs = {ifn: addr for ifn, addr, _, _ in WIRING[rid]}
    core.handle(api.RouterIdChange(rid), 0.0)
    for _, addr, nbr_addr, nbr in WIRING[rid]:
        core.handle(api.IsmChange(addr, "0.0.0.1", 4), 0.0)
        core.handle(api.NsmChange(addr, nbr_addr, nbr, 9), 0.0)
    core.handle(api.ReadyNotify(10, wire.DEFAULT_OPAQUE_TYPE, "0.0.0.1"), 0.0)
    assert all(core.links[ifn].advertised for ifn, *_ in WIRING[rid])
    return core


class Net:
    """Three agents on 127.0.0.1, each on its own port; router IDs map to
    the ports through ``address_of``."""

    def __init__(self, tmp_path, rids=(A, B, C), keys=None, real_time=False, refresh=5, hold=15, flood_hold=0.0, **kw):
        self.clock = Clock()
        clocks = {} if real_time else {"clock": self.clock, "clock_ms": self.clock.ms}
        self.ports: dict = {}
        self.emitted = {r: [] for r in rids}
        self.sigs: dict = {}
        for r in rids:
            agent = {"signal_key": (keys or {}).get(r, KEY), "reservation_refresh": refresh, "reservation_hold": hold}
            core = make_core(tmp_path, r, agent)
            self.sigs[r] = Signalling(
                core, self.emitted[r].append, 0, address_of=lambda rid: ("127.0.0.1", self.ports.get(rid, 9)), flood_hold=flood_hold, **clocks, **kw
            )
        self.servers: dict = {}

    async def __aenter__(self):
        for r in self.sigs:
            await self.up(r)
        return self

    async def up(self, r):
        srv = await self.sigs[r].start("127.0.0.1")
        self.servers[r] = srv
        self.ports[r] = srv.sockets[0].getsockname()[1]

    async def down(self, r):
        """The agent goes away: its server and every connection it holds."""
        self.sigs[r].close()
        await self.servers[r].wait_closed()

    async def __aexit__(self, *exc):
        for r in self.servers:
            self.sigs[r].close()
        await asyncio.sleep(0)  # the connections' serve tasks see their end

    def core(self, r):
        return self.sigs[r].core

    def table(self, r):
        return self.core(r).reservations

    def stats(self, r):
        return self.core(r).stats
