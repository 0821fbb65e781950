"""The agent's own SRv6 SIDs in the kernel (issue 7): a thin shell over
``dataplane.netlink.Netlink`` around the pure ``agent.sidplan``.

``Srv6Node.start`` checks the node can do SRv6 (IPv6 and seg6 sysctls in
the kernel, the SID device ``sr0`` holding an address of the locator: the
lab or the operator makes it, see ``lab.addressing``) and installs the
plan's SIDs: End (node), End.DT6, End.X per adjacency, End.DX4 per
tail-end prefix. If the node cannot, it logs once, says why in
``status()["problems"]`` and the agent runs without SRv6 (``disabled``).

``sync`` (the daemon calls it every ``period`` s, on a worker thread)
re-reads the links and neighbours (from the agent's rtnetlink table,
``Measurer.srv6_inputs``, when it is given one: no dumps), installs SIDs
that became plannable, removes those that are no longer planned, and puts back what link events
flushed (admin-down flushes seg6local routes and nothing comes back:
``Netlink.reinstall_after_link_event`` per interface whose SIDs are gone).
``stop`` removes exactly what this instance installed (``remove_all``):
SIDs a killed predecessor left (same protocol number) are adopted at start
and so removed too; the SID device stays.

``advertised()`` is what the agent floods (``SidPlan.advertised()`` of the
SIDs it installed): End.X per link in the Link TLV, locator, End and
End.DX4 in the node LSA's SRv6 Locator TLV.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
import threading
from collections import Counter

from pyfrr_pwr.agent import sidplan
from pyfrr_pwr.dataplane import sids
from pyfrr_pwr.dataplane.netlink import NO_SEG6_LWT, Netlink, NetlinkError, SidRoute

__all__ = ["Srv6Node"]

log = logging.getLogger("pyfrr_pwr.agent.srv6")


class Srv6Node:
    def __init__(
        self, settings: sidplan.Srv6Settings, ports, te_tail: bool = False, netns: str | None = None, *, name: str = "agent", netlink=Netlink, inputs=None
    ):
        self.settings = settings
        self.ports = tuple(ports)
        self.te_tail = te_tail
        self.netns = netns
        self.name = name
        self._netlink = netlink
        # () -> LinkTable.srv6_inputs() or None: the agent's rtnetlink table
        # (Measurer.srv6_inputs) instead of four dumps a sync
        self.inputs = inputs
        self.nl: Netlink | None = None
        self.router_id: str | None = None
        self.plan: sids.SidPlan | None = None
        self.disabled: str | None = None  # why the node runs without SRv6
        self.problems: tuple = ()
        self.stats: Counter = Counter()
        self._logged: set = set()
        self._no_lwt = False  # in the last _apply the kernel refused a SID as an unsupported encapsulation
        self._lock = threading.RLock()  # start / sync / stop run on worker threads

    # -- helpers ---------------------------------------------------------------

    def _once(self, level: int, text: str) -> None:
        if text not in self._logged:
            self._logged.add(text)
            log.log(level, "%s: SRv6: %s", self.name, text)

    def _disable(self, why: str) -> bool:
        self.disabled = why
        self.stats["srv6_disabled"] += 1
        self._once(logging.WARNING, f"running without SRv6: {why}")
        if self.nl is not None:
            self.nl.close()
            self.nl = None
        return False

    def discover(self) -> tuple[dict, dict, dict]:
        """From the kernel: ({port: IPv4 address}, {port: neighbour IPv6},
        {other interface: [IPv4 "a/len", ...]}), read from ``inputs`` (the
        agent's rtnetlink table) or, without one or before its first dumps
        are done, from four dumps (``_dump``)."""
        got = self.inputs() if self.inputs is not None else None
        if got is None:
            got = self._dump()
            self.stats["srv6_dumps"] += 1
        names, up, v4, v6, neigh = got
        idx = {v: k for k, v in names.items()}
        links = {}
        nbr6 = {}
        for p in self.ports:
            if p not in idx or not v4.get(p):
                continue  # kept while admin-down: its End.X comes back by reinstall_after_link_event
            links[p] = v4[p][0].split("/")[0]
            # sorted: the kernel lists IPv6 addresses by scope, newest first
            # (net/ipv6/addrconf.c, ipv6_link_dev_addr), and neighbours by
            # hash bucket, neither the order it reported them in; sorted, a
            # dump and the event-fed table choose the same neighbour
            n = sidplan.neighbour_ipv6(sorted(v6.get(p, [])), sorted(neigh.get(p, [])))
            if n:
                nbr6[p] = n
        excl = {*self.ports, self.settings.sid_dev, f"{self.settings.sid_dev}p", "lo"}
        others = {k: v for k, v in v4.items() if k and k not in excl and idx.get(k) in up}
        return links, nbr6, others

    def _dump(self) -> tuple[dict, set, dict, dict, dict]:
        """``LinkTable.srv6_inputs`` from four dumps of the kernel."""
        ipr = self.nl.ipr
        dumped = list(ipr.get_links())  # one dump: decoding a link is ~0.5 ms of pyroute2 here
        names = {l["index"]: l.get_attr("IFLA_IFNAME") for l in dumped}
        up = {l["index"] for l in dumped if l["flags"] & 1}  # IFF_UP
        v4: dict = {}
        v6: dict = {}
        # IFA_LOCAL is our end of a point-to-point address, IFA_ADDRESS its
        # peer (linux/if_addr.h); without a peer the two are one
        for fam, out in ((socket.AF_INET, v4), (socket.AF_INET6, v6)):
            for m in ipr.get_addr(family=fam):
                out.setdefault(names.get(m["index"]), []).append(f"{m.get_attr('IFA_LOCAL') or m.get_attr('IFA_ADDRESS')}/{m['prefixlen']}")
        neigh: dict = {}
        try:
            for n in ipr.get_neighbours(family=socket.AF_INET6):
                a = n.get_attr("NDA_DST")
                if a:
                    neigh.setdefault(names.get(n["ifindex"]), []).append(a)
        except Exception:  # a kernel without IPv6 neighbours: derive
            pass
        return names, up, v4, v6, neigh

    def _plan(self) -> sidplan.PlanResult:
        links, nbr6, others = self.discover()
        return sidplan.plan(self.router_id, self.settings, links, nbr6, sidplan.attached_prefixes(others), self.te_tail)

    def _sid_dev_ok(self, plan: sids.SidPlan) -> str | None:
        ipr = self.nl.ipr
        idx = ipr.link_lookup(ifname=plan.sid_dev)
        if not idx:
            return f"no SID device {plan.sid_dev} (the always-up device holding locator {plan.locator})"
        for m in ipr.get_addr(family=socket.AF_INET6, index=idx[0]):
            if ipaddress.IPv6Address(m.get_attr("IFA_ADDRESS")) in plan.locator:
                return None
        return f"{plan.sid_dev} holds no address of locator {plan.locator}"

    # -- life cycle ----------------------------------------------------------------

    def start(self, router_id: str) -> bool:
        """Install our SIDs; False (and ``disabled`` says why) if the node
        runs without SRv6."""
        with self._lock:
            return self._start(router_id)

    def _start(self, router_id: str) -> bool:
        self.router_id = router_id
        if not self.settings.enabled:
            return self._disable("disabled in agent.srv6")
        try:
            self.nl = self._netlink(self.netns)
        except (NetlinkError, OSError) as exc:
            return self._disable(f"no rtnetlink: {exc}")
        try:
            lacking = [name for name, _, cur in self.nl.check_sysctls([], failover=False) if cur is None]
        except OSError as exc:
            return self._disable(f"cannot read sysctls: {exc}")
        if lacking:
            return self._disable(f"the kernel has no IPv6 / seg6 support (missing {', '.join(lacking)})")
        try:
            r = self._plan()
        except Exception as exc:
            return self._disable(f"cannot read links: {exc}")
        if r.plan is None:
            return self._disable("; ".join(r.problems) or "no SID plan")
        why = self._sid_dev_ok(r.plan)
        if why:
            return self._disable(why)
        if self.settings.enable_sysctls:
            try:
                self.nl.enable_seg6([*self.ports, r.plan.sid_dev], failover=False)
            except (NetlinkError, OSError) as exc:
                self._once(logging.WARNING, f"sysctls: {exc}")
        # SIDs an earlier agent left behind: ours to replace or remove
        left = [e for e in self.nl.find_installed() if isinstance(e, SidRoute)]
        if left:
            self.nl.adopt(left)
            self.stats["srv6_adopted"] += len(left)
        self.disabled = None
        self._apply(r)
        if self._no_lwt and not self.installed():
            return self._disable(NO_SEG6_LWT)
        log.info("%s: SRv6 locator %s, %d SIDs installed", self.name, r.plan.locator, len(self.installed()))
        return True

    def _apply(self, r: sidplan.PlanResult) -> bool:
        """Make the kernel hold exactly ``r.plan``'s SIDs; True if the set
        we advertise changed."""
        before = self.advertised()
        problems = list(r.problems)
        self._no_lwt = False  # what this round's refusals say, not an earlier one's
        if r.plan is not None:
            self.plan = r.plan
            want = {s.sid: s for s in r.plan.local_sids()}
            for e in [e for e in self.nl.installed() if isinstance(e, SidRoute)]:
                if want.get(e.sid.sid) != e.sid:
                    self.nl.remove_sid(e.sid, e.metric)
                    self.stats["srv6_sids_removed"] += 1
            have = {e.sid.sid for e in self.nl.installed() if isinstance(e, SidRoute)}
            for s in want.values():
                if s.sid in have:
                    continue
                try:
                    self.nl.add_sid(s)
                    self.stats["srv6_sids_added"] += 1
                except NetlinkError as exc:
                    problems.append(str(exc))
                    self.stats["srv6_sid_errors"] += 1
                    if exc.code == errno.EOPNOTSUPP:
                        self._no_lwt = True
        # link events: put back what the kernel flushed
        for dev in sorted({d for e in self.nl.missing() for d in e.devs}):
            try:
                n = len(self.nl.reinstall_after_link_event(dev))
                if n:
                    self.stats["srv6_reinstalled"] += n
                    log.info("%s: SRv6: %d SIDs on %s reinstalled after a link event", self.name, n, dev)
            except NetlinkError as exc:
                problems.append(str(exc))  # the device is still down: next round
        self.problems = tuple(problems)
        for p in problems:
            self._once(logging.INFO, p)
        return self.advertised() != before

    def sync(self) -> bool:
        """One round (see module docstring); True if ``advertised()`` changed."""
        with self._lock:
            if self.nl is None:
                return False
            return self._sync()

    def _sync(self) -> bool:
        try:
            return self._apply(self._plan())
        except (NetlinkError, OSError) as exc:
            self.stats["srv6_sync_errors"] += 1
            self.problems = (f"sync: {exc}",)
            self._once(logging.WARNING, f"sync failed: {exc}")
            return False

    def stop(self) -> int:
        """Remove exactly what we installed (or adopted); how many went."""
        with self._lock:
            if self.nl is None:
                return 0
            try:
                n = self.nl.remove_all()
                log.info("%s: SRv6: %d SIDs removed", self.name, n)
                return n
            finally:
                self.nl.close()
                self.nl = None

    # -- views ------------------------------------------------------------------

    def installed(self) -> list:
        return [e.sid for e in self.nl.installed() if isinstance(e, SidRoute)] if self.nl is not None else []

    def advertised(self) -> dict | None:
        """``SidPlan.advertised()`` restricted to the SIDs we installed."""
        with self._lock:
            return self._advertised()

    def _advertised(self) -> dict | None:
        if self.plan is None or self.nl is None:
            return None
        have = {s.sid for s in self.installed()}
        a = self.plan.advertised()
        if a["end"] not in have:
            return None
        a["end_x"] = {k: v for k, v in a["end_x"].items() if v in have}
        a["dx4"] = {k: v for k, v in a["dx4"].items() if v in have}
        if a.get("dt6") not in have:
            a.pop("dt6", None)
        return a

    def status(self) -> dict:
        with self._lock:
            return self._status()

    def _status(self) -> dict:
        return {
            "enabled": self.nl is not None and self.disabled is None,
            "disabled": self.disabled,
            "locator": str(self.plan.locator) if self.plan else None,
            "sids_installed": len(self.installed()),
            "sids": [s.describe() for s in self.installed()],
            "problems": list(self.problems),
            "stats": dict(self.stats),
        }
