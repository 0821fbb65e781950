"""``AgentCore``'s compute-site inputs (issue 9; a mixin of ``agent.core``,
bodies moved from there verbatim): the site's energy status (banded and
rate-limited by ``cats.energy.EnergyAdvert``, draft sec. 2.2) and service
instances, carried in the node LSA; the probes' RFC 7471 delay figures,
carried in the Link TLVs.
"""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

from pyfrr_pwr.cats import energy as cats_energy
from pyfrr_pwr.cats import service as cats_service
from pyfrr_pwr.files.power import PowerConfig

__all__ = ["SiteInputs", "READING_FIELDS"]

# telemetry reading names (files.energycfg.READINGS) -> Node Energy fields
# (cats.energy.FIELDS); the units are checked by cats.energy.status_of
READING_FIELDS = {
    "power": "power_w",
    "capacity": "capacity_w",
    "energy": "energy_j",
    "supply_load": "supply_load",
    "green_share": "green_share",
    "price": "price_per_mwh",
    "carbon_intensity": "carbon_g_per_kwh",
}


class SiteInputs:
    """Energy status, service instances and probe delays (issue 9)."""

    # -- computing-power collaboration (issue 9) ----------------------------------

    def _setup_cats(self, cfg: PowerConfig) -> None:
        """From ``cfg.cats`` (``files.catscfg.CatsSettings``): a site
        (``cats.site``) gets an ``EnergyAdvert`` (kept across reloads with
        the same settings, so the bands and rate limit carry on) and
        advertises its service instances in the node LSA."""
        cats = getattr(cfg, "cats", None)
        if cats is not None and getattr(cats, "site", False):
            kw = dict(getattr(cats, "energy_advert", None) or {})
            if self.energy is None or self._energy_kw != kw:
                self.energy = cats_energy.EnergyAdvert(**kw)
                self.energy_tlv = None
            self._energy_kw = kw
            services = cats_service.service_tlvs("0.0.0.0", getattr(cats, "services", ()) or ())
        else:
            self.energy = self.energy_tlv = None
            self._energy_kw = None
            services = []
        self._services = services
        self._node_extra()

    def _node_extra(self) -> None:
        self.adv.node_extra = ([self.energy_tlv] if self.energy_tlv is not None else []) + list(self._services)

    def set_energy(self, status: dict, now: float, wall: float) -> list:
        """The site's newest energy status (``cats.energy.status_of``;
        ``wall``: unix time, the readings' clock). The Node Energy TLV goes
        out again only when ``EnergyAdvert`` says it is due (banded,
        rate-limited, draft sec. 2.2); a held-back change goes out at a
        later call (the daemon calls every energy interval, and when
        ``energy_due`` says). Never raises (``energy_errors``)."""
        if self.energy is None:
            return []
        try:
            with self.timings("energy"):
                due = self.energy.update(status, wall)
                for k, v in self.energy.stats.items():  # the advert's drop reasons, under our stats
                    self.stats[k] = v
                if not due:
                    return []
                tlv = self.energy.tlv(self.router_id or "0.0.0.0", wall)
                self.stats["energy_originations"] = self.energy.stats["energy_originations"]
                if tlv == self.energy_tlv:
                    return []
                self.energy_tlv = tlv
                self._node_extra()
        except Exception as exc:
            self.report("energy_errors", exc, "energy status dropped")
            return []
        return self._own_requests(self.evaluate(now), now)

    @staticmethod
    def energy_status(readings, stats: Counter | None = None, supply_capacity_w: float | None = None) -> dict:
        """An energy status dict (``cats.energy.status_of``) from the
        telemetry poller's readings (``telemetry.energy.Reading``), their
        names mapped to the Node Energy fields (``READING_FIELDS``). The TLV
        carries the supply load as a share of the supply's capacity (seed
        sec. 4.3): a load read in W becomes that share when power.yml gives
        ``energy.supply_capacity_w``. A reading in another unit than the
        field's is dropped and counted (``energy_dropped_wrong_unit``)."""
        rows = []
        for r in readings:
            name, value, unit = getattr(r, "name", None), getattr(r, "value", None), getattr(r, "unit", None)
            if name == "supply_load" and unit == "W" and supply_capacity_w and isinstance(value, (int, float)):
                value, unit = value / supply_capacity_w, "ratio"
            rows.append(
                SimpleNamespace(
                    name=READING_FIELDS.get(name, name),
                    value=value,
                    unit=unit,
                    ts=getattr(r, "ts", 0),
                    source=getattr(r, "source", ""),
                    accuracy=getattr(r, "accuracy", "unknown"),
                )
            )
        return cats_energy.status_of(rows, stats)

    def energy_due(self, wall: float) -> float | None:
        """Unix time at which a held-back energy change may go out."""
        return self.energy.next_due(wall) if self.energy is not None else None

    def set_delays(self, figures: dict, now: float) -> list:
        """The probes' RFC 7471 figures per port (``ProbeAgent.figures``;
        configured delays already win there). Rounded to whole µs as the
        wire carries them; an unchanged set evaluates nothing. A change
        re-originates a link only out of its delay band (``advertise``)."""
        try:
            clean = {
                ifn: {k: int(round(v)) for k, v in f.items() if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v}
                for ifn, f in (figures or {}).items()
                if isinstance(f, dict)
            }
        except Exception as exc:
            self.report("delay_errors", exc, "probe figures dropped")
            return []
        if clean == self.delays:
            return []
        self.delays = self.adv.delays = clean
        return self._own_requests(self.evaluate(now), now)
