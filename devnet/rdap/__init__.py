"""A local RDAP server for tests, benchmarks and the demo.

``FakeRDAP`` answers RDAP lookups (RFC 9082 paths, RFC 9083 JSON) over HTTP on an ephemeral
port of 127.0.0.1 from objects added in memory. Its contract:

- ``GET /ip/{address}`` answers the most specific network containing the address and
  ``GET /ip/{prefix}/{length}`` the most specific network containing the whole prefix; a network's
  range comes from ``startAddress``/``endAddress`` (or ``cidr0_cidrs`` when those are missing),
  written in any of the forms registries really use: ARIN's zero-padded IPv4
  (``074.125.000.000``), RIPE's IPv6 with a ``/128`` suffix, upper-case or uncompressed IPv6.
  Between networks of the same size, the one added last wins.
- ``GET /entity/{handle}`` (handles match whatever their case), ``GET /autnum/{n}`` (most specific
  ``startAutnum``..``endAutnum`` range) and ``GET /domain/{name}`` (case and a final dot ignored).
- ``GET /dns.json`` is an IANA-style bootstrap file (RFC 9224) sending every TLD of an added
  domain to this server.
- Objects are served exactly as added, as ``application/rdap+json``. A lookup that finds nothing
  answers 404 with an RDAP error body; a path that is not an RDAP lookup, or an address, prefix or
  AS number that does not parse, answers 400.
- ``latency`` delays every answer; requests are served on a thread each, so the delay does not
  queue clients behind one another.
- ``set_behaviour`` makes paths misbehave: "429" (with ``Retry-After`` if asked), "500", "503",
  "timeout" (the request is held unanswered until the server stops) or "normal" (back to normal),
  optionally for the next ``times`` matching requests only. The longest matching prefix decides.
- Every request path is logged in ``requests`` so tests can count retries.

``server.py`` holds the server, ``ranges.py`` how it reads addresses, prefixes, AS numbers and
domain names, and ``recorded.py`` the recorded registry answers.

Run ``python -m devnet.rdap --port 8053 --recorded`` to serve the recorded registry answers
of ``devnet/fixtures/registry``; the base URL is printed on the first line of output.
"""

from __future__ import annotations

from devnet.rdap.recorded import REGISTRY_FIXTURES, edited_networks, recorded_networks
from devnet.rdap.server import BEHAVIOURS, CONTENT_TYPE, FakeRDAP

__all__ = ["BEHAVIOURS", "CONTENT_TYPE", "REGISTRY_FIXTURES", "FakeRDAP", "edited_networks", "recorded_networks"]
