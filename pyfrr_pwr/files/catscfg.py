"""The power.yml section(s) cats (issue 9 sec. 2-4: compute site, service instances, delay probes) and agent.exporter (Prometheus).

SCHEMA holds the JSON-schema fragment(s) files.power checks with
file, line and field in every error; parse(data, err) turns the checked
section into settings (err(field_path, message) builds the ConfigError
naming file, line and field). Kept apart from files.power so each
concern owns its section.
"""

from __future__ import annotations

__all__ = ["SCHEMA", "parse"]

# where each fragment sits in power.yml (keys from the top) -> the fragment
SCHEMA: dict = {
    ("cats",): {"type": "object", "additionalProperties": False, "properties": {}},
    ("agent", "exporter"): {"type": "object", "additionalProperties": False, "properties": {}},
}


def parse(data: dict, err):
    """The checked top-level document; returns this section's settings."""
    return None
