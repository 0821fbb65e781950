"""The power model every strategy is judged by: chassis, line cards, ports.

Each router has a chassis (always on: it terminates its own PoP's traffic),
line cards and ports. A line card draws a power profile of its load (draft
sec. 2.1.8: linear, flattening = concave, exponential = convex, all from an
idle draw to a full-load draw); its load is the traffic its ports send over
their speed (``model.power.RouterPower.card_load``, what the agent
measures). A port (interface card with its optics) draws a constant power
when its link is up. In strategies that switch idle elements off, a link
carrying nothing in either direction sleeps with both its ports, and a card
whose ports all sleep sleeps too (0 W).

The draft's metric is computed from the same figures: for each router a
``RouterPower`` whose card profile is the card's draw plus its ports', so
POWER = that card power per normalised port / available bandwidth (sec.
2.1.1) and Available-POWER = (P(1) - P(load)) per normalised port /
available bandwidth (sec. 2.1.8.2), exactly as an agent would advertise.

Defaults, for networks without a power.yml (topohub), are the DC power
figures of the Juniper T640 hardware guide (Table 72, "T640 Component DC
Power Requirements", at -48 VDC; W = A x 48), a core router of the era of
the draft and of the SNDlib networks:

* chassis: base system 16.9 A + host subsystem (Routing Engine and control
  board) 2.6 A + SCG 0.2 A = 19.7 A = 946 W;
* 10G line card: FPC3 6.8 A = 326 W, four PIC slots; a 10G port: a PIC at
  the guide's "generalized typical value" 0.625 A = 30 W;
* 40G line card: Type 4 FPC 8.2 A = 394 W, one PIC; a 40G port: the Type 4
  PIC "generalized maximum value" 3.3 A = 158 W.

Those are nameplate draws, taken as full load. How much less an idle card
draws is not in a data sheet; measurements agree it is little: "the
router's link power consumption can vary by 20 Watts between idle and
traffic" (the draft, sec. 1.1, after Chabarek et al., INFOCOM 2008), "only
negligible signs of power-load proportionality in all five cases" (Bell
Labs, "An Assessment of Power-Load Proportionality in Network Systems",
2013). The default idle draw is 90 % of full load (32.6 W of range on a
10G card), shape linear; both are options.

Pure: ``build`` takes the network and either the defaults or the routers'
power.yml models (``files.power`` has read them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pyfrr_pwr.evaluate.network import Network
from pyfrr_pwr.evaluate.placement import EPS_BPS
from pyfrr_pwr.files.power import ConfigError
from pyfrr_pwr.model import metric
from pyfrr_pwr.model.power import LineCard, Port, RouterPower

__all__ = ["CardType", "Defaults", "DEFAULTS", "Card", "PowerModel", "Breakdown", "build", "profile_of", "SHAPES"]

SHAPES = ("linear", "flattening", "exponential")
W_PER_AMP = 48.0  # -48 VDC plant


@dataclass(frozen=True)
class CardType:
    speed: float  # bits/s of each port
    ports: int  # ports per card
    card_w: float  # card at full load
    port_w: float  # each port when up


@dataclass(frozen=True)
class Defaults:
    chassis_w: float = 19.7 * W_PER_AMP  # T640 base 16.9 A + host 2.6 A + SCG 0.2 A
    card_types: tuple = (
        CardType(10e9, 4, 6.8 * W_PER_AMP, 0.625 * W_PER_AMP),  # FPC3, PIC typical
        CardType(40e9, 1, 8.2 * W_PER_AMP, 3.3 * W_PER_AMP),  # Type 4 FPC, Type 4 PIC max
    )
    shape: str = "linear"
    idle_fraction: float = 0.9
    steepness: float = 4.0
    where: str = "built-in defaults (Juniper T640 hardware guide)"

    def card_type(self, speed: float) -> CardType:
        fits = [c for c in self.card_types if c.speed >= speed * (1 - 1e-9)]
        if not fits:
            raise ConfigError(f"{self.where}: no line card for {speed / 1e9:g}G ports (have {', '.join(f'{c.speed / 1e9:g}G' for c in self.card_types)})")
        return min(fits, key=lambda c: c.speed)


DEFAULTS = Defaults()


def profile_of(shape: str, idle_w: float, peak_w: float, steepness: float = 4.0) -> metric.PowerProfile:
    """One of the draft's three profiles (sec. 2.1.8) from idle to peak."""
    if shape == "linear":
        return metric.PowerProfile.linear(idle_w, peak_w)
    if shape == "flattening":
        return metric.PowerProfile.flattening(idle_w, peak_w, steepness)
    if shape == "exponential":
        return metric.PowerProfile.exponential(idle_w, peak_w, steepness)
    raise ConfigError(f"unknown power profile {shape!r} (one of {', '.join(SHAPES)})")


@dataclass(frozen=True)
class Card:
    router: str
    name: str
    profile: metric.PowerProfile  # the card itself (ports not included), W vs load 0..1
    arcs: tuple  # arcs leaving from its ports
    port_w: tuple  # each port's power when up, same order
    speed: float  # sum of its ports' speeds, bits/s


@dataclass(frozen=True)
class Breakdown:
    total_w: float
    chassis_w: float
    cards_w: float
    ports_w: float
    links_idle: int  # links with no traffic either way
    cards_idle: int  # cards whose ports carry nothing
    links_asleep: int
    cards_asleep: int


@dataclass
class PowerModel:
    chassis_w: dict  # router -> W
    cards: tuple  # Card
    routers: dict  # router -> RouterPower, for the draft's metric
    ifname: dict  # arc -> ifname of its port
    card_of: np.ndarray  # arc -> card index
    where: str

    def account(self, net: Network, loads: np.ndarray, sleep: bool) -> Breakdown:
        """Total power at these arc loads (bits/s); with ``sleep`` idle
        links, their ports and cards whose ports all sleep draw nothing."""
        busy_arc = loads > EPS_BPS
        busy_link = busy_arc[0::2] | busy_arc[1::2]
        link_on = busy_link if sleep else np.ones(len(net.links), dtype=bool)
        cards_w = ports_w = 0.0
        cards_idle = cards_asleep = 0
        for c in self.cards:
            ons = [link_on[a // 2] for a in c.arcs]
            busy = any(busy_link[a // 2] for a in c.arcs)
            cards_idle += not busy
            if not any(ons):
                cards_asleep += 1
                continue
            u = min(sum(loads[a] for a in c.arcs) / c.speed, 1.0)
            cards_w += c.profile(u)
            ports_w += sum(w for w, on in zip(c.port_w, ons) if on)
        chassis = float(sum(self.chassis_w.values()))
        return Breakdown(
            chassis + cards_w + ports_w,
            chassis,
            cards_w,
            ports_w,
            int((~busy_link).sum()),
            cards_idle,
            int((~link_on).sum()),
            cards_asleep,
        )


def _check(profile: metric.PowerProfile, where: str) -> metric.PowerProfile:
    if not profile(1.0) > 0:
        raise ConfigError(f"{where}: the power profile draws no power (0 W at full load)")
    return profile


def _router_power(router: str, base: float, cards: list, ports: list, endpoint: bool) -> RouterPower:
    """The draft's view of one router: each card's power is its own profile
    plus its ports (the figure a power reader on the card reads)."""
    lcs, ps = {}, {}
    for c in cards:
        shift = sum(c.port_w)
        prof = metric.PowerProfile(tuple((u, p + shift) for u, p in c.profile.points))
        lcs[c.name] = LineCard(c.name, None, None, prof)
    for ifname, card, speed in ports:
        ps[ifname] = Port(ifname, card, None, None, speed, speed, None, None, None, None, None, None, None)
    return RouterPower(router, base, lcs, ps, te_head=endpoint, te_tail=endpoint)


def build(net: Network, defaults: Defaults = DEFAULTS, files: dict | None = None, shape: str | None = None, idle_fraction: float | None = None) -> PowerModel:
    """The power model of ``net``: from the routers' power.yml models
    (``files``: router -> RouterPower, with the ifnames of the network's
    links) where given, else from ``defaults``. ``shape`` / ``idle_fraction``
    override the profiles' shape and idle draw for every card."""
    files = files or {}
    idle_f = defaults.idle_fraction if idle_fraction is None else idle_fraction
    if not 0 <= idle_f <= 1:
        raise ConfigError(f"idle fraction must be within 0 and 1, got {idle_f}")
    shape = shape or None
    cards, routers, chassis = [], {}, {}
    eps = set(net.endpoints)
    ifname: dict = {}
    card_of = np.full(net.n_arcs, -1, dtype=np.int64)
    for r in net.nodes:
        arcs = net.arcs_from(r)
        rcards: list = []
        rports: list = []
        cfg = files.get(r)
        if cfg is None:
            chassis[r] = defaults.chassis_w
            groups: dict = {}
            for a in sorted(arcs, key=lambda a: (net.caps[a], a)):
                ct = defaults.card_type(net.caps[a])
                groups.setdefault(ct, []).append(a)
            n = 0
            for ct, arcs_ in sorted(groups.items(), key=lambda kv: kv[0].speed):
                for i in range(0, len(arcs_), ct.ports):
                    chunk = arcs_[i : i + ct.ports]
                    n += 1
                    name = f"LC{n}"
                    peak = ct.card_w
                    if not (peak + ct.port_w * len(chunk)) > 0:
                        raise ConfigError(f"{defaults.where}: cards.{ct.speed / 1e9:g}G: no power (power_w and port_w are 0)")
                    prof = profile_of(shape or defaults.shape, idle_f * peak, peak, defaults.steepness)
                    rcards.append(Card(r, name, prof, tuple(chunk), tuple(ct.port_w for _ in chunk), float(sum(net.caps[a] for a in chunk))))
                    for a in chunk:
                        ifn = net.arc_port(a)[1] or f"eth{a}"
                        ifname[a] = ifn
                        rports.append((ifn, name, float(net.caps[a])))
            base = min((float(net.caps[a]) for a in arcs), default=10e9)
            base = min(base, min(c.speed for c in defaults.card_types))
        else:
            chassis[r] = 0.0  # a power.yml describes line cards and ports only
            where = getattr(cfg, "path", r)
            by_card: dict = {}
            for a in arcs:
                ifn = net.arc_port(a)[1]
                p = cfg.ports.get(ifn)
                if p is None:
                    raise ConfigError(f"{where}: ports.{ifn}: the topology links this interface but the power file has no such port")
                ifname[a] = ifn
                key = p.line_card if p.line_card else f"{ifn}.card"
                by_card.setdefault(key, []).append((a, p))
            for key, members in sorted(by_card.items()):
                lc = cfg.line_cards.get(key)
                field_ = f"line_cards.{key}" if lc is not None else f"ports.{members[0][1].ifname}"
                fig = lc if lc is not None else members[0][1]
                prof = getattr(fig, "profile", None)
                if prof is None:
                    pw = fig.power_w
                    if pw is None:
                        raise ConfigError(f"{where}: {field_}: no power figure (power_w or profile) to evaluate")
                    mx = fig.max_power_w if fig.max_power_w is not None else pw
                    prof = profile_of(shape or "linear", pw, max(mx, pw), defaults.steepness)
                elif shape:
                    prof = profile_of(shape, prof(0.0), prof(1.0), defaults.steepness)
                if idle_fraction is not None:
                    sh = shape or (prof.shape if prof.shape in SHAPES else "linear")
                    prof = profile_of(sh, idle_f * prof(1.0), prof(1.0), defaults.steepness)
                _check(prof, f"{where}: {field_}")
                arcs_ = tuple(a for a, _ in members)
                rcards.append(Card(r, key, prof, arcs_, tuple(0.0 for _ in arcs_), float(sum(p.speed for _, p in members))))
                for _, p in members:
                    rports.append((p.ifname, key, float(p.speed)))
            base = cfg.base_speed
        for c in rcards:
            for a in c.arcs:
                card_of[a] = len(cards)
            cards.append(c)
        routers[r] = _router_power(r, base, rcards, rports, r in eps)
    for c in cards:
        if not any(c.profile(1.0) + w > 0 for w in c.port_w):
            raise ConfigError(f"{c.router}: line card {c.name}: no power")
    return PowerModel(chassis, tuple(cards), routers, ifname, card_of, defaults.where if not files else "power.yml files")
