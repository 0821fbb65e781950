"""The PWR LSA's TLV objects and code points (RFC 3630 framing, draft sec.
2.1.9), with no encoding logic: ``wire`` turns them into bytes and back,
``wirejson`` into JSON. See docs/wire-format.md for every code point and
why the two profiles exist.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from itertools import repeat

try:
    from collections import _tuplegetter  # what namedtuple's fields are: the fastest item getter
except ImportError:  # pragma: no cover - another Python
    from operator import itemgetter as _itemgetter

    def _tuplegetter(i, doc):
        return property(_itemgetter(i), doc=doc)


__all__ = [
    "MAX_BODY",
    "DEFAULT_OPAQUE_TYPE",
    "TLV_LINK",
    "TLV_TE_ENDPOINT",
    "TLV_AREA_BORDER",
    "TLV_REACH_VECTOR",
    "TLV_SRV6_LOCATOR",
    "TLV_NODE_ENERGY",
    "TLV_SERVICE_INSTANCE",
    "ST_LINK_TYPE",
    "ST_LINK_ID",
    "ST_LOCAL_ADDR",
    "ST_REMOTE_ADDR",
    "ST_TE_METRIC",
    "ST_MAX_BW",
    "ST_ADMIN_GROUP",
    "ST_DELAY",
    "ST_DELAY_MINMAX",
    "ST_DELAY_VAR",
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
    "NE_POWER",
    "NE_CAPACITY",
    "NE_ENERGY",
    "NE_SUPPLY_LOAD",
    "NE_GREEN_SHARE",
    "NE_PRICE",
    "NE_CARBON",
    "NE_SOURCE",
    "NE_READINGS",
    "NE_LEAK",
    "SI_LEAK",
    "MAX_LEAK_CHAIN",
    "READING_LEN",
    "ACCURACY",
    "SI_SERVICE_ID",
    "SI_ADDRESS",
    "SI_CAPACITY",
    "SI_L0",
    "SI_L2",
    "L0_LEN",
    "L2_LEN",
    "METRIC_SOURCES",
    "STATISTICS",
    "L0_METRICS",
    "MAX_NAME",
    "Reading",
    "NodeEnergy",
    "L0Metric",
    "ServiceInstance",
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
TLV_NODE_ENERGY = 32772  # ours: a compute site's energy status (issue 9, seed sec. 4.3)
TLV_SERVICE_INSTANCE = 32773  # ours: one CATS service instance (issue 9, CATS framework)

# Link sub-TLVs common to both profiles
ST_LINK_TYPE = 1  # RFC 3630 sec. 2.5.1
ST_LINK_ID = 2  # sec. 2.5.2
ST_LOCAL_ADDR = 3  # sec. 2.5.3
ST_REMOTE_ADDR = 4  # sec. 2.5.4
ST_TE_METRIC = 5  # sec. 2.5.5
ST_MAX_BW = 6  # sec. 2.5.6
ST_ADMIN_GROUP = 9  # sec. 2.5.9
ST_DELAY = 27  # RFC 7471 sec. 4.1
ST_DELAY_MINMAX = 28  # RFC 7471 sec. 4.2: min/max unidirectional link delay, 8 octets
ST_DELAY_VAR = 29  # RFC 7471 sec. 4.3: unidirectional delay variation, 24-bit microseconds
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

# Node Energy TLV sub-TLVs (their own registry, nested in TLV 32772)
NE_POWER = 1  # power drawn, W (GREEN: instantaneous power)
NE_CAPACITY = 2  # power capacity, W (nameplate / supply capacity)
NE_ENERGY = 3  # energy consumed, J (accumulated)
NE_SUPPLY_LOAD = 4  # power-system supply load, ratio 0..1 (seed sec. 4.3)
NE_GREEN_SHARE = 5  # green generation share of the supply, ratio 0..1
NE_PRICE = 6  # electricity price, currency per MWh (may be negative), + ISO 4217 code
NE_CARBON = 7  # carbon intensity, gCO2eq/kWh
NE_SOURCE = 8  # source id -> name (repeatable)
NE_LEAK = 9  # leaked by ABRs: origin area + ABR chain (draft sec. 2.1.9's {ABR1, ABR2, ...} for energy)
# field name, sub-TLV code, unit, kind ("mag": >= 0, "ratio": 0..1, "signed": finite)
NE_READINGS = (
    ("power_w", NE_POWER, "W", "mag"),
    ("capacity_w", NE_CAPACITY, "W", "mag"),
    ("energy_j", NE_ENERGY, "J", "mag"),
    ("supply_load", NE_SUPPLY_LOAD, "ratio", "ratio"),
    ("green_share", NE_GREEN_SHARE, "ratio", "ratio"),
    ("price_per_mwh", NE_PRICE, "<currency>/MWh", "signed"),
    ("carbon_g_per_kwh", NE_CARBON, "gCO2eq/kWh", "mag"),
)
READING_LEN = 16  # value f32, timestamp u32, age u16, accuracy u8, rsvd, source u16, rsvd
ACCURACY = {"unknown": 0, "measured": 1, "estimated": 2, "nominal": 3}  # GREEN data-source-accuracy
MAX_NAME = 64  # octets of a source name or a service ID (UTF-8)

# Service Instance TLV sub-TLVs (nested in TLV 32773; draft-ietf-cats-metric-definition)
SI_SERVICE_ID = 1  # CS-ID, UTF-8, 1..64 octets
SI_ADDRESS = 2  # CSCI-ID: the instance's IPv4 (4) or IPv6 (16) address
SI_CAPACITY = 3  # bytes/s of demand the instance can take, float32
SI_L0 = 4  # a level-0 raw metric (repeatable, one per (metric, statistic))
SI_L2 = 5  # the level-2 normalised score 0..10
SI_LEAK = 6  # leaked by ABRs: origin area + ABR chain, as NE_LEAK
MAX_LEAK_CHAIN = 8  # ABRs in a leak sub-TLV's chain (backbone <-> non-backbone needs 2)
L0_LEN = 12  # metric u16, statistic u8, source u8, window ms u32, value f32
L2_LEN = 8  # score u8, source u8, statistic u8, rsvd, window ms u32
METRIC_SOURCES = {"nominal": 0, "estimated": 1, "measured": 2, "normalised": 3, "aggregated": 4}
STATISTICS = {"cur": 0, "mean": 1, "min": 2, "max": 3}
# level-0 metric type codes (ours: the draft lists categories, assigns no codes)
L0_METRICS = {
    1: ("cpu_utilisation", "ratio"),
    2: ("gpu_utilisation", "ratio"),
    3: ("memory_utilisation", "ratio"),
    4: ("cpu_power", "W"),
    5: ("gpu_power", "W"),
    6: ("processing_delay", "us"),
    7: ("work_rate", "units/s"),
    8: ("site_power_per_unit", "W per unit/s"),
}


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
    # RFC 7471 sec. 4.2 / 4.3 (issue 9 sec. 2): min/max delay and delay variation, microseconds
    delay_min_us: int | None = None
    delay_max_us: int | None = None
    delay_minmax_anomalous: bool = False
    delay_var_us: int | None = None


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


@dataclass(frozen=True, eq=False, init=False)
class PathInfo(tuple):
    """One <endpoint, Path info> entry (draft sec. 2.1.9): aggregates only.

    A frozen dataclass like the other TLV objects (fields, defaults, repr,
    ``dataclasses.fields/replace/asdict``, ``FrozenInstanceError`` on
    assignment; equal only to another ``PathInfo``, hashed as its field
    tuple, not ordered), stored as a tuple of its fields: an ABR builds
    10^5-10^6 of them a round at ISP scale (issue 10), and a tuple is about
    4x cheaper to build than an object with a ``__dict__`` (``PathInfo._of``
    builds many at once) and a third of its size.
    """

    __slots__ = ()

    endpoint: str
    pwr_sum: float
    min_avail_bw: float
    te_metric_sum: int = 0
    hop_count: int = 0
    admin_groups: int = 0  # OR of the links' admin groups
    delay_us: int = 0
    jitter_us: int = 0  # sum of the links' delay variation (RFC 7471 sec. 4.3), 16 bits: 0xFFFF = 65.535 ms or more

    def __new__(cls, endpoint, pwr_sum, min_avail_bw, te_metric_sum=0, hop_count=0, admin_groups=0, delay_us=0, jitter_us=0):
        return _tuple_new(cls, (endpoint, pwr_sum, min_avail_bw, te_metric_sum, hop_count, admin_groups, delay_us, jitter_us))

    @classmethod
    def _of(cls, *columns) -> list:
        """PathInfos from parallel columns (endpoints, PWR sums, ...), in
        field order, with no check: the values must be what the
        constructor would be given."""
        return list(map(_tuple_new, repeat(cls), zip(*columns)))

    def __getnewargs__(self):  # pickle and copy: the fields, not one tuple
        return tuple(self)

    # a dataclass's comparisons: equal only within the class (a plain
    # tuple of the same values is not equal), no order
    def __eq__(self, other):
        if other.__class__ is self.__class__:
            return _tuple_eq(self, other)
        return False if isinstance(other, tuple) else NotImplemented

    def __ne__(self, other):
        if other.__class__ is self.__class__:
            return _tuple_ne(self, other)
        return True if isinstance(other, tuple) else NotImplemented

    def __lt__(self, other):
        return NotImplemented

    __le__ = __gt__ = __ge__ = __lt__
    __hash__ = tuple.__hash__  # the frozen dataclass's hash((fields...)): the same number


_tuple_new, _tuple_eq, _tuple_ne = tuple.__new__, tuple.__eq__, tuple.__ne__
for _i, _f in enumerate(dataclasses.fields(PathInfo)):  # field i is item i (the class attributes were the defaults)
    setattr(PathInfo, _f.name, _tuplegetter(_i, f"field {_f.name}"))
del _i, _f


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
class Reading:
    """One energy figure with where and when it came from (GREEN terms):
    ``ts`` Unix seconds it was read (0: unknown), ``age_s`` its age when
    the LSA was built (seconds, saturating at 65535), ``accuracy`` one of
    ``ACCURACY``, ``source`` an id named in ``NodeEnergy.sources`` (0: none)."""

    value: float
    ts: int = 0
    age_s: int = 0
    accuracy: str = "measured"
    source: int = 0


@dataclass(frozen=True)
class NodeEnergy:
    """Node Energy TLV (ours, issue 9; seed sec. 4.3): a compute site's
    power drawn, capacity, energy, and its power system's supply load,
    green share, price (``currency`` per MWh) and carbon intensity; each a
    ``Reading`` or None (not known, or too old to advertise).

    ``origin_area`` / ``abr_chain`` (sub-TLV 9): set on a copy an ABR
    leaked into another area (draft sec. 2.1.9, as vectors): the area the
    site advertised it in, and the ABRs it was leaked through, the
    advertising one last; ``router_id`` stays the site's. Both unset on
    the site's own copy."""

    router_id: str
    power_w: Reading | None = None
    capacity_w: Reading | None = None
    energy_j: Reading | None = None
    supply_load: Reading | None = None
    green_share: Reading | None = None
    price_per_mwh: Reading | None = None
    currency: str | None = None  # ISO 4217, three letters A-Z; with price_per_mwh only
    carbon_g_per_kwh: Reading | None = None
    sources: tuple = ()  # ((id, name), ...), ids 1..65535 distinct
    unknown: tuple = ()
    origin_area: str | None = None  # leaked copy: the site's area (sub-TLV 9)
    abr_chain: tuple = ()  # leaked copy: ABRs it came through, the advertising router last


@dataclass(frozen=True)
class L0Metric:
    """A level-0 (raw) CATS metric (draft-ietf-cats-metric-definition):
    ``metric`` a code of ``L0_METRICS`` (others kept as numbers), its
    ``statistic`` and ``source`` by name, the window it was taken over."""

    metric: int
    value: float
    statistic: str = "cur"
    source: str = "measured"
    window_ms: int = 0


@dataclass(frozen=True)
class ServiceInstance:
    """Service Instance TLV (ours, issue 9): one instance (CSCI-ID
    ``address``) of service ``service_id`` (CS-ID) at compute site
    ``router_id``, its capacity in bytes/s of demand, level-0 metrics and
    the level-2 score 0..10 (higher: more capacity to spare), with the
    score's source, statistic and window. ``origin_area`` / ``abr_chain``
    (sub-TLV 6): as ``NodeEnergy``'s, on a copy an ABR leaked."""

    router_id: str
    service_id: str
    address: str
    capacity: float | None = None
    l0: tuple = ()
    l2_score: int | None = None
    l2_source: str = "normalised"
    l2_statistic: str = "mean"
    l2_window_ms: int = 0
    unknown: tuple = ()
    origin_area: str | None = None  # leaked copy: the site's area (sub-TLV 6)
    abr_chain: tuple = ()  # leaked copy: ABRs it came through, the advertising router last


@dataclass(frozen=True)
class UnknownTLV:
    type: int
    value: bytes


TLV = LinkTLV | TEEndpoint | AreaBorder | ReachabilityVector | SRv6Locator | NodeEnergy | ServiceInstance | UnknownTLV
