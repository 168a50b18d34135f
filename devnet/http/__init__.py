"""A local HTTP(S) host, CONNECT proxy and canary listener for the availability checker's tests.

- `FakeHTTP` (``host.py``): a host on an ephemeral port of 127.0.0.1, plain or HTTPS, and what it
  observes (connections, requests, peaks in progress, TLS server names).
- ``answers.py``: what each of its paths answers (a status, a slow or endless answer, a body, a
  redirect, a reset) and the `Request` it records for each.
- `FakeProxy` (``proxy.py``): an HTTP proxy that only tunnels (CONNECT) to numeric addresses.
- `Canary` (``canary.py``): a listener that must never be connected to.

Run ``python -m devnet.http --port 8080 --latency 0.1`` to serve the paths; the base URL is
printed on the first line of output.
"""

from __future__ import annotations

from devnet.http.answers import Request
from devnet.http.canary import Canary
from devnet.http.host import FakeHTTP
from devnet.http.proxy import FakeProxy

__all__ = ["Canary", "FakeHTTP", "FakeProxy", "Request"]
