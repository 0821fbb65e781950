"""fig-2-1-7 with a fake hwmon power sensor on router G (tests and bench).

G's port towards H (eth2, the G-H link, PWRLINK 0.2) reads its power from a
sysfs-like file, so a power change can be made as a sensor would report it.
"""

import shutil
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
RID = {n: f"10.17.255.{i}" for i, n in enumerate("ABCDEGHX", 1)}
NAME = {v: k for k, v in RID.items()}
GBPS = 1.25e8  # bytes/s per Gb/s


def prepare(dst: Path, interval: float = 0.05, min_interval: float = 0.5) -> tuple[Path, Path]:
    """Copy the topology to dst; returns (clab file, hwmon power1_input)."""
    shutil.copytree(ROOT / "containerlab/fig-2-1-7", dst / "fig-2-1-7")
    shutil.copy(ROOT / "containerlab/fig-2-1-7.clab.yml", dst / "fig-2-1-7.clab.yml")
    hw = dst / "hwmon"
    hw.mkdir()
    (hw / "power1_input").write_text("2000000\n")  # 2 W: the figure's 0.2
    pf = dst / "fig-2-1-7/G/power.yml"
    cfg = yaml.safe_load(pf.read_text())
    assert cfg["ports"]["eth2"]["power_w"] == 2.0
    cfg["ports"]["eth2"]["power_reader"] = {"type": "hwmon", "path": str(hw / "power1_input")}
    cfg.setdefault("agent", {}).update(interval=interval, min_interval=min_interval)  # keeps the lab's signalling key
    pf.write_text(yaml.safe_dump(cfg))
    return dst / "fig-2-1-7.clab.yml", hw / "power1_input"
