"""Lab runner: containerlab topology files on network namespaces, no Docker.

One namespace per node (``clab-LAB-NODE``, containerlab's container names),
one veth pair per link (made with pyroute2 over netlink), an nftables
firewall in every FRR node (``firewall``: ospfd's API only from the node
itself, the agents' signalling only from the lab's routing domain), the FRR
daemons a node's bound ``daemons`` file enables (``daemons``), each with its
own pid file, zserv socket, vty socket directory and log under
``/run/pyfrr-pwr/LAB/NODE`` (owned by frr, which FRR needs), and our agent
in every node that binds a power configuration (``agents``), with its
control socket and log under ``/run/pyfrr-pwr/LAB/.agents/NODE`` (root,
0700: outside anything the frr user can rename or replace). ``kind: linux``
nodes without FRR get their ``exec`` commands, after the links are made.

IPv6 (issue 7, ``addressing``): DAD is off in every lab namespace (the lab
is a closed set of veths whose addresses the topology makes unique, and a
tentative address would hold up OSPFv3 and the hosts by a second or two);
an FRR node whose frr.conf gives ``interface sr0`` an ``ipv6 address`` (its
SRv6 locator, LOC::1/48) gets that always-up device, the SRv6 sysctls
(``Netlink.enable_seg6``) and ``ip sr tunsrc`` before FRR starts.

``up(wait=True)`` / ``wait_ready`` return once OSPF is Full everywhere,
every router's locator is routed in every other router running ospf6d, AND
every agent runs and reports, on its control socket, a router ID and a
session to ospfd (and a synced LSDB when its status says), and with
``paths=True`` (``lab up --wait``) once every TE head-end answers a path
to every TE tail-end of another area (``Readiness.wait_paths``); otherwise they
raise LabError naming the nodes and each failing agent's last log line.
``restart`` restarts one daemon or the agent of a node. ``down`` stops
exactly the processes ``up`` and ``restart`` started (pid plus process start
time, so a recycled pid is never killed), then whatever still runs inside
the lab's namespaces (a lab left half-up by a crash), and deletes the
namespaces. Labs with different names coexist.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from pyroute2 import IPRoute, netns

from pyfrr_pwr.files.topology import DAEMONS_TARGET, FRR_CONF_TARGET, POWER_TARGET, Topology, load_topology
from pyfrr_pwr.lab import firewall as fw
from pyfrr_pwr.lab.addressing import SID_DEVICE, ipv6_addresses, setup_sid_device, sid_address
from pyfrr_pwr.lab.agents import agent_argv
from pyfrr_pwr.lab.common import RUN_ROOT, LabError, alive, ns_pids, start_time, stop_pids
from pyfrr_pwr.lab.daemons import DEFAULT_FRR_KIND_DAEMONS, FRR_DAEMONS, FRR_LIB, daemon_argv, frr_version, parse_daemons
from pyfrr_pwr.lab.node import AGENTS_DIR, Node
from pyfrr_pwr.lab.readiness import Readiness
from pyfrr_pwr.lab.sites import Sites, stop_all

__all__ = ["Lab", "LabError", "Node", "parse_daemons", "RUN_ROOT", "FRR_LIB", "FRR_DAEMONS", "DEFAULT_FRR_KIND_DAEMONS"]

log = logging.getLogger("pyfrr_pwr.lab")


class Lab(Readiness):
    def __init__(self, topology: str | Path, name: str | None = None, run_root: Path | None = None, validate_schema: bool = True, firewall: bool = True):
        self.topo: Topology = load_topology(topology, validate_schema=validate_schema)
        self.name = name or self.topo.name
        self.root = (run_root or RUN_ROOT) / self.name
        self.state_file = self.root / "state.json"
        self.firewall = firewall
        self.nodes: dict[str, Node] = {}
        self._children: dict[int, subprocess.Popen] = {}  # agents this process started
        for rname, r in self.topo.routers.items():
            if rname == AGENTS_DIR:
                raise LabError(f"{self.topo.path}: a node may not be called {AGENTS_DIR!r}")
            n = Node(rname, f"clab-{self.name}-{rname}", self.root / rname, self.root / AGENTS_DIR / rname)
            if DAEMONS_TARGET in r.files:
                n.daemons, n.options = parse_daemons(r.files[DAEMONS_TARGET])
            n.frr_conf = r.files.get(FRR_CONF_TARGET)
            if n.frr_conf is None and r.settings.get("startup-config"):
                n.frr_conf = self.topo.path.parent / r.settings["startup-config"]
            if not n.daemons and (r.kind == "frr" or (n.frr_conf and "frrouting" in str(r.settings.get("image", "")))):
                # containerlab's frr kind: extras.frr.daemons, else every daemon
                wanted = ((r.settings.get("extras") or {}).get("frr") or {}).get("daemons")
                n.daemons = ["zebra", *[d for d in (wanted or DEFAULT_FRR_KIND_DAEMONS) if d != "zebra"]]
                n.options = {d: ["-A", "127.0.0.1"] + (["-a"] if d == "ospfd" else []) for d in n.daemons}
            n.power = r.files.get(POWER_TARGET)
            # absolute: agents and daemons do not run in the caller's directory
            n.power = Path(n.power).resolve() if n.power is not None else None
            n.frr_conf = Path(n.frr_conf).resolve() if n.frr_conf is not None else None
            n.exec_cmds = list(r.settings.get("exec") or [])
            if n.frr and n.frr_conf is not None:
                n.ipv6 = ipv6_addresses(n.frr_conf)
                n.locator = sid_address(n.ipv6)
            self.nodes[rname] = n

    def _node(self, node: str) -> Node:
        if node not in self.nodes:
            raise LabError(f"no node {node!r} in lab {self.name} (nodes: {', '.join(self.nodes)})")
        return self.nodes[node]

    # -- state -----------------------------------------------------------

    def _load_state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {"procs": []}

    def _save_state(self, st: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(st, indent=1))
        tmp.replace(self.state_file)

    def _record(self, st: dict, node: str, what: str, pid: int) -> None:
        """Record a started process; dead records of the same node and
        process are dropped (``down`` stops what the records say)."""
        st["procs"] = [p for p in st["procs"] if not (p["node"] == node and p["what"] == what and not alive(p["pid"], p.get("start")))]
        st["procs"].append({"node": node, "what": what, "pid": pid, "start": start_time(pid)})
        self._save_state(st)

    def _procs(self, st: dict, node: str, what: str) -> list[dict]:
        return [p for p in st.get("procs", []) if p["node"] == node and p["what"] == what]

    # -- up --------------------------------------------------------------

    def up(self, agents: bool = True, wait: bool = False, timeout: float = 60.0, progress=None, paths: bool = False) -> None:
        say = progress or (lambda msg: log.info("%s", msg))
        existing = set(netns.listnetns())
        clash = [n.ns for n in self.nodes.values() if n.ns in existing]
        if clash:
            raise LabError(f"lab {self.name} is (partly) up already: namespaces {', '.join(clash)} exist; run 'lab down' first")
        missing = [d for n in self.nodes.values() for d in n.daemons if not (FRR_LIB / d).exists()]
        if missing:
            raise LabError(f"FRR daemons not installed: {', '.join(sorted(set(missing)))} (apt-get install frr)")
        if self.firewall and any(n.frr for n in self.nodes.values()) and not fw.nft_available():
            raise LabError("nft not found: labs firewall ospfd's API with nftables (apt-get install nftables; or Lab(..., firewall=False))")
        st = {"topology": str(self.topo.path.resolve()), "name": self.name, "procs": []}
        self._save_state(st)
        try:
            say(f"creating {len(self.nodes)} namespaces")
            for n in self.nodes.values():
                netns.create(n.ns)
                n.rundir.mkdir(parents=True, exist_ok=True)
                with IPRoute(netns=n.ns) as ip:
                    ip.link("set", index=ip.link_lookup(ifname="lo")[0], state="up")
                # before the links arrive: a device moved in takes "default"
                self._sysctl(
                    n, "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"
                )
            say(f"wiring {len(self.topo.links)} links")
            self._links()
            sid_nodes = [n for n in self.nodes.values() if n.frr and n.locator is not None]
            if sid_nodes:
                say(f"making {SID_DEVICE} with the locator in {len(sid_nodes)} routers")
                for n in sid_nodes:
                    setup_sid_device(n.ns, n.locator)
            if self.firewall:  # before ospfd opens its API port
                say("loading firewall rules")
                for node, text in self.firewall_rules().items():
                    fw.apply(self.nodes[node].ns, text)
            for n in self.nodes.values():
                for cmd in n.exec_cmds if not n.frr else []:
                    r = subprocess.run(["ip", "netns", "exec", n.ns, "sh", "-c", cmd], capture_output=True, text=True)
                    if r.returncode:
                        raise LabError(f"{n.name}: exec {cmd!r} failed: {r.stderr.strip()}")
            say("starting FRR")
            for n in self.nodes.values():
                if n.frr:
                    self._start_frr(n, st)
            sites = Sites.of(self)  # compute sites' Redfish / MMS / feed servers (issue 9), before their agents poll
            if sites.plans:
                say(f"starting telemetry servers of {len(sites.plans)} compute sites")
                sites.start()
            if agents:
                say("starting pyfrr-pwr agents")
                for n in self.nodes.values():
                    if n.runs_agent:
                        self._wait_ospf_instance(n)
                        self._start_agent(n, st)
            for n in self.nodes.values():  # containerlab runs exec after the node is up
                for cmd in n.exec_cmds if n.frr else []:
                    subprocess.run(["ip", "netns", "exec", n.ns, "sh", "-c", cmd], capture_output=True, text=True)
        except Exception:
            self.down(quiet=True)
            raise
        if wait:
            self.wait_ready(timeout, progress=say, paths=paths and agents)

    def firewall_rules(self) -> dict:
        """{node: nftables ruleset} for every FRR node of the lab."""
        ospf = {n.name for n in self.nodes.values() if "ospfd" in n.daemons}
        ports = {}
        for name in ospf:
            pw = self.topo.routers[name].power
            if pw is not None and (pw.agent or {}).get("signal_port"):
                ports[name] = int(pw.agent["signal_port"])
        adm = fw.lab_admissions(self.topo, ospf, ports, ipv6={n.name: n.ipv6 for n in self.nodes.values()})
        first = next(iter(adm.values()), None)
        dom, dom6 = (first.domain4, first.domain6) if first else ((), ())
        return {n.name: fw.ruleset(adm.get(n.name) or fw.Admission(n.name, dom, domain6=dom6)) for n in self.nodes.values() if n.frr}

    def _sysctl(self, n: Node, *kv: str) -> None:
        for x in kv:
            subprocess.run(["ip", "netns", "exec", n.ns, "sysctl", "-q", "-w", x], capture_output=True)

    def _links(self) -> None:
        with IPRoute() as ipr:
            for i, l in enumerate(self.topo.links):
                ends = [l.a, l.b]
                tmp = [f"pw{os.getpid() % 10000}x{i}a", f"pw{os.getpid() % 10000}x{i}b"]
                ipr.link("add", ifname=tmp[0], kind="veth", peer={"ifname": tmp[1]})
                for (node, ifname), t in zip(ends, tmp):
                    if node not in self.nodes:
                        raise LabError(f"link {i + 1}: unknown node {node!r}")
                    ipr.link("set", index=ipr.link_lookup(ifname=t)[0], net_ns_fd=self.nodes[node].ns)
                    with IPRoute(netns=self.nodes[node].ns) as ip:
                        ip.link("set", index=ip.link_lookup(ifname=t)[0], ifname=ifname, state="up")

    def _start_frr(self, n: Node, st: dict) -> None:
        shutil.chown(n.rundir, "frr", "frr")
        conf = n.rundir / "frr.conf"
        if n.frr_conf is not None:
            shutil.copyfile(n.frr_conf, conf)
        else:
            conf.write_text(f"hostname {n.name}\n")
        shutil.chown(conf, "frr", "frr")
        for d in n.daemons:
            self._run_daemon(n, d, st)

    def _run_daemon(self, n: Node, d: str, st: dict) -> int:
        """Start one FRR daemon in its node; record its pid."""
        pidf = n.rundir / f"{d}.pid"
        pidf.unlink(missing_ok=True)
        args = daemon_argv(d, n.rundir, n.options.get(d, []), frr_version(FRR_LIB), FRR_LIB)
        r = subprocess.run(["ip", "netns", "exec", n.ns, *args], capture_output=True, text=True)
        if r.returncode:
            raise LabError(f"{n.name}: {d} failed to start: {(r.stderr or r.stdout).strip()[:400]}")
        pid = self._read_pid(pidf)
        self._record(st, n.name, d, pid)
        return pid

    @staticmethod
    def _read_pid(pidf: Path, timeout: float = 5.0) -> int:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                return int(pidf.read_text().strip())
            except (OSError, ValueError):
                time.sleep(0.02)
        raise LabError(f"no pid file {pidf}")

    @staticmethod
    def _wait_ospf_instance(n: Node, timeout: float = 30.0) -> bool:
        """Wait until the node's ospfd has read its configuration (``show ip
        ospf json`` names a router ID). FRR 8.4.4's ospfd takes API
        connections before that, and a REGISTER_OPAQUETYPE then crashes it
        (SIGSEGV in ospf_apiserver_notify_ready_type10: no ospf instance
        yet); an agent that starts in well under a second (issue 10) hit
        it. False (the agent starts anyway, and retries) at ``timeout``."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                r = n.vtysh("show ip ospf json", timeout=5)
                if json.loads(r.stdout or "{}").get("routerId"):
                    return True
            except (subprocess.TimeoutExpired, ValueError, OSError):
                pass
            time.sleep(0.05)
        log.warning("%s: ospfd shows no OSPF instance after %.0f s; starting the agent anyway", n.name, timeout)
        return False

    def _agent_dir(self, n: Node) -> None:
        """The agent's directory: root-owned 0700, in a root-owned 0700
        parent, so no other user can replace its socket or log."""
        for d in (n.agent_dir.parent, n.agent_dir):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
            st = os.lstat(d)
            if not os.path.isdir(d) or os.path.islink(d) or st.st_uid != os.geteuid():
                raise LabError(f"{d}: not a directory of ours")
            os.chmod(d, 0o700)

    def _start_agent(self, n: Node, st: dict) -> int:
        self._agent_dir(n)
        n.agent_socket.unlink(missing_ok=True)
        with open(n.agent_log, "ab") as logf:
            p = subprocess.Popen(
                ["ip", "netns", "exec", n.ns, *agent_argv(n.power, n.agent_socket, n.name)],
                cwd=n.agent_dir,  # never the caller's directory (a checkout there would shadow the install)
                stdout=logf,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self._children[p.pid] = p
        self._record(st, n.name, "agent", p.pid)
        return p.pid

    def start_agent(self, node: str) -> int:
        n = self._node(node)
        if not n.runs_agent:
            raise LabError(f"{node}: no agent here (no power configuration bound, or no ospfd)")
        return self._start_agent(n, self._load_state())

    def stop_process(self, node: str, what: str, sig: int = signal.SIGTERM) -> list[int]:
        """Signal one kind of process (e.g. 'agent', 'ospfd') of one node."""
        hit = []
        for p in self._procs(self._load_state(), node, what):
            if alive(p["pid"], p["start"]):
                os.kill(p["pid"], sig)
                hit.append(p["pid"])
        return hit

    def restart_daemon(self, node: str, daemon: str) -> int:
        """Start one FRR daemon of a node again (after stop_process)."""
        return self._run_daemon(self._node(node), daemon, self._load_state())

    def restart(self, node: str, what: str = "ospfd", wait: bool = False, timeout: float = 60.0) -> dict:
        """Stop (if running) and start again one FRR daemon of a node, or its
        agent ("agent"); {process: new pid}. Restarting zebra restarts every
        daemon of the node, zebra first (FRR's daemons do not survive a new
        zebra). With ``wait``, return once the lab is ready again."""
        n = self._node(node)
        if what == "agent":
            if not n.runs_agent:
                raise LabError(f"{node}: no agent here (no power configuration bound, or no ospfd)")
            order = ["agent"]
        elif what in n.daemons:
            order = list(n.daemons) if what == "zebra" else [what]
        else:
            raise LabError(f"{node}: cannot restart {what!r} (choose from: {', '.join([*n.daemons, *(['agent'] if n.runs_agent else [])])})")
        st = self._load_state()
        for d in reversed(order):
            stop_pids(self._procs(st, node, d))
        self._reap()
        out = {d: (self._start_agent(n, st) if d == "agent" else self._run_daemon(n, d, st)) for d in order}
        if wait:
            self.wait_ready(timeout)
        return out

    def _reap(self) -> None:
        for p in self._children.values():
            p.poll()  # reaps an exited agent; its status stays for messages

    # -- down / status / exec ---------------------------------------------

    def down(self, quiet: bool = False) -> int:
        killed = stop_all(self.root) + stop_pids(self._load_state().get("procs", []))
        self._reap()
        prefix = f"clab-{self.name}-"
        for ns in netns.listnetns():
            if ns.startswith(prefix) and ns[len(prefix) :] in self.nodes:
                for pid in ns_pids(ns):  # leftovers of a crashed or half-up lab
                    try:
                        os.kill(pid, signal.SIGKILL)
                        killed += 1
                    except ProcessLookupError:
                        pass
                netns.remove(ns)
        shutil.rmtree(self.root, ignore_errors=True)
        if not quiet:
            log.info("lab %s down (%d processes stopped)", self.name, killed)
        return killed

    def status(self) -> dict:
        st = self._load_state()
        existing = set(netns.listnetns())
        out = {}
        for n in self.nodes.values():
            procs = {p["what"]: alive(p["pid"], p.get("start")) for p in st.get("procs", []) if p["node"] == n.name}
            info = {"namespace": n.ns, "up": n.ns in existing, "processes": procs}
            if n.ns in existing and "ospfd" in n.daemons and procs.get("ospfd"):
                info["ospf_full"] = self.full_neighbors(n)
                info["ospf_expected"] = self.expected_neighbors(n)
            if n.ns in existing and n.name in {m.name for m in self.locator_nodes()} and procs.get("ospf6d"):
                info["locator"] = str(n.locator_net)
                info["locators_missing"] = self.missing_locators(n)
            if "agent" in procs:
                why = self._agent_problem(n, st)
                info["agent"] = {"socket": str(n.agent_socket), "ready": why is None, **({"problem": why} if why else {})}
            if n.ns in existing and n.frr and self.firewall:
                info["firewall_dropped"] = fw.counters(n.ns)
            out[n.name] = info
        return out

    def exec_env(self, node: str) -> dict:
        """What ``exec`` adds to a command's environment: the lab, the node
        and, where the node runs one, its agent's control socket (the CLI's
        default ``--socket``)."""
        n = self._node(node)
        env = {"PYFRR_PWR_LAB": self.name, "PYFRR_PWR_NODE": n.name}
        if n.runs_agent:
            env["PYFRR_PWR_SOCKET"] = str(n.agent_socket)
        return env

    def exec(self, node: str, argv: list[str], **kw) -> subprocess.CompletedProcess:
        n = self._node(node)
        if argv and argv[0] == "vtysh" and "--vty_socket" not in argv:
            argv = ["vtysh", "--vty_socket", str(n.rundir), *argv[1:]]
        env = dict(kw.pop("env", None) or os.environ)
        env.pop("PYFRR_PWR_SOCKET", None)  # never another node's agent
        env.update(self.exec_env(node))
        bindir = str(Path(sys.executable).parent)  # where pyfrr-pwr is installed
        if bindir not in env.get("PATH", "").split(os.pathsep):
            env["PATH"] = os.pathsep.join(x for x in (env.get("PATH"), bindir) if x)
        return subprocess.run(["ip", "netns", "exec", n.ns, *argv], env=env, **kw)
