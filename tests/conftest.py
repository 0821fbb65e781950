import os
from pathlib import Path

import pytest
from helpers import skip_without_seg6
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
settings.register_profile("ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def pytest_runtest_setup(item):
    """A test marked ``frr`` needs root, FRR and network namespaces: say so
    before its lab fixture tries (a failure, not a skip: CI runs them all).
    A test marked ``srv6_kernel`` installs SRv6 routes: on a kernel built
    without them it is skipped, naming the kernel option (the one thing
    `make test` cannot install); what the agent does on such a kernel is
    tested unmarked (test_srv6_agent, test_lsps)."""
    skip_without_seg6(item)
    if item.get_closest_marker("frr") is None:
        return
    frr = Path(os.environ.get("PYFRR_PWR_FRR_LIB", "/usr/lib/frr"))
    missing = [what for what, ok in (("root", os.geteuid() == 0), (f"FRR ({frr}/ospfd)", (frr / "ospfd").exists())) if not ok]
    if missing:
        pytest.fail(
            f'needs {" and ".join(missing)}: `make test` installs FRR and runs as root; `pytest -m "not frr"` runs the tests that need neither', pytrace=False
        )
