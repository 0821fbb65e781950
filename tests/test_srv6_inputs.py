"""The SRv6 shell reads its links, addresses and neighbours from the agent's
rtnetlink table (``Measurer.srv6_inputs``) instead of four dumps a sync:
``parse_rtnl`` keeps prefix lengths and the administrative state, the
table answers what ``Srv6Node.discover`` dumped, first by hand-built
messages, then against a real kernel in a namespace of ours (h-s6in)."""

import json
import socket
import struct
import subprocess
import sys

import pytest

from pyfrr_pwr.agent import sidplan
from pyfrr_pwr.agent.measure import IFF_LOWER_UP, IFF_UP, LinkTable, Measurer, parse_rtnl
from pyfrr_pwr.agent.srv6 import Srv6Node
from pyfrr_pwr.dataplane.netlink import Netlink


def _nlmsg(ty, body, attrs=b""):
    payload = body + attrs
    return struct.pack("=IHHII", 16 + len(payload), ty, 0, 0, 0) + payload + b"\0" * (-len(payload) % 4)


def _rta(ty, val):
    return struct.pack("=HH", 4 + len(val), ty) + val + b"\0" * (-len(val) % 4)


def _link(idx, name, flags, ty=16):
    return _nlmsg(ty, struct.pack("=BxHiII", 0, 1, idx, flags, 0), _rta(3, name.encode() + b"\0"))


def _addr(ty, idx, fam, plen, local, peer=None):
    raw = socket.inet_pton(fam, local)
    attrs = _rta(2, raw) + _rta(1, socket.inet_pton(fam, peer) if peer else raw)  # IFA_LOCAL, IFA_ADDRESS
    return _nlmsg(ty, struct.pack("=BBBBi", fam, plen, 0, 0, idx), attrs)


def _neigh(ty, idx, addr):
    return _nlmsg(ty, struct.pack("=BxxxiHBB", socket.AF_INET6, idx, 0x02, 0, 0), _rta(1, socket.inet_pton(socket.AF_INET6, addr)))


def test_parse_rtnl_keeps_prefix_lengths_and_the_administrative_state():
    v4, v6 = socket.AF_INET, socket.AF_INET6
    buf = (
        _link(3, "eth1", IFF_UP | IFF_LOWER_UP)
        + _link(4, "eth2", IFF_UP)  # up, no carrier: not running
        + _link(5, "eth3", IFF_LOWER_UP)  # administratively down
        + _addr(20, 3, v4, 31, "10.0.1.0")
        + _addr(20, 3, v4, 32, "10.0.9.1", peer="10.0.9.2")  # point-to-point: ours is IFA_LOCAL
        + _addr(21, 4, v4, 24, "10.0.2.1")
        + _addr(20, 3, v6, 127, "fd00:1::")
        + _addr(21, 3, v6, 64, "fe80::1")
    )
    assert parse_rtnl(buf, v6=True) == [
        ("link", 3, "eth1", True, True),
        ("link", 4, "eth2", False, True),
        ("link", 5, "eth3", False, False),
        ("addr", 3, "10.0.1.0", 31),
        ("addr", 3, "10.0.9.1", 32),
        ("deladdr", 4, "10.0.2.1", 24),
        ("addr6", 3, "fd00:1::", 127),
        ("deladdr6", 3, "fe80::1", 64),
    ]
    assert [e for e in parse_rtnl(buf) if e[0].endswith("6")] == []  # the core's view: IPv4 only


def test_the_table_answers_what_discover_reads():
    t = LinkTable()
    evs = [
        ("link", 1, "lo", True, True),
        ("link", 3, "eth1", True, True),
        ("link", 4, "o1", False, True),
        ("link", 5, "o2", False, False),
        ("addr", 3, "10.0.1.0", 31),
        ("addr", 3, "10.0.1.100", 24),
        ("addr", 3, "10.0.1.0", 24),  # the same local with another mask: another address
        ("addr", 3, "10.0.1.0", 31),  # heard again (a dump after an event): no change
        ("addr", 4, "192.168.1.1", 24),
        ("addr", 5, "192.168.2.1", 24),
        ("addr6", 3, "fd00:1::1", 64),
        ("addr6", 3, "fe80::1", 64),
        ("neigh6", 3, "fd00:1::7"),
        ("neigh6", 3, "fe80::2"),
        ("neigh6", 3, "fd00:1::7"),  # a state change: the same neighbour
    ]
    changed = [t.apply(e) for e in evs]
    assert changed[-4:] == [False] * 4 and changed[7] is False
    names, up, v4, v6, neigh = t.srv6_inputs()
    assert names == {1: "lo", 3: "eth1", 4: "o1", 5: "o2"}
    assert up == {1, 3, 4}  # IFF_UP alone: o1 has no carrier but is up
    assert v4 == {"eth1": ["10.0.1.0/31", "10.0.1.100/24", "10.0.1.0/24"], "o1": ["192.168.1.1/24"], "o2": ["192.168.2.1/24"]}
    assert v6 == {"eth1": ["fd00:1::1/64", "fe80::1/64"]} and neigh == {"eth1": ["fd00:1::7", "fe80::2"]}
    assert t.ifaddrs() == {"eth1": "10.0.1.0"}  # the core's view: first IPv4 address, running only

    # what discover makes of it: the first address reported, neighbours of our prefix, others that are up
    node = Srv6Node(sidplan.Srv6Settings(), ["eth1"], inputs=t.srv6_inputs)
    assert node.discover() == ({"eth1": "10.0.1.0"}, {"eth1": "fd00:1::7"}, {"o1": ["192.168.1.1/24"]})
    assert node.stats["srv6_dumps"] == 0

    t.v6_changed = False
    assert t.apply(("deladdr", 3, "10.0.1.0", 31)) and t.srv6_inputs()[2]["eth1"] == ["10.0.1.100/24", "10.0.1.0/24"]
    assert not t.apply(("deladdr", 3, "10.0.1.0", 31))  # gone already
    assert not t.v6_changed
    t.apply(("link", 4, "o1", False, False))  # o1 set down: the SRv6 shell's "others" change, the core's do not
    assert t.v6_changed and 4 not in t.srv6_inputs()[1]
    t.v6_changed = False
    t.apply(("delneigh6", 3, "fd00:1::7"))
    t.apply(("deladdr6", 3, "fd00:1::1", 64))
    assert t.v6_changed and t.srv6_inputs()[3:] == ({"eth1": ["fe80::1/64"]}, {"eth1": ["fe80::2"]})
    assert t.apply(("dellink", 3)) and not t.v6 and 3 not in t.srv6_inputs()[0] and "eth1" not in t.srv6_inputs()[2]


POWER = "ports:\n  eth1: {speed: 10G, power_w: 2.0, available: 5G}\n"


class _Sock:
    def __init__(self, bufs):
        self.bufs, self.sent = list(bufs), []

    def recv(self, n):
        if not self.bufs:
            raise BlockingIOError
        return self.bufs.pop(0)

    def send(self, b):
        self.sent.append(struct.unpack_from("=IH", b)[1])


def test_the_measurers_table_is_the_srv6_shells_only_once_its_dumps_are_done(tmp_path):
    from pyfrr_pwr.files.power import load_power

    (tmp_path / "power.yml").write_text(POWER)
    m = Measurer(load_power(tmp_path / "power.yml"), "t", 1.0, {}, sysfs=tmp_path)
    sock = _Sock([])
    m._start_dumps(sock)
    assert sock.sent == [18]  # RTM_GETLINK, then addresses and neighbours, one at a time
    done = _nlmsg(3, struct.pack("=i", 0))
    sock.bufs = [_link(3, "eth1", IFF_UP | IFF_LOWER_UP) + done]
    m._drain(sock)
    assert sock.sent == [18, 22] and m.srv6_inputs() is None
    sock.bufs = [_addr(20, 3, socket.AF_INET, 31, "10.0.1.0") + done]
    m._drain(sock)
    assert sock.sent == [18, 22, 30] and m.srv6_inputs() is None
    sock.bufs = [_neigh(28, 3, "fd00:1::2") + done]
    m._drain(sock)
    assert m.srv6_inputs() == ({3: "eth1"}, {3}, {"eth1": ["10.0.1.0/31"]}, {}, {"eth1": ["fd00:1::2"]})
    # a new table (lost events: the Measurer dumps again) is not the
    # kernel's until its dumps are done: meanwhile the shell dumps for itself
    m.table = LinkTable()
    node = Srv6Node(sidplan.Srv6Settings(), ["eth1"], inputs=m.srv6_inputs)
    with Netlink(None) as nl:
        node.nl = nl
        node.discover()
    assert node.stats["srv6_dumps"] == 1


# ------------------------------------------------------------- real kernel

NS = "h-s6in"

KERNEL_SCRIPT = r"""
import json, select, subprocess, sys, time
from pyfrr_pwr.agent import sidplan
from pyfrr_pwr.agent.measure import Measurer
from pyfrr_pwr.agent.srv6 import Srv6Node
from pyfrr_pwr.dataplane.netlink import Netlink
from pyfrr_pwr.files.power import load_power

ip = lambda *a: subprocess.run(["ip", *a], check=True)
PORTS = ["eth1", "eth2", "eth3"]
ip("link", "set", "lo", "up")
for i in (1, 2, 3):
    ip("link", "add", f"eth{i}", "type", "veth", "peer", "name", f"p{i}")
for i in (1, 2, 3, 4):
    ip("link", "add", f"o{i}", "type", "veth", "peer", "name", f"q{i}")
ip("link", "add", "sr0", "type", "veth", "peer", "name", "sr0p")  # no dummy devices in these kernels
ip("addr", "add", "fd00:a00:1::/128", "dev", "sr0")
ip("addr", "add", "10.255.0.1/32", "dev", "sr0")
for i in (1, 2, 3):
    ip("addr", "add", f"10.0.{i}.0/31", "dev", f"eth{i}")
    ip("addr", "add", f"10.0.{i}.1/31", "dev", f"p{i}")
ip("addr", "add", "fd00:1::1/64", "dev", "eth1")
ip("addr", "add", "fd00:2::1/127", "dev", "eth2")
ip("addr", "add", "fd00:3::1/64", "dev", "eth3")
ip("addr", "add", "192.168.10.1/24", "dev", "o1")
ip("addr", "add", "192.168.11.1/24", "dev", "o1")
ip("addr", "add", "10.0.9.1", "peer", "10.0.9.2/32", "dev", "o2")  # ours is IFA_LOCAL, not the peer's IFA_ADDRESS
ip("addr", "add", "172.16.3.1/24", "dev", "o3")
ip("addr", "add", "172.16.4.1/24", "dev", "o4")
for d in ("sr0", "sr0p", "eth1", "p1", "eth2", "p2", "eth3", "p3", "o1", "q1", "o2", "q2", "o3"):
    ip("link", "set", d, "up")  # o3: up, its peer down (no carrier); o4 down
ip("-6", "neigh", "add", "fd00:1::7", "lladdr", "02:00:00:00:00:07", "dev", "eth1", "nud", "permanent")

m = Measurer(load_power(sys.argv[1]), "t", 1.0, {})
sock = m._open()
nl = Netlink(None)
dumping = Srv6Node(sidplan.Srv6Settings(), PORTS)
dumping.nl = nl
fed = Srv6Node(sidplan.Srv6Settings(), PORTS, inputs=m.srv6_inputs)  # no rtnetlink of its own: it cannot dump

def pump(until):
    # the kernel's notifications, read as they come (select), until they told us what we changed
    deadline = time.monotonic() + 10
    while not until():
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([sock], [], [], left)[0]:
            raise SystemExit(f"the table did not hear it: {m.table.srv6_inputs()}")
        m._drain(sock)

m._start_dumps(sock)
pump(lambda: m.table.complete)
out = {"start": [dumping.discover(), fed.discover()]}

idx = {n: i for i, n in m.table.names.items()}
ip("addr", "add", "10.0.1.100/24", "dev", "eth1")  # a second address: the first stays eth1's
ip("addr", "del", "192.168.11.1/24", "dev", "o1")
ip("addr", "del", "fd00:2::1/127", "dev", "eth2")
ip("addr", "add", "fd00:2::3/127", "dev", "eth2")
ip("-6", "neigh", "del", "fd00:1::7", "dev", "eth1")
ip("-6", "neigh", "add", "fd00:3::5", "lladdr", "02:00:00:00:00:05", "dev", "eth3", "nud", "permanent")
ip("link", "set", "o4", "up")  # up without carrier: an "other" again
ip("link", "set", "q1", "down")  # o1 loses its carrier, stays up

def heard():
    names, up, v4, v6, neigh = m.table.srv6_inputs()
    return (
        "10.0.1.100/24" in v4.get("eth1", [])
        and "192.168.11.1/24" not in v4.get("o1", [])
        and "fd00:2::3/127" in v6.get("eth2", [])
        and "fd00:2::1/127" not in v6.get("eth2", [])
        and "fd00:1::7" not in neigh.get("eth1", [])
        and "fd00:3::5" in neigh.get("eth3", [])
        and idx["o4"] in up
        and not m.table.running.get(idx["o1"])
    )

pump(heard)
out["events"] = [dumping.discover(), fed.discover()]
out["dumps"] = [dumping.stats["srv6_dumps"], fed.stats["srv6_dumps"]]
print(json.dumps(out))
"""


def _run_in_netns(tmp_path, *args):
    subprocess.run(["ip", "netns", "del", NS], capture_output=True)
    subprocess.run(["ip", "netns", "add", NS], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", NS, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"], check=True)
        (tmp_path / "power.yml").write_text(POWER)
        r = subprocess.run(
            ["ip", "netns", "exec", NS, sys.executable, "-c", KERNEL_SCRIPT, str(tmp_path / "power.yml"), *args], capture_output=True, text=True, timeout=60
        )
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)
    finally:
        subprocess.run(["ip", "netns", "del", NS], capture_output=True)


@pytest.mark.frr
def test_discover_from_the_measurers_table_is_discover_from_dumps_on_a_real_kernel(tmp_path):
    out = _run_in_netns(tmp_path)
    dumped, fed = out["start"]
    assert fed == dumped
    assert dumped == [
        {"eth1": "10.0.1.0", "eth2": "10.0.2.0", "eth3": "10.0.3.0"},
        {"eth1": "fd00:1::7", "eth2": "fd00:2::", "eth3": "fd00:3::2"},
        {"o1": ["192.168.10.1/24", "192.168.11.1/24"], "o2": ["10.0.9.1/32"], "o3": ["172.16.3.1/24"], **{f"p{i}": [f"10.0.{i}.1/31"] for i in (1, 2, 3)}},
    ]
    dumped, fed = out["events"]
    assert fed == dumped
    assert dumped == [
        {"eth1": "10.0.1.0", "eth2": "10.0.2.0", "eth3": "10.0.3.0"},
        {"eth1": "fd00:1::2", "eth2": "fd00:2::2", "eth3": "fd00:3::5"},
        {
            "o1": ["192.168.10.1/24"],
            "o2": ["10.0.9.1/32"],
            "o3": ["172.16.3.1/24"],
            "o4": ["172.16.4.1/24"],
            **{f"p{i}": [f"10.0.{i}.1/31"] for i in (1, 2, 3)},
        },
    ]
    assert out["dumps"] == [2, 0]  # the table-fed shell never dumped
