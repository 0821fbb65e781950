"""JSON forms of the PWR LSA objects of ``pyfrr_pwr.proto.wire``.

``to_dict`` gives a JSON-ready dict (``"tlv"`` names the kind, bytes are
hex); ``from_dict`` is its inverse and names the field at fault. What
``pyfrr-pwr decode --json`` prints and ``pyfrr-pwr encode`` reads.
"""

from __future__ import annotations

from dataclasses import asdict

from pyfrr_pwr.proto.wire import (
    TLV,
    AreaBorder,
    Fragment,
    L0Metric,
    LinkTLV,
    NodeEnergy,
    PathInfo,
    ReachabilityVector,
    Reading,
    ServiceInstance,
    SRv6Locator,
    TEEndpoint,
    UnknownTLV,
)

__all__ = ["to_dict", "from_dict"]

_KINDS = {
    "link": LinkTLV,
    "te-endpoint": TEEndpoint,
    "area-border": AreaBorder,
    "reachability-vector": ReachabilityVector,
    "srv6-locator": SRv6Locator,
    "node-energy": NodeEnergy,
    "service-instance": ServiceInstance,
    "unknown": UnknownTLV,
}
_KIND_OF = {v: k for k, v in _KINDS.items()}


def to_dict(t: TLV) -> dict:
    d = asdict(t)
    if isinstance(t, LinkTLV):
        d["unknown"] = [[ut, uv.hex()] for ut, uv in t.unknown]
    if isinstance(t, UnknownTLV):
        d["value"] = t.value.hex()
    if isinstance(t, SRv6Locator):
        d["dx4"] = [[p, sid] for p, sid in t.dx4]
    if isinstance(t, (NodeEnergy, ServiceInstance)):
        d["unknown"] = [[ut, uv.hex()] for ut, uv in t.unknown]
    if isinstance(t, NodeEnergy):
        d["sources"] = [[i, n] for i, n in t.sources]
    if isinstance(t, ServiceInstance):
        d["l0"] = [asdict(m) for m in t.l0]
    return {"tlv": _KIND_OF[type(t)], **d}


def from_dict(d: dict, where: str = "TLV") -> TLV:
    """Inverse of to_dict; errors name the field at fault."""
    if not isinstance(d, dict) or "tlv" not in d:
        raise ValueError(f"{where}: expected an object with a 'tlv' field")
    kind = d["tlv"]
    if kind not in _KINDS:
        raise ValueError(f"{where}.tlv: unknown kind {kind!r}; one of {sorted(_KINDS)}")
    cls = _KINDS[kind]
    args = {k: v for k, v in d.items() if k != "tlv"}
    names = set(cls.__dataclass_fields__)
    extra = set(args) - names
    if extra:
        raise ValueError(f"{where}: unknown field(s) {sorted(extra)} for {kind}")
    try:
        if cls is LinkTLV:
            for k in ("local_addrs", "remote_addrs"):
                if k in args:
                    args[k] = tuple(args[k])
            args["unknown"] = tuple((int(t), bytes.fromhex(v)) for t, v in args.get("unknown", ()))
        elif cls is AreaBorder:
            args["areas"] = tuple(args.get("areas", ()))
        elif cls is ReachabilityVector:
            args["abr_chain"] = tuple(args.get("abr_chain", ()))
            args["paths"] = tuple(PathInfo(**p) for p in args.get("paths", ()))
            if args.get("fragment") is not None:
                args["fragment"] = Fragment(**args["fragment"])
        elif cls is SRv6Locator:
            dx4 = args.get("dx4", ())
            if not isinstance(dx4, (list, tuple)) or not all(isinstance(e, (list, tuple)) and len(e) == 2 for e in dx4):
                raise ValueError("dx4: expected a list of [prefix, sid] pairs")
            args["dx4"] = tuple((str(p), str(sid)) for p, sid in dx4)
        elif cls is NodeEnergy:
            for k in ("power_w", "capacity_w", "energy_j", "supply_load", "green_share", "price_per_mwh", "carbon_g_per_kwh"):
                if args.get(k) is not None:
                    if not isinstance(args[k], dict):
                        raise ValueError(f"{k}: expected an object with value, ts, age_s, accuracy, source")
                    args[k] = Reading(**args[k])
            args["sources"] = tuple((int(i), str(n)) for i, n in args.get("sources", ()))
            args["abr_chain"] = tuple(args.get("abr_chain", ()))  # a leaked copy's ABRs
            args["unknown"] = tuple((int(t), bytes.fromhex(v)) for t, v in args.get("unknown", ()))
        elif cls is ServiceInstance:
            l0 = args.get("l0", ())
            if not isinstance(l0, (list, tuple)) or not all(isinstance(m, dict) for m in l0):
                raise ValueError("l0: expected a list of objects")
            args["l0"] = tuple(L0Metric(**m) for m in l0)
            args["abr_chain"] = tuple(args.get("abr_chain", ()))  # a leaked copy's ABRs
            args["unknown"] = tuple((int(t), bytes.fromhex(v)) for t, v in args.get("unknown", ()))
        elif cls is UnknownTLV:
            args["value"] = bytes.fromhex(args.get("value", ""))
        return cls(**args)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from None
