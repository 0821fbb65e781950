"""A router's power model: line cards, ports and their POWER figures.

What the draft assumes a router can read (sec. 2.1.1): its line cards, their
power (a static figure, a reading, or a calibrated profile evaluated at the
card's load, sec. 2.1.8), their ports and the speeds they run at and could
run at. ``RouterPower.port_metrics`` composes a port's Consumed-POWER and
Available-POWER (sec. 2.1.1, 2.1.8.2) from these with the arithmetic of
``metric``; ``Port.weight`` is the port's weight in a weighted PWRLINK
(sec. 2.1.1, multi-capacity ports).

Pure: no files, no I/O. The YAML loader (``pyfrr_pwr.files.power``) builds
these objects; the model raises ``PowerModelError`` (a ``ValueError``), which
the loader reports as a configuration error naming the file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pyfrr_pwr.model import metric

__all__ = ["PowerModelError", "LineCard", "Port", "PortMetrics", "RouterPower"]


class PowerModelError(ValueError):
    """The power model cannot give a figure (no such port, no power figure)
    or was built from inconsistent values."""


def _nonneg(v, what: str) -> None:
    if v is not None and not (v >= 0 and math.isfinite(v)):
        raise PowerModelError(f"{what} must be a finite number >= 0, got {v!r}")


@dataclass(frozen=True)
class LineCard:
    name: str
    power_w: float | None  # static figure: power drawn now
    max_power_w: float | None  # at full load, for Available-POWER
    profile: metric.PowerProfile | None  # calibrated P(load), sec. 2.1.8
    port_speeds: tuple = ()  # bits/s, for normalisation; () = the listed ports
    power_reader: dict | None = None

    def __post_init__(self):
        _nonneg(self.power_w, f"line card {self.name}: power_w")
        _nonneg(self.max_power_w, f"line card {self.name}: max_power_w")
        if any(not (s > 0) for s in self.port_speeds):
            raise PowerModelError(f"line card {self.name}: port speeds must be > 0")


@dataclass(frozen=True)
class Port:
    ifname: str
    line_card: str | None
    port: str | None
    link: str | None
    speed: float  # bits/s it runs at
    highest_speed: float  # bits/s it could run at (multi-capacity port, sec. 2.1.1)
    available: float | None  # bits/s, static figure (offline, or agent default)
    power_w: float | None
    max_power_w: float | None
    mcast_replication: float | None  # bits/s of multicast replication capacity
    te_metric: int | None
    admin_group: int | None
    delay_us: int | None
    power_reader: dict | None = None

    def __post_init__(self):
        if not (self.speed > 0):
            raise PowerModelError(f"port {self.ifname}: speed must be > 0")
        if not (self.highest_speed >= self.speed):
            raise PowerModelError(f"port {self.ifname}: highest speed must be >= speed")
        if self.available is not None and not (0 <= self.available <= self.speed):
            raise PowerModelError(f"port {self.ifname}: available bandwidth must be within 0 and the speed")
        _nonneg(self.power_w, f"port {self.ifname}: power_w")
        _nonneg(self.max_power_w, f"port {self.ifname}: max_power_w")

    @property
    def multi_capacity(self) -> bool:
        """Runs below its highest capacity (sec. 2.1.1)."""
        return self.highest_speed > self.speed

    @property
    def weight(self) -> float:
        """This end's weight in a weighted PWRLINK: running over highest speed."""
        return metric.capacity_weight(self.speed, self.highest_speed)


@dataclass(frozen=True)
class PortMetrics:
    """One port's POWER figures (W per byte/s) and the bandwidths behind them."""

    consumed: float  # Consumed-Power-to-Available-Bandwidth (sec. 2.1.8.2)
    available: float | None  # Available-Power-to-Available-Bandwidth
    mcast: float | None  # Power-to-Multicast-replication-capacity (sec. 2.1.9)
    avail_Bps: float
    max_Bps: float
    unit_power_w: float
    weight: float  # running / highest speed, for the weighted PWRLINK

    @property
    def effective(self) -> float:
        return metric.effective_metric(self.consumed, self.available)


@dataclass
class RouterPower:
    """One router's line cards and ports (``ports``: ifname -> Port,
    ``line_cards``: name -> LineCard), the normalisation unit
    ``base_speed`` (bits/s, sec. 2.1.1) and its TE endpoint role (sec. 2)."""

    router: str | None
    base_speed: float
    line_cards: dict
    ports: dict
    te_head: bool = False
    te_tail: bool = False

    def __post_init__(self):
        if not (self.base_speed > 0):
            raise PowerModelError(f"base speed must be > 0, got {self.base_speed!r}")
        for p in self.ports.values():
            if p.line_card is not None and p.line_card not in self.line_cards:
                raise PowerModelError(f"ports.{p.ifname}: unknown line card {p.line_card!r}")

    @property
    def te_endpoint(self) -> bool:
        return self.te_head or self.te_tail

    def card_ports(self, card: LineCard) -> list:
        return [p for p in self.ports.values() if p.line_card == card.name]

    def card_units(self, card: LineCard) -> float:
        """Normalised ports of a card (sec. 2.1.1): its ``port_speeds``, or
        else the speeds its listed ports run at."""
        speeds = card.port_speeds or tuple(p.speed for p in self.card_ports(card))
        return sum(metric.normalized_units(s, self.base_speed) for s in speeds)

    def card_load(self, card: LineCard, used: dict) -> float:
        """Fraction 0..1 of the card's port capacity in use (``used``:
        ifname -> bits/s), where its profile is evaluated (sec. 2.1.8)."""
        ps = self.card_ports(card)
        cap = sum(p.speed for p in ps)
        u = sum(used.get(p.ifname, 0.0) for p in ps)
        return min(max(u / cap, 0.0), 1.0) if cap > 0 else 0.0

    def port_metrics(
        self,
        ifname: str,
        available_bps: float | None = None,
        used_bps: dict | None = None,
        measured_w: dict | None = None,
    ) -> PortMetrics:
        """POWER figures of one port (draft sec. 2.1.1, 2.1.8.2).

        ``available_bps`` overrides the configured available bandwidth (the
        agent passes what it measured); ``used_bps`` maps interface names to
        measured use, for evaluating a line card's profile at its load;
        ``measured_w`` maps a port name or line-card name to watts read from
        a power reader, replacing the static figure.
        """
        measured_w = measured_w or {}
        if ifname not in self.ports:
            raise PowerModelError(f"ports.{ifname}: no such port")
        p: Port = self.ports[ifname]
        avail = p.available if available_bps is None else available_bps
        if avail is None:
            avail = p.speed
        used = dict(used_bps or {})
        used.setdefault(ifname, max(p.speed - avail, 0.0))
        units = metric.normalized_units(p.speed, self.base_speed)
        card = self.line_cards.get(p.line_card) if p.line_card else None
        unit_w = avail_unit_w = None
        port_w = measured_w.get(ifname, p.power_w)
        if port_w is not None:  # a per-port figure overrides the card share
            unit_w = port_w / units
            if p.max_power_w is not None:
                avail_unit_w = max(p.max_power_w - port_w, 0.0) / units
        elif card is not None:
            cu = self.card_units(card)
            if card.name in measured_w:
                unit_w = measured_w[card.name] / cu
                if card.max_power_w is not None:
                    avail_unit_w = max(card.max_power_w - measured_w[card.name], 0.0) / cu
                elif card.profile is not None:
                    load = self.card_load(card, used)
                    avail_unit_w = card.profile.available_power(load) / cu
            elif card.profile is not None:
                load = self.card_load(card, used)
                unit_w = card.profile(load) / cu
                avail_unit_w = card.profile.available_power(load) / cu
            elif card.power_w is not None:
                unit_w = card.power_w / cu
                if card.max_power_w is not None:
                    avail_unit_w = max(card.max_power_w - card.power_w, 0.0) / cu
        if unit_w is None:
            raise PowerModelError(f"ports.{ifname}: no power figure (power reader unreadable and no power_w)")
        if avail_unit_w is not None and avail_unit_w <= 0.0:
            # no power headroom: Available-POWER would be 0 and, as the lower
            # of the two ratios (sec. 2.1.8.2), make a port at its limit look
            # free; it is not advertised then and the consumed ratio counts
            avail_unit_w = None
        max_Bps = metric.bps_to_Bps(p.speed)
        avail_Bps = metric.clamp_avail_bw(metric.bps_to_Bps(avail), max_Bps)
        consumed = metric.power_metric(unit_w, avail_Bps)
        available = metric.available_power_metric(avail_unit_w, avail_Bps) if avail_unit_w is not None else None
        mcast = None
        if p.mcast_replication:
            mcast = metric.power_metric(unit_w, metric.bps_to_Bps(p.mcast_replication))
        return PortMetrics(
            consumed=consumed,
            available=available,
            mcast=mcast,
            avail_Bps=avail_Bps,
            max_Bps=max_Bps,
            unit_power_w=unit_w,
            weight=p.weight,
        )
