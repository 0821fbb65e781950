"""A node's SRv6 SID plan (RFC 8986; pure, no I/O).

There is no MPLS in these kernels, so the TE-LSPs the draft instantiates on
the power-shortest path (draft sec. 1.2, 2.1.7) are SRv6 paths: the
head-end pushes an outer IPv6 header with a Segment Routing Header (RFC
8754) listing one SID per hop, and each router on the path executes its
own SID's behaviour (RFC 8986 sec. 4). This module says which SIDs a node
owns and what their values are; ``sidlist`` turns a chosen path into a SID
list, ``netlink`` installs the SIDs into the kernel.

Locator
-------
Each node owns one locator, a /48 by default (RFC 8986 sec. 3.1: a SID is
LOC:FUNCT:ARG). The default is derived from the OSPF router ID::

    fd00:RRRR:RRRR::/48     10.0.0.2 -> fd00:a00:2::/48

the 32-bit router ID filling the 2nd and 3rd hextets. Why: every agent can
name any router's locator from the router ID it already has in the LSDB
(no allocation, no coordination, nothing to persist across restarts); OSPF
router IDs are unique in a domain, so locators are too; and the router ID
is readable in every SID. fd00::/16 is unique-local space (RFC 4193), right
for labs; RFC 4193 wants a random global ID, which this is not, so a real
deployment configures its locators (``locator=``, e.g. out of the SRv6 SID
block 5f00::/16 of RFC 9602, or pass ``block=``), and a configured locator
always overrides the derived one.

Function numbering
------------------
The 80 bits after a /48 locator are the function (the 4th hextet names the
behaviour) and a 64-bit discriminator (hextets 5-8); no arguments are
used. Every value is derived from the thing it serves, so a restarted agent
computes the same SIDs again and finds them in the kernel::

    LOC::1                      the node's own address (on the always-up
                                device, the SRv6 tunnel source): not a SID
    LOC:1::                     End         node SID (RFC 8986 sec. 4, End)
    LOC:2:I:0:AAAA:AAAA         End.X       one per adjacency (L3 cross-connect):
                                AAAA:AAAA the local IPv4 interface address
                                (the TED's link key), I an index, 0 unless
                                two adjacencies share that address (a LAN)
    LOC:4:0:L:PPPP:PPPP         End.DX4     one per IPv4 prefix/host the
                                node serves as a tail-end (decapsulate, IPv4
                                cross-connect to nh4): the
                                prefix's network address and its length L
    LOC:6::                     End.DT6     decapsulate, look up in the main table: ends an
                                ABR's binding-SID list at the tail, whose
                                inner header then carries on (``sidlist``)
    LOC:b6:HHHH:HHHH:NNNN:NNNN  End.B6.Encaps  binding SID (push a new outer header) of an
                                LSP at an ABR: HHHH:HHHH the LSP's head-end
                                router ID, NNNN:NNNN its LSP ID; allocated
                                per LSP, with no state at the ABR

Locators shorter than /48 leave zero bits between locator and function;
longer ones are refused (the function needs the low 80 bits).

End.X SIDs take the neighbour's *global* IPv6 address as next hop: the
kernel's End.X resolves ``nh6`` without an interface, so a link-local
next hop would be ambiguous and is refused.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

__all__ = [
    "SidError",
    "LOCATOR_LEN",
    "BLOCK",
    "F_END",
    "F_END_X",
    "F_END_DX4",
    "F_END_DT6",
    "F_END_B6_ENCAPS",
    "BEHAVIOURS",
    "Adjacency",
    "Dx4Prefix",
    "LocalSid",
    "SidPlan",
    "router_id",
    "default_locator",
    "parse_locator",
    "node_address",
    "end_sid",
    "end_x_sid",
    "dx4_sid",
    "dt6_sid",
    "binding_sid",
    "decode_sid",
]

LOCATOR_LEN = 48
BLOCK = "fd00::/16"

F_END = 0x0001
F_END_X = 0x0002
F_END_DX4 = 0x0004
F_END_DT6 = 0x0006
F_END_B6_ENCAPS = 0x00B6

BEHAVIOURS = {
    F_END: "End",
    F_END_X: "End.X",
    F_END_DX4: "End.DX4",
    F_END_DT6: "End.DT6",
    F_END_B6_ENCAPS: "End.B6.Encaps",
}
_FUNCTION = {v: k for k, v in BEHAVIOURS.items()}


class SidError(ValueError):
    """A SID plan, locator or SID that cannot be used; the message names it."""


# -- values -------------------------------------------------------------------


def router_id(rid) -> str:
    """A router ID as dotted quad, checked."""
    try:
        a = ipaddress.IPv4Address(rid)
    except (ipaddress.AddressValueError, ValueError, TypeError):
        raise SidError(f"router ID {rid!r} is not a dotted-quad IPv4 address") from None
    if int(a) == 0:
        raise SidError("router ID 0.0.0.0 is not a router ID")
    return str(a)


def default_locator(rid: str, block: str = BLOCK) -> ipaddress.IPv6Network:
    """fd00:RRRR:RRRR::/48: the 32-bit router ID after a /16 block."""
    rid = router_id(rid)
    try:
        b = ipaddress.IPv6Network(block)
    except ValueError as exc:
        raise SidError(f"SID block {block!r}: {exc}") from None
    if b.prefixlen != 16:
        raise SidError(f"SID block {block} must be a /16: the router ID fills the next 32 bits of a /48")
    value = int(b.network_address) | (int(ipaddress.IPv4Address(rid)) << 80)
    return ipaddress.IPv6Network((value, LOCATOR_LEN))


def parse_locator(locator) -> ipaddress.IPv6Network:
    """A configured locator, checked: an IPv6 prefix /16../48, host bits zero,
    global or unique-local unicast."""
    try:
        net = locator if isinstance(locator, ipaddress.IPv6Network) else ipaddress.IPv6Network(locator)
    except (ValueError, TypeError) as exc:
        raise SidError(f"locator {locator!r} is not an IPv6 prefix with zero host bits: {exc}") from None
    if not 16 <= net.prefixlen <= LOCATOR_LEN:
        raise SidError(f"locator {net} must be /16 to /{LOCATOR_LEN}: the SID function needs the low 80 bits")
    a = net.network_address
    if a.is_multicast or a.is_link_local or a.is_loopback or a.is_unspecified or a.ipv4_mapped is not None:
        raise SidError(f"locator {net} is not global or unique-local unicast space")
    return net


def _sid(locator, function: int, disc: int = 0) -> str:
    net = parse_locator(locator)
    return str(ipaddress.IPv6Address(int(net.network_address) | (function << 64) | disc))


def node_address(locator) -> str:
    """LOC::1, the node's own address on its always-up device (not a SID)."""
    return str(ipaddress.IPv6Address(int(parse_locator(locator).network_address) | 1))


def end_sid(locator) -> str:
    return _sid(locator, F_END)


def dt6_sid(locator) -> str:
    return _sid(locator, F_END_DT6)


def _v4(addr, what: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(addr)
    except (ValueError, TypeError):
        raise SidError(f"{what} {addr!r} is not an IPv4 address") from None


def end_x_sid(locator, local: str, index: int = 0) -> str:
    """The End.X SID of the adjacency whose local IPv4 address is ``local``."""
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index <= 0xFFFF:
        raise SidError(f"End.X index {index!r} must be an integer 0..65535")
    return _sid(locator, F_END_X, (index << 48) | int(_v4(local, "End.X local address")))


def _prefix(prefix) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(prefix)
    except (ValueError, TypeError) as exc:
        raise SidError(f"End.DX4 prefix {prefix!r} is not an IPv4 prefix with zero host bits: {exc}") from None


def dx4_sid(locator, prefix) -> str:
    """The End.DX4 SID for an IPv4 prefix (or host, /32) the node serves."""
    p = _prefix(prefix)
    return _sid(locator, F_END_DX4, (p.prefixlen << 32) | int(p.network_address))


def binding_sid(locator, head: str, lsp_id: int) -> str:
    """The End.B6.Encaps SID an ABR uses for one LSP (head-end, LSP ID)."""
    if not isinstance(lsp_id, int) or isinstance(lsp_id, bool) or not 0 <= lsp_id < 2**32:
        raise SidError(f"LSP ID {lsp_id!r} must be a 32-bit unsigned integer")
    return _sid(locator, F_END_B6_ENCAPS, (int(ipaddress.IPv4Address(router_id(head))) << 32) | lsp_id)


def decode_sid(sid: str, locator) -> tuple[str, dict]:
    """(behaviour, fields) of a SID of ``locator``: the inverse of the
    functions above. Raises SidError for a SID outside the locator or of
    an unknown function."""
    net = parse_locator(locator)
    try:
        a = ipaddress.IPv6Address(sid)
    except ValueError:
        raise SidError(f"SID {sid!r} is not an IPv6 address") from None
    if a not in net:
        raise SidError(f"SID {a} is not in locator {net}")
    v = int(a)
    function = (v >> 64) & 0xFFFF
    disc = v & (2**64 - 1)
    if (v & ((1 << (128 - net.prefixlen)) - 1)) >> 80:
        raise SidError(f"SID {a}: the bits between locator {net} and the function are not zero")
    b = BEHAVIOURS.get(function)
    if b is None:
        raise SidError(f"SID {a}: unknown function {function:#x} (known: {', '.join(f'{k:#x} {n}' for k, n in BEHAVIOURS.items())})")
    if b in ("End", "End.DT6"):
        if disc:
            raise SidError(f"SID {a}: {b} takes no discriminator")
        return b, {}
    if b == "End.X":
        if (disc >> 32) & 0xFFFF:
            raise SidError(f"SID {a}: End.X hextet 6 must be zero")
        return b, {"index": disc >> 48, "local": str(ipaddress.IPv4Address(disc & 0xFFFFFFFF))}
    if b == "End.DX4":
        plen = (disc >> 32) & 0xFFFF
        if disc >> 48 or plen > 32:
            raise SidError(f"SID {a}: not an End.DX4 prefix encoding")
        try:
            p = ipaddress.IPv4Network((disc & 0xFFFFFFFF, plen))
        except ValueError as exc:
            raise SidError(f"SID {a}: {exc}") from None
        return b, {"prefix": str(p)}
    return b, {"head": str(ipaddress.IPv4Address(disc >> 32)), "lsp_id": disc & 0xFFFFFFFF}


# -- a node's plan --------------------------------------------------------------


def _ifname(name, what: str) -> str:
    if not isinstance(name, str) or not name or len(name) > 15 or any(c in name for c in "/ \t\n:") or name in (".", ".."):
        raise SidError(f"{what} name {name!r} is not a Linux interface name")
    return name


@dataclass(frozen=True)
class Adjacency:
    """One adjacency: our interface, the neighbour's global IPv6 address on
    it (End.X's next hop) and our IPv4 address on it (the TED link key)."""

    ifname: str
    nh6: str
    local: str
    index: int = 0

    def __post_init__(self):
        _ifname(self.ifname, "adjacency interface")
        try:
            nh = ipaddress.IPv6Address(self.nh6)
        except (ValueError, TypeError):
            raise SidError(f"adjacency {self.ifname}: neighbour address {self.nh6!r} is not an IPv6 address") from None
        if nh.is_link_local:
            raise SidError(
                f"adjacency {self.ifname}: End.X next hop {nh} is link-local; the kernel resolves nh6 without an interface, give the neighbour's global address"
            )
        if nh.is_multicast or nh.is_unspecified or nh.is_loopback:
            raise SidError(f"adjacency {self.ifname}: {nh} is not a neighbour's unicast address")
        object.__setattr__(self, "nh6", str(nh))
        object.__setattr__(self, "local", str(_v4(self.local, f"adjacency {self.ifname}: local address")))
        end_x_sid("fd00::/48", self.local, self.index)  # checks the index


@dataclass(frozen=True)
class Dx4Prefix:
    """An IPv4 prefix (or host) a tail-end serves: End.DX4 sends decapsulated
    packets to ``nh4``; ``ifname`` is the SID route's device (default: the
    plan's always-up device, so a link flap does not flush it)."""

    prefix: str
    nh4: str
    ifname: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "prefix", str(_prefix(self.prefix)))
        object.__setattr__(self, "nh4", str(_v4(self.nh4, f"End.DX4 {self.prefix}: next hop")))
        if self.ifname is not None:
            _ifname(self.ifname, f"End.DX4 {self.prefix}: device")


@dataclass(frozen=True)
class LocalSid:
    """One SID as the kernel needs it (``netlink.add_sid``): its value, its
    RFC 8986 behaviour, the route's device and the behaviour's parameters.
    ``segs`` (End.B6.Encaps) are in path order, first segment first.
    ``key`` names what it serves: the End.X local address, the End.DX4
    prefix or (head-end, LSP ID) of a binding SID."""

    sid: str
    behaviour: str
    dev: str | None = None
    nh6: str | None = None
    nh4: str | None = None
    table: int | None = None
    segs: tuple = ()
    key: object = None

    def __post_init__(self):
        if self.behaviour not in _FUNCTION:
            raise SidError(f"SID {self.sid}: unknown behaviour {self.behaviour!r}")
        try:
            object.__setattr__(self, "sid", str(ipaddress.IPv6Address(self.sid)))
            object.__setattr__(self, "segs", tuple(str(ipaddress.IPv6Address(s)) for s in self.segs))
        except ValueError as exc:
            raise SidError(f"SID {self.sid}: {exc}") from None
        need = {"End.X": ("nh6",), "End.DX4": ("nh4",), "End.DT6": ("table",), "End.B6.Encaps": ("segs",)}.get(self.behaviour, ())
        for f in need:
            if not getattr(self, f):
                raise SidError(f"{self.behaviour} SID {self.sid} needs {f}")

    def describe(self) -> str:
        extra = {"End.X": f" nh6 {self.nh6}", "End.DX4": f" nh4 {self.nh4}", "End.DT6": f" table {self.table}", "End.B6.Encaps": f" segs {','.join(self.segs)}"}
        return f"{self.sid} {self.behaviour}{extra.get(self.behaviour, '')}" + (f" dev {self.dev}" if self.dev else "")


@dataclass(frozen=True)
class SidPlan:
    """The SIDs one node owns. Build with ``SidPlan.build``; immutable (a
    changed set of links is a new plan: ``with_adjacencies``).

    ``local_sids()`` is what the node installs at start (node SID, End.DT6,
    one End.X per adjacency, one End.DX4 per prefix); binding SIDs come per
    LSP (``binding``). ``advertised()`` is what other routers need to know
    (see ``sidlist.SidTable.add``)."""

    router_id: str
    locator: ipaddress.IPv6Network
    adjacencies: tuple = ()
    prefixes: tuple = ()
    sid_dev: str = "sr0"
    configured: bool = False

    @classmethod
    def build(cls, rid: str, *, locator=None, adjacencies=(), prefixes=(), sid_dev: str = "sr0", block: str = BLOCK) -> SidPlan:
        """``locator`` overrides the one derived from ``rid`` (``block``);
        ``adjacencies`` are ``Adjacency`` or dicts of its fields, ``prefixes``
        ``Dx4Prefix`` or dicts; ``sid_dev`` is the always-up device holding
        the locator."""
        rid = router_id(rid)
        loc = parse_locator(locator) if locator is not None else default_locator(rid, block)
        adjs = tuple(a if isinstance(a, Adjacency) else Adjacency(**a) for a in adjacencies)
        pfx = tuple(p if isinstance(p, Dx4Prefix) else Dx4Prefix(**p) for p in prefixes)
        seen: dict = {}
        for a in adjs:
            other = seen.setdefault((a.local, a.index), a)
            if other is not a:
                raise SidError(
                    f"router {rid}: adjacencies {other.ifname} and {a.ifname} share local address {a.local} and index {a.index}: their End.X SIDs would collide; give one another index"
                )
        seen_p: dict = {}
        for p in pfx:
            other = seen_p.setdefault(p.prefix, p)
            if other is not p:
                raise SidError(f"router {rid}: prefix {p.prefix} is listed twice (next hops {other.nh4} and {p.nh4}): one End.DX4 SID per prefix")
        _ifname(sid_dev, "SID device")
        return cls(rid, loc, adjs, pfx, sid_dev, locator is not None)

    def with_adjacencies(self, adjacencies) -> SidPlan:
        return SidPlan.build(self.router_id, locator=self.locator, adjacencies=adjacencies, prefixes=self.prefixes, sid_dev=self.sid_dev)

    def with_prefixes(self, prefixes) -> SidPlan:
        return SidPlan.build(self.router_id, locator=self.locator, adjacencies=self.adjacencies, prefixes=prefixes, sid_dev=self.sid_dev)

    # -- the SIDs ---------------------------------------------------------

    @property
    def address(self) -> str:
        """LOC::1, for the always-up device and ``ip sr tunsrc``."""
        return node_address(self.locator)

    @property
    def node(self) -> LocalSid:
        return LocalSid(end_sid(self.locator), "End", dev=self.sid_dev, key=self.router_id)

    @property
    def dt6(self) -> LocalSid:
        return LocalSid(dt6_sid(self.locator), "End.DT6", dev=self.sid_dev, table=254, key=self.router_id)

    def _end_x(self, a: Adjacency) -> LocalSid:
        return LocalSid(end_x_sid(self.locator, a.local, a.index), "End.X", dev=a.ifname, nh6=a.nh6, key=a.local)

    def end_x(self, local: str | None = None, *, ifname: str | None = None, nh6: str | None = None) -> LocalSid:
        """The End.X SID of one adjacency, found by its local IPv4 address,
        interface name or neighbour address (any combination, which must
        match exactly one)."""
        if nh6 is not None:
            try:
                nh6 = str(ipaddress.IPv6Address(nh6))
            except ValueError:
                raise SidError(f"{nh6!r} is not an IPv6 address") from None
        if local is None and ifname is None and nh6 is None:
            raise SidError("name the adjacency: local address, ifname or nh6")
        hits = [a for a in self.adjacencies if (local is None or a.local == local) and (ifname is None or a.ifname == ifname) and (nh6 is None or a.nh6 == nh6)]
        what = ", ".join(f"{k} {v}" for k, v in (("local", local), ("ifname", ifname), ("nh6", nh6)) if v is not None)
        if not hits:
            raise SidError(f"router {self.router_id} has no adjacency with {what}")
        if len(hits) > 1:
            raise SidError(f"router {self.router_id}: {len(hits)} adjacencies match {what} ({', '.join(a.ifname for a in hits)}): name one")
        return self._end_x(hits[0])

    def dx4(self, prefix) -> LocalSid:
        p = str(_prefix(prefix))
        for d in self.prefixes:
            if d.prefix == p:
                return LocalSid(dx4_sid(self.locator, p), "End.DX4", dev=d.ifname or self.sid_dev, nh4=d.nh4, key=p)
        raise SidError(f"router {self.router_id} serves no prefix {p}")

    def binding(self, head: str, lsp_id: int, segs) -> LocalSid:
        """The End.B6.Encaps SID this node (an ABR) installs for one LSP,
        pushing ``segs`` (path order: first segment first)."""
        segs = tuple(segs)
        if not segs:
            raise SidError(f"binding SID of LSP {head}/{lsp_id} at {self.router_id}: empty SID list")
        return LocalSid(binding_sid(self.locator, head, lsp_id), "End.B6.Encaps", dev=self.sid_dev, segs=segs, key=(router_id(head), lsp_id))

    def local_sids(self) -> tuple:
        return (self.node, self.dt6, *(self._end_x(a) for a in self.adjacencies), *(self.dx4(p.prefix) for p in self.prefixes))

    def advertised(self) -> dict:
        """What this node tells others (JSON-ready): its locator, node and
        End.DT6 SIDs, End.X SIDs by local IPv4 address (index 0 only: the
        TED keys links by local address), End.DX4 SIDs by prefix."""
        return {
            "router_id": self.router_id,
            "locator": str(self.locator),
            "end": self.node.sid,
            "dt6": self.dt6.sid,
            "end_x": {a.local: self._end_x(a).sid for a in self.adjacencies if a.index == 0},
            "dx4": {p.prefix: dx4_sid(self.locator, p.prefix) for p in self.prefixes},
        }
