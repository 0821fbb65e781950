"""The PWR LSA's TLV objects and code points (RFC 3630 framing, draft sec.
2.1.9), with no encoding logic: ``wire`` turns them into bytes and back,
``wirejson`` into JSON. See docs/wire-format.md for every code point and
why the two profiles exist.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "MAX_BODY",
    "DEFAULT_OPAQUE_TYPE",
    "TLV_LINK",
    "TLV_TE_ENDPOINT",
    "TLV_AREA_BORDER",
    "TLV_REACH_VECTOR",
    "TLV_SRV6_LOCATOR",
    "ST_LINK_TYPE",
    "ST_LINK_ID",
    "ST_LOCAL_ADDR",
    "ST_REMOTE_ADDR",
    "ST_TE_METRIC",
    "ST_MAX_BW",
    "ST_ADMIN_GROUP",
    "ST_DELAY",
    "ST_AVAIL_BW",
    "ST_GENERATION",
    "ST_HIGHEST_BW",
    "ST_END_X_SID",
    "PROFILES",
    "LINK_P2P",
    "LINK_MULTIACCESS",
    "EP_HEAD",
    "EP_TAIL",
    "VEC_F_FRAGMENT",
    "PATH_INFO_LEN",
    "SRV6_LOC_FIXED_LEN",
    "SRV6_DX4_LEN",
    "DecodeError",
    "LinkTLV",
    "TEEndpoint",
    "AreaBorder",
    "PathInfo",
    "Fragment",
    "ReachabilityVector",
    "SRv6Locator",
    "UnknownTLV",
    "TLV",
]


MAX_BODY = 1480  # ospfd's limit for an API-originated body (ospf_api.h)
DEFAULT_OPAQUE_TYPE = 200  # private range 128-255 (RFC 5250 sec. 3)

# RFC 3630 sec. 2.4: top-level TLVs
TLV_LINK = 2
# Node-level TLVs of draft sec. 2 / 2.1.9, in the experimental range
TLV_TE_ENDPOINT = 32768
TLV_AREA_BORDER = 32769
TLV_REACH_VECTOR = 32770
TLV_SRV6_LOCATOR = 32771  # ours: the node's SRv6 locator, End and End.DX4 SIDs (issue 7)

# Link sub-TLVs common to both profiles
ST_LINK_TYPE = 1  # RFC 3630 sec. 2.5.1
ST_LINK_ID = 2  # sec. 2.5.2
ST_LOCAL_ADDR = 3  # sec. 2.5.3
ST_REMOTE_ADDR = 4  # sec. 2.5.4
ST_TE_METRIC = 5  # sec. 2.5.5
ST_MAX_BW = 6  # sec. 2.5.6
ST_ADMIN_GROUP = 9  # sec. 2.5.9
ST_DELAY = 27  # RFC 7471 sec. 4.1
ST_AVAIL_BW = 32  # RFC 7471 sec. 4.6
ST_GENERATION = 32771  # ours: newest-instance counter (docs/wire-format.md)
ST_HIGHEST_BW = 32772  # ours: highest capacity of a multi-capacity port (sec. 2.1.1)
ST_END_X_SID = 32773  # ours: this link end's SRv6 End.X SID, 16 octets (issue 7)

PROFILES = {
    "draft": {"pwr_mcast": 10, "pwr_consumed": 11, "pwr_available": 12},
    "experimental": {"pwr_mcast": 32768, "pwr_consumed": 32769, "pwr_available": 32770},
}

LINK_P2P = 1
LINK_MULTIACCESS = 2
EP_HEAD = 0x1
EP_TAIL = 0x2
VEC_F_FRAGMENT = 0x80
PATH_INFO_LEN = 28
SRV6_LOC_FIXED_LEN = 40  # router ID, length/flags/count, locator, End SID
SRV6_DX4_LEN = 24  # one End.DX4 entry: length, reserved, IPv4 prefix, SID


class DecodeError(ValueError):
    """A PWR LSA body that does not parse; ``offset`` is where it broke."""

    def __init__(self, offset: int, msg: str):
        super().__init__(f"offset {offset}: {msg}")
        self.offset = offset
        self.reason = msg


# ---------------------------------------------------------------- TLVs


@dataclass(frozen=True)
class LinkTLV:
    """RFC 3630 Link TLV carrying the draft's PWR sub-TLVs (sec. 2.1.9).

    Bandwidths are bytes/s (RFC 3630 sec. 2.5.6); PWR ratios are watts per
    byte/s of available bandwidth; delay is microseconds (RFC 7471).
    ``highest_bw`` is the highest capacity of a multi-capacity port running
    below it (sec. 2.1.1); None: the port runs at its highest capacity.
    """

    link_id: str
    link_type: int = LINK_P2P
    local_addrs: tuple = ()
    remote_addrs: tuple = ()
    te_metric: int | None = None
    max_bw: float | None = None
    highest_bw: float | None = None  # Link sub-TLV 32772, bytes/s
    avail_bw: float | None = None
    admin_group: int | None = None
    delay_us: int | None = None
    delay_anomalous: bool = False
    pwr_mcast: float | None = None  # Power-to-Multicast-replication-capacity
    pwr_consumed: float | None = None  # Consumed-Power-to-Available-Bandwidth
    pwr_available: float | None = None  # Available-Power-to-Available-Bandwidth
    generation: int | None = None
    end_x: str | None = None  # Link sub-TLV 32773: End.X SID (IPv6 address)
    unknown: tuple = ()  # ((type, bytes), ...) kept for re-encoding


@dataclass(frozen=True)
class TEEndpoint:
    """TE Endpoint TLV (draft sec. 2): this router is in {N'}."""

    router_id: str
    flags: int = EP_HEAD | EP_TAIL


@dataclass(frozen=True)
class AreaBorder:
    """Area Border TLV (draft sec. 2): an ABR and the areas it joins."""

    router_id: str
    areas: tuple = ()


@dataclass(frozen=True)
class PathInfo:
    """One <endpoint, Path info> entry (draft sec. 2.1.9): aggregates only."""

    endpoint: str
    pwr_sum: float
    min_avail_bw: float
    te_metric_sum: int = 0
    hop_count: int = 0
    admin_groups: int = 0  # OR of the links' admin groups
    delay_us: int = 0


@dataclass(frozen=True)
class Fragment:
    """Where one LSA's share of a long vector sits among its siblings."""

    generation: int
    index: int
    count: int


@dataclass(frozen=True)
class ReachabilityVector:
    """TE Reachability Vector TLV (draft sec. 2.1.9).

    ``abr_chain`` is the draft's ``{ABR1, ABR2, ...}``: the originating ABR
    first, then the ABRs the vector was learnt through. ``area`` is the area
    whose endpoints the paths reach. Paths are ordered by PWR sum.
    """

    abr_chain: tuple
    area: str
    paths: tuple = ()
    fragment: Fragment | None = None


@dataclass(frozen=True)
class SRv6Locator:
    """SRv6 Locator TLV (ours, issue 7): the node's locator (an IPv6 prefix,
    ``"fd00:a00:2::/48"``), its End (node) SID and, per IPv4 prefix it
    serves as a TE tail-end, that prefix's End.DX4 SID: ``dx4`` is
    ``((prefix, sid), ...)`` ordered by prefix as given. End.X SIDs travel
    per link (``LinkTLV.end_x``)."""

    router_id: str
    locator: str
    end_sid: str
    dx4: tuple = ()


@dataclass(frozen=True)
class UnknownTLV:
    type: int
    value: bytes


TLV = LinkTLV | TEEndpoint | AreaBorder | ReachabilityVector | SRv6Locator | UnknownTLV
