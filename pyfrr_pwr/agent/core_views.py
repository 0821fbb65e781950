"""``AgentCore``'s SRv6 inputs and read-only views for the control socket
(a mixin of ``agent.core``; bodies moved from there verbatim)."""

from __future__ import annotations

__all__ = ["Views"]


class Views:
    """Our SIDs (issue 7) and what ``show`` answers."""

    # -- SRv6 (issue 7) --------------------------------------------------------

    def set_srv6(self, advertised: dict | None, status: dict | None, now: float) -> list:
        """The SRv6 shell installed ``advertised`` (``SidPlan.advertised()``
        of what it installed; None: no SRv6): flood it (End.X in our Link
        TLVs, the SRv6 Locator TLV in our node LSAs)."""
        self.srv6_status = status
        if advertised == self.adv.srv6:
            return []
        self.adv.srv6 = advertised
        self.stats["srv6_advert_changes"] += 1
        return self._own_requests(self.evaluate(now), now)

    def sid_table(self, area: str | None = None):
        """The SIDs the TEDs learnt (all areas, or one), with End.DT6 SIDs
        derived from the locators (``sids.dt6_sid``: they are not flooded),
        as a ``dataplane.sidlist.SidTable``. Shared, not to be changed: it
        is built again only when a TED it reads changed (``TED.gen``), since
        every LSP set-up, probe and transit hop reads it and a build parses
        every router's SIDs (issue 7 sec. 5: power change until the route)."""
        from pyfrr_pwr.dataplane import sidlist, sids

        # the LSA stores themselves (held, compared by identity: a TED may get
        # a new store) and their change counters
        key = [(a, ted.lsas, ted.lsas.gen) for a, ted in sorted(self.teds.items()) if area is None or a == area]
        hit = self._sid_tables.get(area)
        if hit is not None and len(hit[0]) == len(key) and all(x[0] == y[0] and x[1] is y[1] and x[2] == y[2] for x, y in zip(hit[0], key)):
            return hit[1]
        t = sidlist.SidTable()
        merged: dict = {}
        for a, ted in sorted(self.teds.items()):
            if area is not None and a != area:
                continue
            for adv in ted.sid_adverts():
                cur = merged.setdefault(adv["router_id"], {**adv, "end_x": {}, "dx4": {}})
                cur["end_x"].update(adv["end_x"])
                cur["dx4"].update(adv["dx4"])
        for adv in merged.values():
            try:
                adv["dt6"] = sids.dt6_sid(adv["locator"])
                t.add(adv)
            except (sids.SidError, sidlist.SidListError) as exc:
                self.report("sid_table_errors", exc, f"SIDs of {adv['router_id']} ignored")
        self._sid_tables[area] = (key, t)
        return t

    # -- views -------------------------------------------------------------------

    def show_links(self) -> list:
        return self.adv.show(self.link_speed)

    def show_ted(self, area: str | None = None) -> dict:
        out = {}
        for a, ted in sorted(self.teds.items()):
            if area and a != area:
                continue
            links = []
            for tl in ted.links():
                links.append(
                    {
                        "from": tl.near.router,
                        "to": tl.near.tlv.link_id,
                        "local": tl.near.local,
                        "remote": tl.near.remote,
                        "lsid": tl.near.lsid,
                        "generation": tl.near.tlv.generation,
                        "power_consumed": tl.near.tlv.pwr_consumed,
                        "power_available": tl.near.tlv.pwr_available,
                        "pwrlink": tl.pwrlink,
                        "avail_bw": tl.near.tlv.avail_bw,
                        "one_sided": tl.one_sided,
                    }
                )
            out[a] = {
                "links": links,
                "endpoints": sorted(ted.endpoints()),
                "area_borders": sorted(ted.area_borders()),
                "malformed": ted.stats["malformed"],
                # issue 7: the SRv6 SIDs learnt (SRv6 Locator TLV, End.X sub-TLVs)
                "srv6": ted.sid_adverts(),
            }
        return out
