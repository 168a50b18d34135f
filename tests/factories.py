"""Builders for test data: the world builders of `devnet.seed`, under the names the tests use."""

from __future__ import annotations

from devnet.seed import awaiting_case, awaiting_cases, partner_with_key, staff_user
from reports.models import Partner

__all__ = ["Partner", "awaiting_case", "awaiting_cases", "partner_with_key", "staff_user"]
