"""Convergence and readiness of a lab (a mixin of ``Lab``): OSPF Full on
every adjacency, then every router's SRv6 locator routed in every other
router (OSPFv3, inter-area included), then every agent the lab started
running and ready.

Locators: every node that runs ospf6d and has a locator (``sr0``'s address
in its frr.conf, ``addressing``) must hold a route covering every other such
node's locator in its kernel's main IPv6 table (read over netlink). Measured
on the project's shared 2-core machines (tests/test_lab_ipv6.py prints it):
1-1.5 s after OSPF is Full on fig-2-1-7 (8 routers, 2 areas; 7-10 s after
``up`` began), about 1 s after on fig-2-0 (23 routers, 3 areas; about 18 s),
about 5 s after a zebra restart (which restarts ospf6d too).

"Ready" is ``agents.agent_ready`` on the agent's answer to ``{"cmd":
"status"}`` on its control socket: a router ID, a session to ospfd's API,
and a synced LSDB when the status reports "synced". A dead agent fails a
wait at once; every failure names the nodes and the last line of each
failing agent's log.

Paths (issue 10, ``wait_paths``; ``lab up --wait`` does it, ``Lab.up(...,
paths=True)``): OSPF Full and synced agents are not yet a lab that answers;
the ABRs' vectors take a few more seconds to flood (2.6-4.6 s on fig-2-0).
So the wait goes on until every TE head-end's agent answers a path query
(``{"cmd": "path"}``, draft sec. 2.2) to every TE tail-end that shares no
area with it; one that has none names the pairs still unanswered.
"""

from __future__ import annotations

import json
import logging
import subprocess
import time

from pyfrr_pwr.lab.addressing import ipv6_routes
from pyfrr_pwr.lab.agents import agent_ready, agent_request, last_log_line
from pyfrr_pwr.lab.common import LabError, alive
from pyfrr_pwr.lab.node import Node

__all__ = ["Readiness"]

log = logging.getLogger("pyfrr_pwr.lab")


class Readiness:
    """Needs ``name``, ``topo``, ``nodes``, ``_load_state``, ``_procs`` and
    ``_children`` (the agents' Popen objects, for their exit status)."""

    def expected_neighbors(self, n: Node) -> int:
        count = 0
        for l in self.topo.links:
            for (a, _), (b, _) in ((l.a, l.b), (l.b, l.a)):
                if a == n.name and b in self.nodes and "ospfd" in self.nodes[b].daemons:
                    count += 1
        return count

    def full_neighbors(self, n: Node) -> int:
        try:
            r = n.vtysh("show ip ospf neighbor json", timeout=5)
            data = json.loads(r.stdout or "{}")
        except (subprocess.TimeoutExpired, ValueError):
            return 0
        nbrs = data.get("neighbors", data)
        full = 0
        for v in nbrs.values() if isinstance(nbrs, dict) else []:
            for e in v if isinstance(v, list) else [v]:
                if isinstance(e, dict) and str(e.get("nbrState", e.get("state", ""))).startswith("Full"):
                    full += 1
        return full

    def converged(self) -> dict:
        """Nodes not yet converged: name -> (full, expected)."""
        out = {}
        for n in self.nodes.values():
            if "ospfd" in n.daemons:
                want, got = self.expected_neighbors(n), self.full_neighbors(n)
                if got < want:
                    out[n.name] = (got, want)
        return out

    def wait_converged(self, timeout: float = 60.0, _check=None) -> float:
        """Wait until every OSPF adjacency is Full (``_check`` runs each
        round and may raise)."""
        t0 = time.monotonic()
        left = {}
        while time.monotonic() - t0 < timeout:
            if _check:
                _check()
            left = self.converged()
            if not left:
                return time.monotonic() - t0
            time.sleep(0.2)
        detail = ", ".join(f"{k}: {g}/{w} neighbors Full" for k, (g, w) in sorted(left.items()))
        raise LabError(f"lab {self.name}: OSPF not converged after {timeout:.0f}s ({detail})")

    def locator_nodes(self) -> list[Node]:
        """The routers that run ospf6d and own a locator."""
        return [n for n in self.nodes.values() if "ospf6d" in n.daemons and n.locator is not None]

    def missing_locators(self, n: Node) -> list[str]:
        """The routers whose locator ``n``'s kernel does not route yet (a
        route to the /48 or to a prefix covering it, ::/0 aside)."""
        try:
            routes = [r for r in ipv6_routes(n.ns) if r.prefixlen > 0]
        except OSError:
            routes = []
        return [m.name for m in self.locator_nodes() if m.name != n.name and not any(m.locator_net.subnet_of(r) for r in routes)]

    def locators_unreachable(self) -> dict:
        """{router: [routers whose locator it does not route yet]}."""
        out = {}
        for n in self.locator_nodes():
            miss = self.missing_locators(n)
            if miss:
                out[n.name] = miss
        return out

    def wait_locators(self, timeout: float = 60.0, _check=None) -> float:
        """Wait until every router routes every other router's locator
        (``_check`` runs each round and may raise); the seconds it took."""
        t0 = time.monotonic()
        left = {}
        while time.monotonic() - t0 < timeout:
            if _check:
                _check()
            left = self.locators_unreachable()
            if not left:
                return time.monotonic() - t0
            time.sleep(0.2)
        detail = "; ".join(f"{k} lacks {', '.join(v)}" for k, v in sorted(left.items()))
        raise LabError(f"lab {self.name}: locators not reachable after {timeout:.0f}s (ospf6d; {detail})")

    def _agent_dead(self, n: Node, st: dict) -> str | None:
        recs = self._procs(st, n.name, "agent")
        if recs and any(alive(p["pid"], p.get("start")) for p in recs):
            return None
        p = self._children.get(recs[-1]["pid"]) if recs else None
        rc = p.poll() if p is not None else None
        if rc is None:
            return "not running"
        return f"not running (killed by signal {-rc})" if rc < 0 else f"not running (exited with status {rc})"

    def _agent_problem(self, n: Node, st: dict) -> str | None:
        """None if the node's agent is running and ready, else why not."""
        dead = self._agent_dead(n, st)
        if dead:
            return dead
        try:
            res = agent_request(n.agent_socket, {"cmd": "status"}, timeout=2.0)
        except (OSError, ValueError) as exc:
            return f"control socket {n.agent_socket} does not answer ({getattr(exc, 'strerror', None) or exc})"
        return agent_ready(res) if isinstance(res, dict) else f"status is {res!r}"

    def _agent_nodes(self, st: dict) -> list[Node]:
        return [self.nodes[x] for x in dict.fromkeys(p["node"] for p in st.get("procs", []) if p["what"] == "agent") if x in self.nodes]

    def _agents_error(self, bad: dict, why: str) -> LabError:
        parts = []
        for node, problem in sorted(bad.items()):
            line = last_log_line(self.nodes[node].agent_log)
            parts.append(f"{node}: {problem}; last log line: {line!r}" if line else f"{node}: {problem}; its log is empty")
        return LabError(f"lab {self.name}: {why}: {' | '.join(parts)} (the lab stays up for inspection; 'lab down' removes it)")

    def agents_not_ready(self) -> dict:
        """{node: what is wrong} for every agent the lab started."""
        st = self._load_state()
        out = {}
        for n in self._agent_nodes(st):
            why = self._agent_problem(n, st)
            if why:
                out[n.name] = why
        return out

    def path_pairs(self) -> list[tuple[str, str, str]]:
        """(head-end node, tail-end node, tail-end router ID) for every TE
        head-end with an agent and every TE tail-end in none of its areas."""
        rs = self.topo.routers
        heads = [r for r in rs.values() if r.power is not None and r.power.te_head and r.router_id and self.nodes[r.name].runs_agent]
        tails = [r for r in rs.values() if r.power is not None and r.power.te_tail and r.router_id]
        return [(h.name, t.name, t.router_id) for h in heads for t in tails if h is not t and not (h.areas & t.areas)]

    def paths_unanswered(self, pairs=None) -> list[tuple[str, str]]:
        """The (head-end, tail-end) pairs whose head-end's agent does not
        answer a path query with a path yet."""
        out = []
        for h, t, rid in self.path_pairs() if pairs is None else pairs:
            try:
                agent_request(self.nodes[h].agent_socket, {"cmd": "path", "to": rid}, timeout=5.0)
            except (OSError, ValueError):
                out.append((h, t))
        return out

    def wait_paths(self, timeout: float = 60.0, _check=None) -> float:
        """Wait until every head-end answers a path to every tail-end of
        another area (``path_pairs``); the seconds it took."""
        t0 = time.monotonic()
        left = self.path_pairs()
        while True:
            if _check:
                _check()
            bad = set(self.paths_unanswered(left))  # an answered pair is not asked again
            left = [p for p in left if (p[0], p[1]) in bad]
            if not left:
                return time.monotonic() - t0
            if time.monotonic() - t0 >= timeout:
                break
            time.sleep(0.05)
        detail = ", ".join(f"{h} -> {t}" for h, t, _ in left[:10]) + (f" and {len(left) - 10} more" if len(left) > 10 else "")
        raise LabError(f"lab {self.name}: head-ends answer no path after {timeout:.0f}s: {detail}")

    def wait_ready(self, timeout: float = 60.0, progress=None, paths: bool = False) -> float:
        """Wait until OSPF is Full everywhere, every locator is routed
        everywhere (``wait_locators``) and every agent the lab
        started runs and is ready (``agent_ready``), and with ``paths``
        until every head-end answers its inter-area path queries
        (``wait_paths``); raise LabError naming the nodes and their agents'
        last log lines at once if an agent dies, or at ``timeout`` (seconds,
        for all together)."""
        say = progress or (lambda msg: log.info("%s", msg))
        t0 = time.monotonic()

        def no_dead():
            st = self._load_state()
            dead = {n.name: why for n in self._agent_nodes(st) if (why := self._agent_dead(n, st))}
            if dead:
                raise self._agents_error(dead, "agent not running")

        say("waiting for OSPF to converge")
        self.wait_converged(timeout, _check=no_dead)
        if self.locator_nodes():
            say("waiting for every locator in every router's IPv6 routes")
            self.wait_locators(max(1.0, timeout - (time.monotonic() - t0)), _check=no_dead)
        say("waiting for the agents")
        while True:
            no_dead()
            bad = self.agents_not_ready()
            if not bad:
                break
            if time.monotonic() - t0 >= timeout:
                raise self._agents_error(bad, f"agents not ready after {timeout:.0f}s")
            time.sleep(0.2)
        if paths and self.path_pairs():
            say("waiting for every head-end to answer its inter-area path queries")
            self.wait_paths(max(1.0, timeout - (time.monotonic() - t0)), _check=no_dead)
        return time.monotonic() - t0
