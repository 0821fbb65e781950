"""The power.yml section(s) agent.lsp (issue 7: LSP set-up, re-optimisation, protection) and agent.srv6 (checked in full by agent.sidplan.settings).

SCHEMA holds the JSON-schema fragment(s) files.power checks with
file, line and field in every error; parse(data, err) turns the checked
section into settings (err(field_path, message) builds the ConfigError
naming file, line and field). Kept apart from files.power so each
concern owns its section.
"""

from __future__ import annotations

__all__ = ["SCHEMA", "parse"]

# where each fragment sits in power.yml (keys from the top) -> the fragment
SCHEMA: dict = {("agent", "srv6"): {"type": "object"}, ("agent", "lsp"): {"type": "object", "additionalProperties": False, "properties": {}}}


def parse(data: dict, err):
    """The checked top-level document; returns this section's settings."""
    return None
