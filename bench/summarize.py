#!/usr/bin/env python3
"""Turn pytest-benchmark's JSON into ratio tables (markdown): for each group,
every peer's median over pyfrr-pwr's median, measured in the same run."""

import json
import sys
from collections import defaultdict


def main(path: str) -> int:
    data = json.load(open(path))
    groups = defaultdict(dict)
    for b in data["benchmarks"]:
        groups[b["group"]][b["extra_info"].get("impl", b["name"])] = b["stats"]["median"]
    print(f"machine: {data['machine_info'].get('cpu', {}).get('brand_raw', '?')}, python {data['machine_info'].get('python_version')}")
    print(f"run: {data.get('datetime')}\n")
    print("| group | pyfrr-pwr median | peer medians (ratio = peer / pyfrr-pwr) |")
    print("|---|---|---|")
    extras = []
    for b in data["benchmarks"]:
        info = {k: v for k, v in b["extra_info"].items() if k not in ("impl", "graph", "k", "n")}
        if info:
            extras.append((b["group"], b["extra_info"].get("impl"), info))
    for g in sorted(groups):
        meds = groups[g]
        ours = meds.get("pyfrr_pwr")
        if ours is None:  # no peer: absolute figures
            print(f"| {g} | " + ", ".join(f"{k} {v * 1e3:.4g} ms" for k, v in sorted(meds.items())) + " | (no peer) |")
            continue
        peers = ", ".join(f"{k} {v * 1e3:.3g} ms ({v / ours:.3g}x)" for k, v in sorted(meds.items()) if k != "pyfrr_pwr")
        print(f"| {g} | {ours * 1e3:.3g} ms | {peers} |")
    if extras:
        print("\nextra measurements:\n")
        for g, impl, info in extras:
            print(f"- {g} [{impl}]: " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in info.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "bench/results.json"))
