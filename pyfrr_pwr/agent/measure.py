"""What the agent measures: interface addresses, tx rates, link speeds
(netlink, pyroute2) and power readers (``telemetry.sensors``).

Used bandwidth feeds the available bandwidth a link advertises (RFC 7471
sec. 4.6; the draft's sec. 2.1.9 ratio of power to it); measured power
feeds POWER (draft sec. 2.1.8). ``rates`` is pure; ``Measurer.run`` is the asyncio loop, doing
the blocking netlink dumps on a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from pyfrr_pwr.files.power import PowerConfig

__all__ = ["Measurer", "rates"]

log = logging.getLogger("pyfrr_pwr.agent")


def rates(samples: dict, tx: dict, now: float, window: float, ports) -> dict:
    """Bits/s per interface over about ``window`` seconds, from cumulative
    tx byte counters; ``samples`` (ifname -> [(t, bytes)]) is updated."""
    used = {}
    for ifn, b in tx.items():
        if ifn not in ports:
            continue
        s = samples.setdefault(ifn, [])
        s.append((now, b))
        while len(s) > 2 and now - s[1][0] >= window:
            s.pop(0)
        if len(s) >= 2 and s[-1][0] > s[0][0]:
            used[ifn] = max(s[-1][1] - s[0][1], 0) * 8 / (s[-1][0] - s[0][0])
    return used


class Measurer:
    """``link_speed`` (ifname -> negotiated bits/s) is updated in place."""

    def __init__(self, cfg: PowerConfig, name: str, window: float, link_speed: dict):
        self.cfg = cfg
        self.name = name
        self.window = window
        self.link_speed = link_speed
        self.samples: dict = {}  # ifname -> list[(t, tx_bytes)]
        self.readers = self._readers()
        self._ipr = None
        self._polls = 0
        self._addrs: dict | None = None
        self._names: set = set()

    def _readers(self) -> dict:
        from pyfrr_pwr.telemetry.sensors import make_reader

        out = {}
        for name, c in self.cfg.line_cards.items():
            if c.power_reader:
                out[name] = make_reader(c.power_reader)
        for name, p in self.cfg.ports.items():
            if p.power_reader:
                out[name] = make_reader(p.power_reader)
        return out

    def netlink_snapshot(self) -> tuple[dict, dict]:
        """Interface addresses and tx byte counters (netlink, pyroute2). One
        socket kept open, one link dump per poll; addresses are re-read only
        every 20 polls or when the set of links changes."""
        from pyroute2 import IPRoute

        if self._ipr is None:
            self._ipr = IPRoute()
        ip = self._ipr
        tx, names = {}, {}
        for l in ip.get_links():
            n = l.get_attr("IFLA_IFNAME")
            names[l["index"]] = n
            st = l.get_attr("IFLA_STATS64")
            if st is not None and n in self.cfg.ports:
                tx[n] = st["tx_bytes"]
        self._polls += 1
        if self._addrs is None or self._polls % 20 == 0 or set(names.values()) != self._names:
            addrs = {}
            for a in ip.get_addr(family=2):
                n = names.get(a["index"])
                if n and n not in addrs:
                    addrs[n] = a.get_attr("IFA_ADDRESS")
            self._addrs, self._names = addrs, set(names.values())
            self.speeds()
        return self._addrs, tx

    def speeds(self) -> None:
        """Negotiated link speed (pyroute2's ethtool); the configured speed
        stays the capacity, a mismatch is logged once per value."""
        from pyroute2.ethtool import Ethtool

        try:
            et = Ethtool()
        except Exception as exc:  # no ethtool netlink family: nothing to compare
            log.debug("%s: ethtool unavailable: %s", self.name, exc)
            return
        try:
            for ifn, p in self.cfg.ports.items():
                try:
                    mbps = et.get_link_mode(ifn).speed
                except Exception:
                    continue
                if not mbps or mbps < 0:
                    continue
                bps = mbps * 1e6
                if self.link_speed.get(ifn) != bps and bps != p.speed:
                    log.warning("%s: %s runs at %g Mb/s, configured speed is %g Mb/s", self.name, ifn, mbps, p.speed / 1e6)
                self.link_speed[ifn] = bps
        finally:
            et.close()

    def watts(self) -> dict:
        out = {}
        for name, r in self.readers.items():
            w = r.read()
            if w is not None:
                out[name] = w
        return out

    async def run(self, core, emit: Callable[[list], None], interval: float) -> None:
        """Every ``interval`` s: addresses, rates and power into ``core``;
        ``emit`` queues the requests its evaluation returns."""
        while True:
            try:
                addrs, tx = await asyncio.to_thread(self.netlink_snapshot)
                now = time.monotonic()
                used = rates(self.samples, tx, now, self.window, self.cfg.ports)
                watts = self.watts()
                core.ifaddrs = addrs
                emit(core.set_measurements(used, watts, now))
            except Exception:
                log.exception("%s: measurement failed", self.name)
            await asyncio.sleep(interval)
