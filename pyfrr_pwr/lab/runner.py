"""Lab runner: containerlab topology files on network namespaces, no Docker.

One namespace per node (``clab-LAB-NODE``, containerlab's container names),
one veth pair per link (made with pyroute2 over netlink), the FRR daemons a
node's bound ``daemons`` file enables, each with its own pid file, zserv
socket, vty socket directory and log under ``/run/pyfrr-pwr/LAB/NODE``, and
our agent in every node that binds a power configuration. ``kind: linux``
nodes without FRR get their ``exec`` commands.

``down`` stops exactly the processes ``up`` started (pid plus process start
time, so a recycled pid is never killed), then whatever still runs inside
the lab's namespaces (a lab left half-up by a crash), and deletes the
namespaces. Labs with different names coexist.
"""
from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from pyroute2 import IPRoute, netns

from pyfrr_pwr.files.power import ConfigError
from pyfrr_pwr.files.topology import (
    DAEMONS_TARGET,
    FRR_CONF_TARGET,
    POWER_TARGET,
    Topology,
    load_topology,
)

__all__ = ["Lab", "LabError", "parse_daemons", "RUN_ROOT"]

log = logging.getLogger("pyfrr_pwr.lab")

RUN_ROOT = Path(os.environ.get("PYFRR_PWR_RUN", "/run/pyfrr-pwr"))
FRR_LIB = Path(os.environ.get("PYFRR_PWR_FRR_LIB", "/usr/lib/frr"))
FRR_DAEMONS = ("zebra", "ospfd", "staticd", "bgpd", "ospf6d", "ripd", "ripngd", "isisd", "pimd", "ldpd", "bfdd", "pathd", "pbrd", "vrrpd", "fabricd", "eigrpd", "babeld", "sharpd", "nhrpd")


# what an frr-kind node starts when its topology names no daemons (the
# routing daemons this project uses, not all twenty)
DEFAULT_FRR_KIND_DAEMONS = ("staticd", "ospfd", "ospf6d", "bgpd")


class LabError(RuntimeError):
    pass


def parse_daemons(path: Path) -> tuple[list, dict]:
    """Enabled daemons (FRR start order) and their ``*_options`` from an FRR
    ``daemons`` file (a shell fragment of plain assignments)."""
    enabled, options = [], {}
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    vals = {}
    for no, line in enumerate(lines, 1):
        s = line.strip()
        if not s or s.startswith("#") or "=" not in s:
            continue
        k, _, v = s.partition("=")
        try:
            parts = shlex.split(v, comments=True)
        except ValueError as exc:
            raise ConfigError(f"{path}:{no}: {k}: {exc}") from None
        vals[k.strip()] = parts[0] if parts else ""
    for d in FRR_DAEMONS:
        if vals.get(d, "no") == "yes":
            enabled.append(d)
        if f"{d}_options" in vals:
            options[d] = shlex.split(vals[f"{d}_options"])
    if enabled and "zebra" not in enabled:
        enabled.insert(0, "zebra")  # FRR's init always starts zebra
    return enabled, options


def _start_time(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _alive(pid: int, start: int | None) -> bool:
    st = _start_time(pid)
    return st is not None and (start is None or st == start)


def _ns_pids(ns: str) -> list[int]:
    r = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
    return [int(p) for p in r.stdout.split()] if r.returncode == 0 else []


@dataclass
class Node:
    name: str
    ns: str
    rundir: Path
    daemons: list = field(default_factory=list)
    options: dict = field(default_factory=dict)
    frr_conf: Path | None = None
    power: Path | None = None
    exec_cmds: list = field(default_factory=list)

    @property
    def frr(self) -> bool:
        return bool(self.daemons)

    def vtysh(self, *commands: str, timeout: float = 10) -> subprocess.CompletedProcess:
        args = ["vtysh", "--vty_socket", str(self.rundir)]
        for c in commands:
            args += ["-c", c]
        return subprocess.run(["ip", "netns", "exec", self.ns, *args], capture_output=True, text=True, timeout=timeout)


class Lab:
    def __init__(self, topology: str | Path, name: str | None = None, run_root: Path | None = None, validate_schema: bool = True):
        self.topo: Topology = load_topology(topology, validate_schema=validate_schema)
        self.name = name or self.topo.name
        self.root = (run_root or RUN_ROOT) / self.name
        self.state_file = self.root / "state.json"
        self.nodes: dict[str, Node] = {}
        for rname, r in self.topo.routers.items():
            n = Node(rname, f"clab-{self.name}-{rname}", self.root / rname)
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
            n.exec_cmds = list(r.settings.get("exec") or [])
            self.nodes[rname] = n

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
        st["procs"].append({"node": node, "what": what, "pid": pid, "start": _start_time(pid)})
        self._save_state(st)

    # -- up --------------------------------------------------------------

    def up(self, agents: bool = True, wait: bool = False, timeout: float = 60.0, progress=None) -> None:
        say = progress or (lambda msg: log.info("%s", msg))
        existing = set(netns.listnetns())
        clash = [n.ns for n in self.nodes.values() if n.ns in existing]
        if clash:
            raise LabError(f"lab {self.name} is (partly) up already: namespaces {', '.join(clash)} exist; run 'lab down' first")
        missing = [d for n in self.nodes.values() for d in n.daemons if not (FRR_LIB / d).exists()]
        if missing:
            raise LabError(f"FRR daemons not installed: {', '.join(sorted(set(missing)))} (apt-get install frr)")
        st = {"topology": str(self.topo.path.resolve()), "name": self.name, "procs": []}
        self._save_state(st)
        try:
            say(f"creating {len(self.nodes)} namespaces")
            for n in self.nodes.values():
                netns.create(n.ns)
                n.rundir.mkdir(parents=True, exist_ok=True)
                with IPRoute(netns=n.ns) as ip:
                    ip.link("set", index=ip.link_lookup(ifname="lo")[0], state="up")
                self._sysctl(n, "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
            say(f"wiring {len(self.topo.links)} links")
            self._links()
            for n in self.nodes.values():
                for cmd in n.exec_cmds if not n.frr else []:
                    r = subprocess.run(["ip", "netns", "exec", n.ns, "sh", "-c", cmd], capture_output=True, text=True)
                    if r.returncode:
                        raise LabError(f"{n.name}: exec {cmd!r} failed: {r.stderr.strip()}")
            say("starting FRR")
            for n in self.nodes.values():
                if n.frr:
                    self._start_frr(n, st)
            if agents:
                say("starting pyfrr-pwr agents")
                for n in self.nodes.values():
                    if n.power is not None and "ospfd" in n.daemons:
                        self._start_agent(n, st)
            for n in self.nodes.values():  # containerlab runs exec after the node is up
                for cmd in n.exec_cmds if n.frr else []:
                    subprocess.run(["ip", "netns", "exec", n.ns, "sh", "-c", cmd], capture_output=True, text=True)
        except Exception:
            self.down(quiet=True)
            raise
        if wait:
            say("waiting for OSPF to converge")
            self.wait_converged(timeout)

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
        """Start one FRR daemon in its node with the node's own pid file,
        vty and zserv sockets, config copy and log; record its pid."""
        pidf = n.rundir / f"{d}.pid"
        pidf.unlink(missing_ok=True)
        args = [
            str(FRR_LIB / d), "-d", "-i", str(pidf), "--vty_socket", str(n.rundir),
            "-f", str(n.rundir / "frr.conf"), "--log", f"file:{n.rundir / d}.log",
            "-z", str(n.rundir / "zserv.api"), *n.options.get(d, []),
        ]  # fmt: skip
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

    def _start_agent(self, n: Node, st: dict) -> int:
        sock = n.rundir / "agent.sock"
        logf = open(n.rundir / "agent.log", "ab")
        p = subprocess.Popen(
            ["ip", "netns", "exec", n.ns, sys.executable, "-m", "pyfrr_pwr.cli", "agent", "-c", str(n.power), "--socket", str(sock), "--name", n.name],
            stdout=logf,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        logf.close()
        self._record(st, n.name, "agent", p.pid)
        return p.pid

    def start_agent(self, node: str) -> int:
        st = self._load_state()
        return self._start_agent(self.nodes[node], st)

    def stop_process(self, node: str, what: str, sig: int = signal.SIGTERM) -> list[int]:
        """Signal one kind of process (e.g. 'agent', 'ospfd') of one node."""
        st = self._load_state()
        hit = []
        for p in st["procs"]:
            if p["node"] == node and p["what"] == what and _alive(p["pid"], p["start"]):
                os.kill(p["pid"], sig)
                hit.append(p["pid"])
        return hit

    def restart_daemon(self, node: str, daemon: str) -> int:
        return self._run_daemon(self.nodes[node], daemon, self._load_state())

    # -- down / status / exec ---------------------------------------------

    def down(self, quiet: bool = False) -> int:
        st = self._load_state()
        killed = 0
        procs = [p for p in st.get("procs", []) if _alive(p["pid"], p.get("start"))]
        for p in procs:
            try:
                os.kill(p["pid"], signal.SIGTERM)
                killed += 1
            except ProcessLookupError:
                pass
        end = time.monotonic() + 5
        while time.monotonic() < end and any(_alive(p["pid"], p.get("start")) for p in procs):
            time.sleep(0.05)
        for p in procs:
            if _alive(p["pid"], p.get("start")):
                os.kill(p["pid"], signal.SIGKILL)
        prefix = f"clab-{self.name}-"
        for ns in netns.listnetns():
            if ns.startswith(prefix) and ns[len(prefix):] in self.nodes:
                for pid in _ns_pids(ns):  # leftovers of a crashed or half-up lab
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
            procs = {p["what"]: _alive(p["pid"], p.get("start")) for p in st.get("procs", []) if p["node"] == n.name}
            info = {"namespace": n.ns, "up": n.ns in existing, "processes": procs}
            if n.ns in existing and "ospfd" in n.daemons and procs.get("ospfd"):
                info["ospf_full"] = self.full_neighbors(n)
                info["ospf_expected"] = self.expected_neighbors(n)
            out[n.name] = info
        return out

    def exec(self, node: str, argv: list[str], **kw) -> subprocess.CompletedProcess:
        if node not in self.nodes:
            raise LabError(f"no node {node!r} in lab {self.name} (nodes: {', '.join(self.nodes)})")
        n = self.nodes[node]
        if argv and argv[0] == "vtysh" and "--vty_socket" not in argv:
            argv = ["vtysh", "--vty_socket", str(n.rundir), *argv[1:]]
        return subprocess.run(["ip", "netns", "exec", n.ns, *argv], **kw)

    # -- convergence -------------------------------------------------------

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

    def wait_converged(self, timeout: float = 60.0) -> float:
        t0 = time.monotonic()
        left = {}
        while time.monotonic() - t0 < timeout:
            left = self.converged()
            if not left:
                return time.monotonic() - t0
            time.sleep(0.2)
        detail = ", ".join(f"{k}: {g}/{w} neighbors Full" for k, (g, w) in sorted(left.items()))
        raise LabError(f"lab {self.name}: OSPF not converged after {timeout:.0f}s ({detail})")
