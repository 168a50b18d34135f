"""What the workspace's tests share: a small zone on the local DNS peer over the recorded registry
answers, and cases reported through intake and resolved against it."""

from __future__ import annotations

from typing import Any

import pytest

from reports.models import Case, Channel
from reports.services import report_create
from routing.resolution.cases import cases_resolve

BT = "62.239.237.1"  # British Telecom in the recorded registry answers
GOOGLE = "74.125.225.229"
GOOGLE6 = "2001:4860:4860::8888"
MX = "200.57.141.161"


@pytest.fixture
def zone(fake_dns, recorded_registry):
    for host, kind, address in (
        ("www.example.com", "A", GOOGLE),
        ("img.example.com", "A", BT),
        ("example.net", "A", MX),
        ("v6.example.org", "AAAA", GOOGLE6),
    ):
        fake_dns.add(host, kind, address)
    return fake_dns


def reported(urls: list[str], channel: str = Channel.API, **fields: Any) -> list[Case]:
    """Cases reported through intake and resolved against the local peers."""
    result = report_create(channel=channel, urls=urls, **fields)
    ids = [accepted.case_id for accepted in result.accepted]
    cases_resolve(case_ids=ids, force=True)
    by_id = Case.objects.in_bulk(ids)
    return [by_id[pk] for pk in ids]  # in the order of ``urls``
