"""Issue 11, sections 3 and 4: the lab's firewall around ospfd's API (2607)
and the agents' signalling (2700), FRR version detection and the
--apiserver_addr option, agents that start whatever the caller's directory,
a --wait that fails when an agent is not ready, restarts, and `lab exec`'s
environment.

The pure tests (rulesets, version parsing, command lines) run anywhere. The
``frr`` tests need root, FRR, nftables and network namespaces; their labs
are called h6-* and are always taken down."""

import json
import os
import stat
import subprocess
import sys
import textwrap

import pytest
from conftest import ROOT
from helpers import wait_for

from pyfrr_pwr.files.topology import load_topology
from pyfrr_pwr.lab import firewall as fw
from pyfrr_pwr.lab.agents import AGENT_MAIN, agent_argv, agent_ready, agent_request, last_log_line
from pyfrr_pwr.lab.common import alive
from pyfrr_pwr.lab.daemons import apiserver_addr_supported, daemon_argv, parse_frr_version
from pyfrr_pwr.lab.runner import RUN_ROOT, Lab, LabError, parse_daemons  # noqa: F401 (the old import still works)

# -- a small lab: r1 - r2 - r3, and h1 on r2 (a host, outside the routing domain) --

R1, R2, R3 = "10.250.255.1", "10.250.255.2", "10.250.255.3"
R1_ETH1, R2_ETH1, R2_ETH2, H1 = "10.250.1.0", "10.250.1.1", "10.250.3.1", "10.250.3.2"
ROUTERS = ("r1", "r2", "r3")

CLAB = """\
name: h6-hard
topology:
  kinds:
    linux:
      image: quay.io/frrouting/frr:8.4.1
  nodes:
    r1:
      kind: linux
      binds: [r1/frr.conf:/etc/frr/frr.conf, r1/daemons:/etc/frr/daemons, r1/power.yml:/etc/pyfrr-pwr/power.yml]
    r2:
      kind: linux
      binds: [r2/frr.conf:/etc/frr/frr.conf, r2/daemons:/etc/frr/daemons, r2/power.yml:/etc/pyfrr-pwr/power.yml]
    r3:
      kind: linux
      binds: [r3/frr.conf:/etc/frr/frr.conf, r3/daemons:/etc/frr/daemons, r3/power.yml:/etc/pyfrr-pwr/power.yml]
    h1:
      kind: linux
      image: alpine:3.19
      exec:
        - ip addr add 10.250.3.2/24 dev eth1
        - ip route add default via 10.250.3.1
  links:
    - endpoints: ["r1:eth1", "r2:eth1"]
    - endpoints: ["r2:eth2", "h1:eth1"]
    - endpoints: ["r2:eth3", "r3:eth1"]
"""

OSPF = " capability opaque\n timers throttle spf 0 50 1000\n timers throttle lsa all 0\n"
P2P = " ip ospf network point-to-point\n ip ospf hello-interval 1\n ip ospf dead-interval 4\n"
CONF = {
    "r1": f"hostname r1\ninterface eth1\n ip address {R1_ETH1}/31\n ip ospf area 0.0.0.0\n{P2P}exit\n"
    f"interface lo\n ip address {R1}/32\n ip ospf area 0.0.0.0\nexit\nrouter ospf\n ospf router-id {R1}\n{OSPF}exit\n",
    "r2": f"hostname r2\ninterface eth1\n ip address {R2_ETH1}/31\n ip ospf area 0.0.0.0\n{P2P}exit\n"
    f"interface eth2\n ip address {R2_ETH2}/24\n ip ospf area 0.0.0.0\n ip ospf passive\nexit\n"
    f"interface eth3\n ip address 10.250.2.0/31\n ip ospf area 0.0.0.0\n{P2P}exit\n"
    f"interface lo\n ip address {R2}/32\n ip ospf area 0.0.0.0\nexit\nrouter ospf\n ospf router-id {R2}\n{OSPF}exit\n",
    "r3": f"hostname r3\ninterface eth1\n ip address 10.250.2.1/31\n ip ospf area 0.0.0.0\n{P2P}exit\n"
    f"interface lo\n ip address {R3}/32\n ip ospf area 0.0.0.0\nexit\nrouter ospf\n ospf router-id {R3}\n{OSPF}exit\n",
}


def power_yml(node: str, agent: dict | None = None) -> str:
    y = f"router: {node}\nbase_speed: 10G\nports:\n  eth1:\n    speed: 10G\n    available: 10G\n    power_w: 0.5\nksp:\n  k: 4\n"
    agent = {"signal_key": "pwr-lab-only-signal-key-not-secret", **(agent or {})}  # lab-only key
    y += "agent:\n" + "".join(f"  {k}: {v}\n" for k, v in agent.items())
    return y


def make_topology(d, agent_r1: dict | None = None):
    d.mkdir(parents=True, exist_ok=True)
    (d / "h6.clab.yml").write_text(CLAB)
    for n in ROUTERS:
        (d / n).mkdir(exist_ok=True)
        (d / n / "frr.conf").write_text(CONF[n])
        (d / n / "daemons").write_text((ROOT / "frr-config/daemons").read_text())
        (d / n / "power.yml").write_text(power_yml(n, agent_r1 if n == "r1" else None))
    return d / "h6.clab.yml"


# -- pure: FRR version, daemon command lines ---------------------------------


@pytest.mark.parametrize(
    "text, version",
    [
        ("ospfd version 8.4.4\nCopyright 1996-2005 Kunihiro Ishiguro, et al.\nconfigured with: ...", (8, 4, 4)),
        ("FRRouting 10.1.1 (r1) on Linux(6.1.0-18-amd64).\nCopyright 1996-2005 ...", (10, 1, 1)),
        ("vtysh version 10.1-dev", (10, 1, 0)),
        ("zebra version 9.1_git", (9, 1, 0)),
        ("ospfd: unrecognized option", None),
        ("", None),
    ],
)
def test_parse_frr_version(text, version):
    assert parse_frr_version(text) == version


def test_apiserver_addr_from_10_1_on():
    assert not apiserver_addr_supported((8, 4, 4))
    assert not apiserver_addr_supported((10, 0, 5))
    assert not apiserver_addr_supported(None)  # unknown: do not pass an option ospfd may reject
    assert apiserver_addr_supported((10, 1, 0)) and apiserver_addr_supported((11, 0, 0))


def test_ospfd_command_line_both_ways(tmp_path):
    opts = ["-A", "127.0.0.1", "-a"]
    old = daemon_argv("ospfd", tmp_path, opts, (8, 4, 4), tmp_path / "lib")
    new = daemon_argv("ospfd", tmp_path, opts, (10, 1, 0), tmp_path / "lib")
    assert old == [
        str(tmp_path / "lib/ospfd"), "-d", "-i", str(tmp_path / "ospfd.pid"), "--vty_socket", str(tmp_path),
        "-f", str(tmp_path / "frr.conf"), "--log", f"file:{tmp_path / 'ospfd.log'}", "-z", str(tmp_path / "zserv.api"),
        "-A", "127.0.0.1", "-a",
    ]  # fmt: skip
    assert "--apiserver_addr" not in old
    assert new == [*old, "--apiserver_addr", "127.0.0.1"]
    # an address chosen in the daemons file wins; no API server, no option; other daemons untouched
    assert daemon_argv("ospfd", tmp_path, [*opts, "-l", "10.0.0.1"], (10, 1, 0)).count("-l") == 1
    assert "--apiserver_addr" not in daemon_argv("ospfd", tmp_path, ["-A", "127.0.0.1"], (10, 1, 0))
    assert "--apiserver_addr" not in daemon_argv("zebra", tmp_path, ["-A", "127.0.0.1", "-a"], (10, 1, 0))


def test_frr_config_daemons_enables_the_api():
    assert parse_daemons(ROOT / "frr-config/daemons")[1]["ospfd"][-1] == "-a"


# -- pure: firewall rulesets ---------------------------------------------------


def rule_lines(text: str) -> list[str]:
    """The statements inside the chains, and the counters' names."""
    out, chain = [], False
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("chain "):
            chain = True
        elif s == "}":
            chain = False
        elif chain or s.startswith("counter ") and s.endswith("{"):
            out.append(s)
    return out


def test_ruleset_admits_api_from_lo_and_signal_from_domain_links_only():
    adm = fw.Admission("r2", ("10.250.1.0/31", "10.250.255.1/32", "10.250.255.2"), ("eth1",))
    text = fw.ruleset(adm)
    rules = rule_lines(text)
    i = rules.index
    assert rules[i('iif "lo" tcp dport { 2607, 2700 } accept')] is not None
    # order matters: lo first, then 2607 dropped for everyone else
    assert i('iif "lo" tcp dport { 2607, 2700 } accept') < i('tcp dport 2607 counter name "api_dropped" drop')
    assert i("tcp dport 2700 iifname @domain_ifaces ip saddr @domain4 accept") < i('tcp dport 2700 counter name "signal_dropped" drop')
    assert "elements = { 10.250.1.0/31, 10.250.255.1, 10.250.255.2 }" in text
    assert 'elements = { "eth1" }' in text
    assert text.splitlines()[2:4] == ["table inet pyfrr_pwr", "delete table inet pyfrr_pwr"]  # replaces only its table
    assert "flush ruleset" not in text and "policy drop" not in text
    # nothing accepted by address alone: every accept of 2700 also needs a domain interface
    assert all("@domain_ifaces" in r for r in rules if "2700" in r and r.endswith("accept") and "lo" not in r)


def test_ruleset_empty_sets_ports_and_bad_input():
    text = fw.ruleset(fw.Admission("x", (), (), signal_port=2800, api_port=2607))
    assert "elements" not in text and "tcp dport 2800 counter name" in text
    assert "10.0.0.0/30" in fw.ruleset(fw.Admission("x", ("10.0.0.0/31", "10.0.0.2/31")))  # collapsed, no overlap for nft
    with pytest.raises(ValueError, match="API port"):
        fw.ruleset(fw.Admission("x", signal_port=2607))
    with pytest.raises(ValueError, match="interface"):
        fw.ruleset(fw.Admission("x", domain_ifaces=('eth1" accept',)))
    with pytest.raises(ValueError):
        fw.ruleset(fw.Admission("x", domain4=("2001:db8::/32",)))


def test_lab_domain_is_router_ids_and_inter_router_links(tmp_path):
    topo = load_topology(make_topology(tmp_path), validate_schema=False)
    adm = fw.lab_admissions(topo, set(ROUTERS))
    assert adm["r1"].domain4 == adm["r3"].domain4 == ("10.250.1.0/31", "10.250.2.0/31", "10.250.255.1/32", "10.250.255.2/32", "10.250.255.3/32")
    assert adm["r1"].domain_ifaces == ("eth1",) and adm["r2"].domain_ifaces == ("eth1", "eth3")  # not eth2, towards h1
    lab = Lab(tmp_path / "h6.clab.yml", name="h6-pure", validate_schema=False)
    rules = lab.firewall_rules()
    assert set(rules) == set(ROUTERS)  # h1 runs no FRR
    assert rule_lines(rules["r1"]) == rule_lines(fw.ruleset(adm["r1"]))


@pytest.mark.parametrize("fig", ["fig-2-0", "fig-2-1-1", "fig-2-1-7"])
def test_shipped_labs_admit_signalling_between_all_their_routers(fig):
    """Reservations travel agent to agent over routed paths, sourced from an
    egress link address: in the shipped labs every router-router interface
    must be a domain interface and every router address in the domain."""
    import ipaddress

    lab = Lab(ROOT / f"containerlab/{fig}.clab.yml", name="h6-pure", validate_schema=False)
    ospf = {n for n, x in lab.nodes.items() if "ospfd" in x.daemons}
    adm = fw.lab_admissions(lab.topo, ospf)
    dom = [ipaddress.ip_network(p) for p in next(iter(adm.values())).domain4]
    for l in lab.topo.links:
        ends = [l.a, l.b]
        if all(n in ospf for n, _ in ends):
            for n, ifn in ends:
                assert ifn in adm[n].domain_ifaces, (n, ifn)
                a = lab.topo.routers[n].interfaces[ifn].address
                assert a is not None and any(a.ip in d for d in dom), (n, ifn)
        else:  # a host's link: not a way in
            for n, ifn in ends:
                assert n not in ospf or ifn not in adm[n].domain_ifaces
    for n in ospf:
        assert any(ipaddress.ip_address(lab.topo.routers[n].router_id) in d for d in dom)


def test_shipped_nft_file_has_the_labs_policy():
    shipped = (ROOT / "frr-config/pyfrr-pwr.nft").read_text()
    assert rule_lines(shipped) == rule_lines(fw.ruleset(fw.Admission("ROUTER", ("192.0.2.0/24",), ("eth1",))))
    for name in ("PYFRR_PWR_DOMAIN4", "PYFRR_PWR_DOMAIN6", "PYFRR_PWR_DOMAIN_IFACES"):
        assert f"define {name} =" in shipped and f"${name}" in shipped
    unit = (ROOT / "frr-config/pyfrr-pwr-agent.service").read_text()
    assert "pyfrr-pwr.nft" in unit
    for line in ("Restart=on-failure", "RestartSec=2", "StartLimitIntervalSec=60", "StartLimitBurst=5"):
        assert line in unit.splitlines()


# -- pure: agent command line, readiness, node paths ---------------------------


def test_agent_command_line_ignores_the_callers_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = agent_argv("power.yml", "s/agent.sock", "r1", python="/venv/bin/python")
    assert argv[:5] == ["/venv/bin/python", "-P", "-c", AGENT_MAIN, "agent"]
    assert argv[argv.index("-c", 5) + 1] == str(tmp_path / "power.yml")  # absolute: the agent runs elsewhere
    assert argv[argv.index("--socket") + 1] == str(tmp_path / "s/agent.sock")


def test_agent_ready():
    ok = {"router_id": R1, "connected": True}
    assert agent_ready(ok) is None
    assert agent_ready({**ok, "synced": True}) is None
    assert "synced" in agent_ready({**ok, "synced": False})
    assert "router ID" in agent_ready({**ok, "router_id": None})
    assert "connected" in agent_ready({**ok, "connected": False})


def test_last_log_line(tmp_path):
    p = tmp_path / "agent.log"
    assert last_log_line(p) == ""
    p.write_text("one\nOSError: [Errno 98] address already in use\n\n  \n")
    assert last_log_line(p) == "OSError: [Errno 98] address already in use"


def test_agent_socket_outside_frrs_directory_and_exec_env(tmp_path):
    lab = Lab(make_topology(tmp_path), name="h6-pure", validate_schema=False)
    r1 = lab.nodes["r1"]
    assert r1.agent_socket == RUN_ROOT / "h6-pure/.agents/r1/agent.sock"
    assert r1.rundir not in r1.agent_socket.parents  # the frr user owns rundir and could rename in it
    assert lab.exec_env("r1") == {"PYFRR_PWR_LAB": "h6-pure", "PYFRR_PWR_NODE": "r1", "PYFRR_PWR_SOCKET": str(r1.agent_socket)}
    assert lab.exec_env("h1") == {"PYFRR_PWR_LAB": "h6-pure", "PYFRR_PWR_NODE": "h1"}
    with pytest.raises(LabError, match="cannot restart 'bgpd'"):
        lab.restart("r1", "bgpd")
    with pytest.raises(LabError, match="no node"):
        lab.restart("nope", "agent")


# -- on real FRR ---------------------------------------------------------------

CONNECT = textwrap.dedent(
    """
    import socket, sys
    dst, port, src, timeout = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    s = socket.socket()
    s.settimeout(timeout)
    if src != "-":
        s.setsockopt(socket.IPPROTO_IP, 15, 1)  # IP_FREEBIND: any source, even one not ours
        s.bind((src, 0))
    try:
        s.connect((dst, port))
        print("connected")
    except socket.timeout:
        print("timeout")
    except OSError as e:
        print("error", e.errno)
    """
)


def connect(lab, node, dst, port, src="-", timeout=1.5) -> str:
    r = lab.exec(node, [sys.executable, "-P", "-c", CONNECT, dst, str(port), src, str(timeout)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def status(lab, node):
    return agent_request(lab.nodes[node].agent_socket, {"cmd": "status"})


def live(lab, node, what):
    return [p["pid"] for p in lab._load_state()["procs"] if p["node"] == node and p["what"] == what and alive(p["pid"], p["start"])]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    base = tmp_path_factory.mktemp("h6hard")
    clab = make_topology(base / "topo")
    # the caller's directory holds a package called pyfrr_pwr that must never be imported by an agent
    caller = base / "caller"
    (caller / "pyfrr_pwr/cli").mkdir(parents=True)
    marker = base / "fake-imported"
    (caller / "pyfrr_pwr/__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\nraise SystemExit('fake pyfrr_pwr imported')\n")
    (caller / "pyfrr_pwr/cli/__init__.py").write_text("")
    (caller / "pyfrr_pwr/cli/__main__.py").write_text("raise SystemExit('fake cli')\n")
    lab = Lab(clab, name="h6-hard", validate_schema=False)
    lab.down(quiet=True)
    here = os.getcwd()
    os.chdir(caller)
    try:
        lab.up(wait=True, timeout=60)
    except BaseException:
        lab.down(quiet=True)
        raise
    finally:
        os.chdir(here)
    lab.caller, lab.marker = caller, marker
    try:  # Full is not yet routed: wait for SPF (as test_lab does)
        wait_for(lambda: connect(lab, "r3", R1, 2700) == "connected" and connect(lab, "h1", R1, 22, timeout=0.5) == "error 111", 20, "routes to r1")
    except BaseException:
        lab.down(quiet=True)
        raise
    yield lab
    lab.down(quiet=True)


@pytest.mark.frr
def test_shipped_nft_file_loads_and_reloads():
    ns = "h6-nftfile"
    subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for _ in range(2):  # loading it again replaces the table
            r = subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", str(ROOT / "frr-config/pyfrr-pwr.nft")], capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
        assert fw.counters(ns) == {"api_dropped": 0, "signal_dropped": 0, "transit_dropped": 0, "probe_dropped": 0, "exporter_dropped": 0}
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=True)


@pytest.mark.frr
def test_agents_started_beside_a_fake_package_are_real(lab):
    assert not lab.marker.exists()
    for n in ROUTERS:
        st = status(lab, n)
        assert st["connected"] is True and st["router_id"] == {"r1": R1, "r2": R2, "r3": R3}[n]
        # the agent's files: a root-owned 0700 directory, a 0600 socket
        d = lab.nodes[n].agent_dir
        for p in (d, d.parent):
            m = os.lstat(p)
            assert m.st_uid == 0 and stat.S_IMODE(m.st_mode) == 0o700, p
        assert stat.S_IMODE(os.stat(lab.nodes[n].agent_socket).st_mode) == 0o600
        assert lab.nodes[n].rundir.owner() == "frr"


@pytest.mark.frr
def test_neighbour_cannot_reach_ospfd_api(lab):
    before = fw.counters(lab.nodes["r1"].ns)["api_dropped"]
    outcomes = [connect(lab, "r2", dst, 2607) for dst in (R1_ETH1, R1, R1_ETH1)]
    outcomes.append(connect(lab, "r2", R1, 2607, src=R2))  # from its router address too
    assert outcomes == ["timeout"] * len(outcomes)  # dropped, not unreachable
    after = fw.counters(lab.nodes["r1"].ns)["api_dropped"]
    assert after >= before + len(outcomes), (before, after)  # each attempt: a SYN (and retries) dropped, counted
    # the node itself still reaches its API on any of its addresses (iif lo)
    assert connect(lab, "r1", R1_ETH1, 2607) == "connected"
    assert connect(lab, "r1", "127.0.0.1", 2607) == "connected"
    # and the rules are what stops the neighbour: without them it gets in (the issue)
    lab.exec("r1", ["nft", "delete", "table", "inet", "pyfrr_pwr"], check=True)
    try:
        assert connect(lab, "r2", R1_ETH1, 2607) == "connected"
    finally:
        fw.apply(lab.nodes["r1"].ns, lab.firewall_rules()["r1"])
    assert connect(lab, "r2", R1_ETH1, 2607) == "timeout"
    print(f"r1 api_dropped: {before} -> {after} packets over {len(outcomes)} refused connections")


@pytest.mark.frr
def test_own_agent_works_through_the_firewall(lab):
    # ospfd's connection back to the agent's port P+1 and the originations both pass
    st = wait_for(lambda: (s := status(lab, "r1"))["stats"].get("originations", 0) > 0 and s, 20, "r1's agent to originate")
    assert st["connected"] and st["api_stats"]["connects"] >= 1


@pytest.mark.frr
def test_signal_port_from_the_domain_only(lab):
    r1, r2 = lab.nodes["r1"].ns, lab.nodes["r2"].ns
    # the neighbour's agent reaches 2700: from its router address and from its link address
    assert connect(lab, "r2", R1, 2700, src=R2) == "connected"
    assert connect(lab, "r2", R1, 2700) == "connected"
    assert connect(lab, "r1", R2, 2700, src=R1) == "connected"
    # and an agent two hops away, through r2 (forwarded from a domain interface)
    assert connect(lab, "r1", R3, 2700, src=R1) == "connected"
    assert connect(lab, "r3", R1, 2700) == "connected"
    assert connect(lab, "r3", R1, 2607, src=R3) == "timeout"
    # a host outside the routing domain does not: not to its router, not through it
    sig2, tr2 = fw.counters(r2)["signal_dropped"], fw.counters(r2)["transit_dropped"]
    assert connect(lab, "h1", R2_ETH2, 2700) == "timeout"
    assert connect(lab, "h1", R2, 2700) == "timeout"
    assert fw.counters(r2)["signal_dropped"] > sig2
    assert connect(lab, "h1", R1, 2700) == "timeout"
    assert connect(lab, "h1", R1, 2607) == "timeout"
    assert connect(lab, "h1", R3, 2700) == "timeout"
    assert fw.counters(r2)["transit_dropped"] > tr2
    # nor with a domain address as its source (it arrives on a host-facing interface)
    assert connect(lab, "h1", R2, 2700, src=R1_ETH1) != "connected"
    assert fw.counters(r1)["signal_dropped"] == fw.counters(lab.nodes["r3"].ns)["signal_dropped"] == 0  # r2 stopped all of it


@pytest.mark.frr
def test_exec_finds_the_nodes_agent(lab):
    show = lab.exec("r1", ["sh", "-c", 'pyfrr-pwr show status --json --socket "$PYFRR_PWR_SOCKET"'], capture_output=True, text=True, timeout=30)
    assert show.returncode == 0, show.stderr
    assert json.loads(show.stdout)["router_id"] == R1
    env = lab.exec("r2", ["env"], capture_output=True, text=True, env={**os.environ, "PYFRR_PWR_SOCKET": "/elsewhere"}).stdout.splitlines()
    assert f"PYFRR_PWR_SOCKET={lab.nodes['r2'].agent_socket}" in env
    assert "PYFRR_PWR_LAB=h6-hard" in env and "PYFRR_PWR_NODE=r2" in env
    assert not any(e.startswith("PYFRR_PWR_SOCKET=") for e in lab.exec("h1", ["env"], capture_output=True, text=True).stdout.splitlines())


@pytest.mark.frr
def test_restart_agent_and_daemons(lab, monkeypatch):
    monkeypatch.chdir(lab.caller)  # restarted agents, too, ignore the caller's directory
    old = live(lab, "r1", "agent")
    pid = lab.restart("r1", "agent", wait=True, timeout=30)["agent"]
    assert pid not in old and live(lab, "r1", "agent") == [pid] and not lab.marker.exists()
    assert status(lab, "r1")["connected"]

    connects = status(lab, "r1")["api_stats"]["connects"]
    old = live(lab, "r1", "ospfd")
    new = lab.restart("r1", "ospfd", wait=True, timeout=40)["ospfd"]
    assert new not in old and live(lab, "r1", "ospfd") == [new]
    wait_for(lambda: status(lab, "r1")["api_stats"]["connects"] > connects and status(lab, "r1")["connected"], 20, "r1's agent to reconnect")

    pids = lab.restart("r2", "zebra", wait=True, timeout=60)
    assert list(pids) == ["zebra", "ospfd", "ospf6d"]  # frr-config/daemons runs ospf6d too
    # the state holds exactly what runs, so `down` stops exactly that
    for n in ROUTERS:
        for what in ("zebra", "ospfd", "ospf6d", "agent"):
            assert len(live(lab, n, what)) == 1, (n, what)
    procs = lab._load_state()["procs"]
    assert len(procs) == 12 and all(alive(p["pid"], p["start"]) for p in procs), procs


@pytest.mark.frr
def test_wait_fails_naming_the_node_whose_agent_died(tmp_path):
    # r1's agent cannot bind its signal port: 2604 is ospfd's vty port on 127.0.0.1
    lab = Lab(make_topology(tmp_path, agent_r1={"signal_port": 2604}), name="h6-bad", validate_schema=False)
    lab.down(quiet=True)
    try:
        with pytest.raises(LabError) as ei:
            lab.up(wait=True, timeout=40)
        msg = str(ei.value)
        assert "r1: not running" in msg and "r2:" not in msg, msg
        assert "last log line:" in msg and ("in use" in msg or "98" in msg), msg
        # the others may still be syncing when r1's failure is reported: they get ready, r1 never does
        wait_for(lambda: lab.agents_not_ready().keys() == {"r1"}, 30, "every agent but r1's to be ready")
    finally:
        lab.down(quiet=True)
