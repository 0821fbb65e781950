"""Issue 7 section 1 (lab part) and section 2's lab hosts: IPv6 on every
link, a locator per router on the always-up ``sr0``, ospf6d beside ospfd
(same areas) so every locator is reachable, inter-area included, and hosts
behind the head-ends and tail-ends that reach each other over the IGP.

The pure tests check the generated files and the lab's reading of them
anywhere. The ``frr`` tests need root, FRR, nftables and network
namespaces; their labs are called h12-* and are always taken down. They
print how long OSPF and the locators took after ``lab up``."""

import ipaddress
import json
import os
import sys
import textwrap
import time

import jsonschema
import pytest
import yaml
from conftest import ROOT
from helpers import wait_for

from pyfrr_pwr.dataplane.netlink import Netlink
from pyfrr_pwr.dataplane.sids import default_locator, node_address
from pyfrr_pwr.files.topology import find_clab_schema, load_topology
from pyfrr_pwr.lab import firewall as fw
from pyfrr_pwr.lab.addressing import ipv6_addresses, sid_address
from pyfrr_pwr.lab.daemons import parse_daemons
from pyfrr_pwr.lab.runner import Lab, LabError

CLAB = ROOT / "containerlab"
FIG217 = CLAB / "fig-2-1-7.clab.yml"
FIG20 = CLAB / "fig-2-0.clab.yml"


def plan(fig: str) -> dict:
    return yaml.safe_load((CLAB / fig / "addresses.yml").read_text())


# -- pure: the generated files --------------------------------------------------


@pytest.mark.parametrize("fig", ["fig-2-0", "fig-2-1-1", "fig-2-1-7"])
def test_every_router_has_ipv6_links_a_locator_and_ospf6d(fig):
    topo = load_topology(CLAB / f"{fig}.clab.yml", validate_schema=False)
    p = plan(fig)
    routers = {n: r for n, r in topo.routers.items() if r.router_id}
    assert set(routers) == set(p["routers"])
    fd01 = ipaddress.ip_network("fd01::/16")
    for name, r in routers.items():
        conf = r.files["/etc/frr/frr.conf"]
        v6 = ipv6_addresses(conf)
        loc = default_locator(r.router_id)
        # LOC::1/48 on sr0, the locator of dataplane.sids
        assert sid_address(v6) == ipaddress.IPv6Interface(f"{node_address(loc)}/48"), name
        assert p["routers"][name]["locator"] == str(loc)
        text = conf.read_text()
        assert "ipv6 forwarding" in text.splitlines()
        assert f"router ospf6\n ospf6 router-id {r.router_id}\n" in text
        # every interface with IPv4 has a global IPv6 address in fd01::/16
        # and the same area for ospf6d as for ospfd
        stanzas = {s.split("\n", 1)[0].split()[0]: s for s in text.split("interface ")[1:] if s.split()}
        for ifn, i in r.interfaces.items():
            if ifn in ("lo", "sr0"):
                continue
            (a,) = v6[ifn]
            assert a.ip in fd01 and not a.ip.is_link_local, (name, ifn)
            assert f" ipv6 ospf6 area {i.area}\n" in stanzas[ifn], (name, ifn)
        assert " ipv6 ospf6 passive" in stanzas["sr0"]
        daemons, options = parse_daemons(r.files["/etc/frr/daemons"])
        assert daemons[:3] == ["zebra", "ospfd", "ospf6d"] and options["ospf6d"] == ["-A", "::1"]
        # the existing IPv4 plan is untouched: 10.FIG.N.x on the links
        for ifn, i in r.interfaces.items():
            if i.address is not None:
                assert str(i.address.ip).startswith(f"10.{r.router_id.split('.')[1]}."), (name, ifn)


def test_frr_config_shares_the_daemons_file_and_shows_the_ipv6_part():
    daemons = (ROOT / "frr-config/daemons").read_text()
    assert "ospf6d=yes" in daemons and 'ospf6d_options="  -A ::1"' in daemons
    for fig in ("fig-2-0", "fig-2-1-1", "fig-2-1-7"):
        assert (CLAB / fig / "A" if fig != "fig-2-0" else CLAB / fig / "TEh1").joinpath("daemons").read_text() == daemons
    ex = (ROOT / "frr-config/frr.conf.example").read_text()
    for line in ("ipv6 forwarding", "interface sr0", " ipv6 ospf6 passive", "router ospf6", " ipv6 ospf6 area 0.0.0.1"):
        assert line in ex.splitlines(), line
    v6 = ipv6_addresses(ROOT / "frr-config/frr.conf.example")
    assert sid_address(v6).network == default_locator("10.255.0.1")


@pytest.mark.parametrize(
    "fig,hosts", [("fig-2-1-7", {"hE": "E", "hX": "X"}), ("fig-2-0", {f"h{n}": n for n in ("TEh1", "TEh2", "TEh3", "TEt1", "TEt2", "TEt4")})]
)
def test_hosts_behind_the_endpoints(fig, hosts):
    topo = load_topology(CLAB / f"{fig}.clab.yml", validate_schema=False)
    p = plan(fig)
    assert p["hosts"].keys() == hosts.keys()
    nets = set()
    for h, router in hosts.items():
        x = p["hosts"][h]
        assert x["router"] == router
        assert topo.routers[h].router_id is None and topo.routers[h].settings["kind"] == "linux"
        net = ipaddress.ip_interface(x["ipv4"]).network
        assert net.prefixlen == 24 and net not in nets
        nets.add(net)
        ex = topo.routers[h].settings["exec"]
        # addresses first, then the default routes (to the router's address on that subnet)
        assert ex == [
            f"ip addr add {x['ipv4']} dev eth1",
            f"ip -6 addr add {x['ipv6']} dev eth1",
            f"ip route add default via {x['gateway4']}",
            f"ip -6 route add default via {x['gateway6']}",
        ]
        (link,) = [lk for lk in topo.links if h in (lk.a[0], lk.b[0])]
        rifn = link.a[1] if link.a[0] == router else link.b[1]
        i = topo.routers[router].interfaces[rifn]
        assert str(i.address) == f"{x['gateway4']}/24" and i.area in topo.routers[router].areas
        stanza = topo.routers[router].files["/etc/frr/frr.conf"].read_text().split(f"interface {rifn}\n")[1].split("exit")[0]
        assert " ip ospf passive" in stanza and " ipv6 ospf6 passive" in stanza
        # the router's power.yml has no port for it: it is no TE link
        assert rifn not in topo.routers[router].power.ports
        assert p["routers"][router]["hosts"][h]["prefix4"] == str(net)


@pytest.mark.parametrize("path", [FIG217, FIG20], ids=lambda p: p.name)
def test_clab_files_with_hosts_validate_against_containerlabs_schema(path):
    schema = find_clab_schema()
    if schema is None:  # CI has shared/ beside the clone: there a missing schema is a failure
        (pytest.fail if os.environ.get("CI") else pytest.skip)("containerlab's schema not found; tests/test_topologies.py says where it looks")
    jsonschema.Draft7Validator(json.loads(schema.read_text())).validate(yaml.safe_load(path.read_text()))


def test_lab_reads_locators_and_the_firewall_covers_ipv6():
    lab = Lab(FIG217, name="h12-pure", validate_schema=False)
    p = plan("fig-2-1-7")
    for name, n in lab.nodes.items():
        if name in p["routers"]:
            assert str(n.locator_net) == p["routers"][name]["locator"] and str(n.locator.ip) == p["routers"][name]["address"]
        else:
            assert n.locator is None and not n.frr
    assert {n.name for n in lab.locator_nodes()} == set("ABCDEGHX")
    ospf = {n for n, x in lab.nodes.items() if "ospfd" in x.daemons}
    adm = fw.lab_admissions(lab.topo, ospf)
    assert adm == fw.lab_admissions(lab.topo, ospf, ipv6={n.name: n.ipv6 for n in lab.nodes.values()})
    dom6 = [ipaddress.ip_network(d) for d in adm["E"].domain6]
    for name, r in p["routers"].items():
        assert any(ipaddress.ip_network(r["locator"]).subnet_of(d) for d in dom6), name
        for ifn, i in r["interfaces"].items():
            inside = any(ipaddress.ip_interface(i["ipv6"]).network.subnet_of(d) for d in dom6)
            assert inside == (i["peer"] in p["routers"]), (name, ifn)  # host subnets stay outside
            assert (ifn in adm[name].domain_ifaces) == (i["peer"] in p["routers"])
    rules = lab.firewall_rules()
    assert "set domain6" in rules["E"] and "fd00:a11:ff" in rules["E"] and "fd01:17:101::" not in rules["E"]


def test_a_bad_ipv6_address_names_file_and_line(tmp_path):
    c = tmp_path / "frr.conf"
    c.write_text("interface sr0\n ipv6 address fd00::1/48\nexit\ninterface eth1\n ipv6 address fd00::zz/64\nexit\n")
    with pytest.raises(LabError, match=rf"^{c}:5: interface eth1: ipv6 address 'fd00::zz/64'"):
        ipv6_addresses(c)
    c.write_text("interface eth1\n ipv6 address fd01::1/64\nexit\n!\n ipv6 address fd02::1/64\n")
    assert ipv6_addresses(c) == {"eth1": [ipaddress.IPv6Interface("fd01::1/64")]}
    assert sid_address(ipv6_addresses(c)) is None


# -- on real FRR ------------------------------------------------------------------

CONNECT = textwrap.dedent(
    """
    import socket, sys
    dst, port, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    s = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET)
    s.settimeout(timeout)
    try:
        s.connect((dst, port))
        print("connected")
    except socket.timeout:
        print("timeout")
    except OSError as e:
        print("error", e.errno)
    """
)


def connect(lab, node, dst, port, timeout=1.5) -> str:
    r = lab.exec(node, [sys.executable, "-P", "-c", CONNECT, dst, str(port), str(timeout)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def ping(lab, node, dst, count=1) -> bool:
    r = lab.exec(node, ["ping", "-n", "-q", "-c", str(count), "-W", "1", dst], capture_output=True, text=True, timeout=30)
    return r.returncode == 0


def ping_all(lab, node, dsts) -> list:
    """The destinations ``node`` does NOT reach (one shell, one ping each)."""
    script = "for d in " + " ".join(dsts) + '; do ping -n -q -c 1 -W 1 "$d" >/dev/null 2>&1 || echo "$d"; done'
    r = lab.exec(node, ["sh", "-c", script], capture_output=True, text=True, timeout=120)
    return r.stdout.split()


def bring_up(path, name, agents) -> Lab:
    lab = Lab(path, name=name)
    lab.down(quiet=True)
    t0 = time.monotonic()
    try:
        lab.up(agents=agents, wait=False)
        t_up = time.monotonic() - t0
        lab.wait_converged(120)
        t_ospf = time.monotonic() - t0
        lab.wait_locators(120)
        t_loc = time.monotonic() - t0
        lab.wait_ready(120)
    except BaseException:
        lab.down(quiet=True)
        raise
    lab.times = {"up": t_up, "ospf_full": t_ospf, "locators": t_loc, "ready": time.monotonic() - t0}
    print(f"\n{name}: " + ", ".join(f"{k} {v:.1f}s" for k, v in lab.times.items()) + " after lab up")
    return lab


@pytest.fixture(scope="class")
def lab217():
    """fig-2-1-7 with its agents, up for one test class."""
    lab = bring_up(FIG217, "h12-v6-217", agents=True)
    yield lab
    lab.down(quiet=True)


@pytest.fixture(scope="class")
def lab20():
    """fig-2-0 without agents (23 routers on 2 shared cores), up for one test class."""
    lab = bring_up(FIG20, "h12-v6-20", agents=False)
    yield lab
    lab.down(quiet=True)


@pytest.mark.frr
class TestFig217:
    """fig-2-1-7 with its agents: 8 routers in areas 0 and 1, hosts hE and hX."""

    @pytest.fixture
    def lab(self, lab217):
        return lab217

    def test_every_router_pings_every_locator_inter_area_included(self, lab):
        p = plan("fig-2-1-7")
        addrs = {n: r["address"] for n, r in p["routers"].items()}
        for src in addrs:
            assert ping_all(lab, src, [a for n, a in addrs.items() if n != src]) == [], src
        # A is in area 0 only, X in area 1 only: the ABRs carry the /48s
        routes = {r.split()[0] for r in lab.exec("A", ["ip", "-6", "route"], capture_output=True, text=True).stdout.splitlines()}
        assert set(r["locator"] for n, r in p["routers"].items() if n != "A") <= routes

    def test_sr0_sysctls_and_tunnel_source(self, lab):
        p = plan("fig-2-1-7")
        for n in p["routers"]:
            with Netlink(netns=lab.nodes[n].ns) as nl:
                assert nl.check_sysctls() == [], n
            out = lab.exec(n, ["ip", "sr", "tunsrc", "show"], capture_output=True, text=True).stdout
            assert p["routers"][n]["address"] in out
            st = lab.exec(n, ["ip", "-j", "link", "show", "sr0"], capture_output=True, text=True).stdout
            assert "UP" in json.loads(st)[0]["flags"]
        st = lab.status()
        assert all(st[n]["locators_missing"] == [] for n in p["routers"])

    def test_host_behind_head_end_reaches_host_behind_tail_end_over_the_igp(self, lab):
        h = plan("fig-2-1-7")["hosts"]
        ip4 = {n: x["ipv4"].split("/")[0] for n, x in h.items()}
        ip6 = {n: x["ipv6"].split("/")[0] for n, x in h.items()}
        assert ping_all(lab, "hE", [ip4["hX"], ip6["hX"]]) == []
        assert ping(lab, "hX", ip4["hE"], count=3) and ping(lab, "hX", ip6["hE"])
        # no TE here: the path is OSPF's (hE - E - X - hX, 3 hops)
        tr = lab.exec("E", ["ip", "route", "get", ip4["hX"]], capture_output=True, text=True).stdout
        assert "encap" not in tr and "via 10.17.10.1 " in tr, tr  # X's end of E-X

    def test_firewall_blocks_hosts_from_2607_and_2700_over_ipv4_and_ipv6(self, lab):
        p = plan("fig-2-1-7")
        e_host_side = p["hosts"]["hE"]["gateway4"]
        e6, x6 = p["routers"]["E"]["address"], p["routers"]["X"]["address"]
        before = lab.status()["E"]["firewall_dropped"]
        # from the host: to its router, on both ports, both families
        for dst in (e_host_side, p["hosts"]["hE"]["gateway6"], e6, p["routers"]["E"]["router_id"]):
            for port in (2607, 2700):
                assert connect(lab, "hE", dst, port, timeout=0.7) == "timeout", (dst, port)
        # through its router to another router: dropped in transit at E
        for dst in (x6, p["routers"]["X"]["router_id"]):
            for port in (2607, 2700):
                assert connect(lab, "hE", dst, port, timeout=0.7) == "timeout", (dst, port)
        after = lab.status()["E"]["firewall_dropped"]
        assert after["api_dropped"] > before["api_dropped"] and after["signal_dropped"] > before["signal_dropped"]
        assert after["transit_dropped"] > before["transit_dropped"]
        # the routing domain passes over IPv6 too: X's link address is in it,
        # so E answers (nothing listens on IPv6 2700: refused, not dropped)
        assert connect(lab, "X", e6, 2700) == "error 111"
        assert connect(lab, "X", p["routers"]["E"]["router_id"], 2700) == "connected"  # the agent, IPv4
        assert connect(lab, "X", e6, 2607, timeout=0.7) == "timeout"  # the API: never from a neighbour


@pytest.mark.frr
class TestFig20:
    """fig-2-0 once (23 routers, 3 areas, 6 hosts), without agents (2 cores)."""

    @pytest.fixture
    def lab(self, lab20):
        return lab20

    def test_teh1_host_reaches_tet1_host_and_teh1_reaches_tet1s_locator(self, lab):
        p = plan("fig-2-0")
        h = p["hosts"]
        wait_for(lambda: ping(lab, "hTEh1", h["hTEt1"]["ipv4"].split("/")[0]), 20, "hTEh1 to hTEt1")
        assert ping(lab, "hTEh1", h["hTEt1"]["ipv4"].split("/")[0], count=3)
        assert ping(lab, "hTEh1", h["hTEt1"]["ipv6"].split("/")[0])
        assert ping(lab, "TEh1", p["routers"]["TEt1"]["address"], count=3)
        # every head-end reaches every tail-end's locator and host, across the backbone
        for head in ("TEh1", "TEh2", "TEh3"):
            dsts = [p["routers"][t]["address"] for t in ("TEt1", "TEt2", "TEt4")] + [h[f"h{t}"]["ipv4"].split("/")[0] for t in ("TEt1", "TEt2", "TEt4")]
            assert ping_all(lab, head, dsts) == [], head
        assert lab.locators_unreachable() == {}
