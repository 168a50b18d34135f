"""A local authoritative DNS server for tests and the demo.

`FakeDNS` (``server.py``) answers over UDP and TCP on one ephemeral port of 127.0.0.1 from an
in-memory `Zone` (``zone.py``: records, behaviours and the answer to one query), using dnspython only
to parse and render messages.

Run ``python -m devnet.dns --port 5353 --zone zone.json`` to serve a
zone file ``{"name": {"A": [...], "AAAA": [...], "CNAME": [...]}}``; the
address is printed on the first line of output.
"""

from __future__ import annotations

from devnet.dns.server import FakeDNS
from devnet.dns.zone import BEHAVIOURS, Zone

__all__ = ["BEHAVIOURS", "FakeDNS", "Zone"]
