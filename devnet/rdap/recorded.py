"""The recorded registry answers of ``devnet/fixtures/registry`` (its README says where they come
from), as the RDAP peer, the demo and the tests read them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REGISTRY_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "registry"


def recorded_networks() -> dict[str, dict[str, Any]]:
    """``rdap.json``: ``{ip: {"response": <ip network object>, "asn_data": {...}}}`` for ten IPs."""
    data: dict[str, dict[str, Any]] = json.loads((REGISTRY_FIXTURES / "rdap.json").read_text())
    return data


def edited_networks() -> dict[str, dict[str, Any]]:
    """``edited.json``: networks edited from a recorded one (``based_on``) where no recording of
    the needed kind exists, in the shape of `recorded_networks` (README of the fixtures)."""
    data: dict[str, dict[str, Any]] = json.loads((REGISTRY_FIXTURES / "edited.json").read_text())
    return data
