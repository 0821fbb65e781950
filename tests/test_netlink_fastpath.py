"""One kernel round trip per install (issue 7 sec. 5): the netlink shell's
requests counted, first against a recording stand-in for pyroute2's
IPRoute (no root), then against a real namespace of our own.

A binding SID installed on an LSP's set-up used to cost a dump of every
IPv6 route (the claim: is the key someone else's?) and an interface
lookup before its one RTM_NEWROUTE; now a new key is created with
NLM_F_EXCL (the kernel refuses it with EEXIST if any route holds the key,
rtnetlink(7)) and only then claimed, and interface indices are cached."""

import errno
import os
import socket
import subprocess
from types import SimpleNamespace

import pytest
from pyroute2.netlink import NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE
from pyroute2.netlink.exceptions import NetlinkError as PyNetlinkError
from pyroute2.netlink.rtnl import RTM_GETROUTE, RTM_NEWROUTE

from pyfrr_pwr.dataplane import netlink
from pyfrr_pwr.dataplane.netlink import Netlink, NetlinkError
from pyfrr_pwr.dataplane.sids import LocalSid

BSID = "fd00:a00:9:b6:a14:1:0:4"
SEGS = ("fd00:a00:5:2::a00:1", "fd00:a00:7:b6:a14:1:0:4", "fd00:a00:8:6::")


class _Route(dict):
    """A dumped route as Netlink reads one (``r[...]``, ``get_attr``)."""

    def __init__(self, family, dst, plen, metric, proto, table=254):
        super().__init__(family=family, dst_len=plen, table=table, proto=proto)
        self.attrs = {"RTA_DST": dst, "RTA_PRIORITY": metric, "RTA_TABLE": table}

    def get_attr(self, name):
        return self.attrs.get(name)


class _IPRoute:
    """pyroute2's IPRoute as far as Netlink uses it for installs: a kernel
    of routes keyed (family, dst, plen, metric) -> proto, EEXIST for an
    NLM_F_EXCL create of a key held, ENODEV for an unknown index; every
    request recorded."""

    def __init__(self, **kw):
        self.asyncore = SimpleNamespace(status={})
        self.marshal = SimpleNamespace(msg_map={})
        self.kernel = {}
        self.links = {"sr0": 7, "eth1": 3}
        self.calls = []

    def link_lookup(self, ifname):
        self.calls.append(("link", ifname))
        return [self.links[ifname]] if ifname in self.links else []

    def nlm_request(self, msg, msg_type, msg_flags):
        a = dict(msg["attrs"])
        if msg_type == RTM_GETROUTE and msg_flags & NLM_F_DUMP:
            self.calls.append(("dump",))
            return [_Route(f, d, p, m, proto) for (f, d, p, m), proto in self.kernel.items() if f == msg["family"]]
        assert msg_type == RTM_NEWROUTE
        key = (msg["family"], a["RTA_DST"], msg["dst_len"], a["RTA_PRIORITY"])
        self.calls.append(("new", "excl" if msg_flags & NLM_F_EXCL else "replace" if msg_flags & NLM_F_REPLACE else "?", key[1]))
        if a.get("RTA_OIF") is not None and a["RTA_OIF"] not in self.links.values():
            raise PyNetlinkError(errno.ENODEV)
        if key in self.kernel and msg_flags & NLM_F_EXCL:
            raise PyNetlinkError(errno.EEXIST)
        self.kernel[key] = msg["proto"]
        return []

    def close(self):
        pass


@pytest.fixture
def nl(monkeypatch):
    monkeypatch.setattr(netlink, "IPRoute", _IPRoute)
    n = Netlink()
    n.ipr.calls.clear()
    return n


def _bsid(segs=SEGS):
    return LocalSid(BSID, "End.B6.Encaps", dev="sr0", segs=segs)


def test_a_new_binding_sid_is_one_request_and_a_replace_another(nl):
    nl.add_sid(_bsid())
    assert nl.ipr.calls == [("link", "sr0"), ("new", "excl", BSID)]  # no dump
    nl.ipr.calls.clear()
    nl.add_sid(_bsid(SEGS[1:]))  # ours: replaced, the device's index from the cache
    nl.add_sid(LocalSid("fd00:a00:9:b6:a14:1:0:5", "End.B6.Encaps", dev="sr0", segs=SEGS))
    assert nl.ipr.calls == [("new", "replace", BSID), ("new", "excl", "fd00:a00:9:b6:a14:1:0:5")]
    nl.add_encap("10.20.201.0/24", SEGS, "eth1")
    nl.ipr.calls.clear()
    nl.add_encap("10.20.201.0/24", SEGS[::-1], "eth1")  # a Switch: one request
    assert nl.ipr.calls == [("new", "replace", "10.20.201.0")]


def test_a_key_someone_holds_is_claimed_theirs_refused_ours_from_an_earlier_run_replaced(nl):
    nl.ipr.kernel[(socket.AF_INET6, BSID, 128, netlink.SID_METRIC)] = 4  # static
    with pytest.raises(NetlinkError, match="belongs to protocol 4"):
        nl.add_sid(_bsid())
    assert ("dump",) in nl.ipr.calls and not nl.registry
    assert nl.ipr.kernel[(socket.AF_INET6, BSID, 128, netlink.SID_METRIC)] == 4  # untouched
    nl.ipr.kernel[(socket.AF_INET6, BSID, 128, netlink.SID_METRIC)] = netlink.RTPROT_PYFRR_PWR  # a dead predecessor's
    nl.ipr.calls.clear()
    nl.add_sid(_bsid())
    assert nl.ipr.calls == [("new", "excl", BSID), ("dump",), ("new", "replace", BSID)]
    assert [e.sid.sid for e in nl.installed()] == [BSID]


def test_a_cached_index_the_kernel_no_longer_knows_is_looked_up_again_once(nl):
    nl.add_sid(_bsid())
    nl.ipr.links["sr0"] = 9  # sr0 re-created
    nl.ipr.calls.clear()
    nl.add_sid(_bsid(SEGS[1:]))
    assert nl.ipr.calls == [("new", "replace", BSID), ("link", "sr0"), ("new", "replace", BSID)]
    del nl.ipr.links["sr0"]
    with pytest.raises(NetlinkError, match="no interface sr0"):
        nl.add_sid(_bsid())
    nl.ipr.links["sr0"] = 11
    nl.forget_addresses()  # a link event: both caches go
    nl.ipr.calls.clear()
    nl.add_sid(_bsid())
    assert nl.ipr.calls[0] == ("link", "sr0")


def test_any_other_kernel_refusal_is_named_and_nothing_is_recorded(nl, monkeypatch):
    def refuse(msg, msg_type, msg_flags):
        raise PyNetlinkError(errno.EINVAL)

    monkeypatch.setattr(nl.ipr, "nlm_request", refuse)
    with pytest.raises(NetlinkError, match=f"add SID {BSID}.*Invalid argument"):
        nl.add_sid(_bsid())
    assert not nl.registry


# -- the same against a real kernel ----------------------------------------------------

NS = os.environ.get("PYFRR_PWR_NETNS_PREFIX", "h7") + "-nlfast"


def _sh(*a, check=True):
    return subprocess.run(a, check=check, capture_output=True, text=True).stdout


@pytest.fixture
def ns():
    _sh("ip", "netns", "del", NS, check=False)
    _sh("ip", "netns", "add", NS)
    try:
        _sh("ip", "-n", NS, "link", "add", "sr0", "type", "veth", "peer", "name", "sr0p")
        for d in ("sr0", "sr0p", "lo"):
            _sh("ip", "-n", NS, "link", "set", d, "up")
        _sh("ip", "-n", NS, "addr", "add", "fd00:a00:9::1/48", "dev", "sr0")
        _sh("ip", "-n", NS, "addr", "add", "10.99.1.1/24", "dev", "sr0p")
        yield NS
    finally:
        _sh("ip", "netns", "del", NS, check=False)


@pytest.mark.frr
@pytest.mark.srv6_kernel
def test_on_a_real_kernel_excl_creates_once_and_claims_only_a_held_key(ns):
    with Netlink(ns) as nl:
        dumps = []
        real = nl._dump
        nl._dump = lambda fam: dumps.append(fam) or real(fam)
        nl.add_sid(_bsid())
        nl.add_sid(_bsid(SEGS[1:]))
        assert dumps == []
        shown = _sh("ip", "-n", ns, "-6", "route", "show", f"{BSID}/128")
        assert "End.B6.Encaps" in shown and "proto 240" in shown and SEGS[0] not in shown
        other = "fd00:a00:9:b6:a14:1:0:6"
        _sh("ip", "-n", ns, "-6", "route", "add", f"{other}/128", "dev", "sr0", "proto", "static", "metric", str(netlink.SID_METRIC))
        with pytest.raises(NetlinkError, match="belongs to protocol 4"):
            nl.add_sid(LocalSid(other, "End.B6.Encaps", dev="sr0", segs=SEGS))
        assert dumps == [socket.AF_INET6]
        assert "proto static" in _sh("ip", "-n", ns, "-6", "route", "show", f"{other}/128")
        nl.add_encap("10.20.201.0/24", SEGS, "sr0p")
        nl.add_encap("10.20.201.0/24", SEGS[::-1], "sr0p")
        assert len(_sh("ip", "-n", ns, "route", "show", "10.20.201.0/24").splitlines()) == 1
    with Netlink(ns) as again:  # a restarted agent: the key is held by our protocol, not in its registry
        again.add_sid(_bsid())
        assert again.remove_all() == 1
        assert BSID not in _sh("ip", "-n", ns, "-6", "route", "show")


@pytest.mark.frr
@pytest.mark.srv6_kernel
def test_on_a_real_kernel_our_routes_are_dumped_filtered_by_the_kernel(ns):
    """``find_installed`` and ``missing`` (the SRv6 sync after every link
    event) read only our routes: the dump asks the kernel to filter by
    protocol and table (NETLINK_GET_STRICT_CHK, kernel >= 4.20), instead of
    pyroute2 decoding every route of the namespace (~100 IPv6 and ~70 IPv4
    in fig-2-0: 25-36 ms of CPU a sync under load) to keep a handful."""
    for i in range(40):
        _sh("ip", "-n", ns, "-6", "route", "add", f"fd00:b00:{i}::/64", "dev", "sr0", "proto", "static")
        _sh("ip", "-n", ns, "route", "add", f"10.98.{i}.0/24", "dev", "sr0p", "proto", "static")
    _sh("ip", "-n", ns, "-6", "route", "add", "fd00:b01::/64", "dev", "sr0", "proto", "240", "table", "100")
    with Netlink(ns) as nl:
        nl.add_sid(_bsid())
        nl.add_encap("10.20.201.0/24", SEGS, "sr0p")
        decoded = []
        real = nl._request

        def counted(*a):
            rows = list(real(*a))
            decoded.extend(rows)
            return rows

        nl._request = counted
        found = nl.find_installed()
        assert sorted(type(e).__name__ for e in found) == ["EncapRoute", "SidRoute"]
        assert nl.missing() == []
        assert len(decoded) == 4  # ours, twice: nothing static, nothing of another table
