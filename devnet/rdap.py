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

Run ``python -m devnet.rdap --port 8053 --recorded`` to serve the recorded registry answers
of ``devnet/fixtures/registry``; the base URL is printed on the first line of output.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from devnet import serve_until_signalled
from devnet.serving import Peer, serve_in_thread, server_stop

REGISTRY_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "registry"
BEHAVIOURS = frozenset({"429", "500", "503", "timeout", "normal"})
CONTENT_TYPE = "application/rdap+json"

# A request held by the "timeout" behaviour is released at the latest after this long, so that a
# forgotten behaviour cannot keep a thread forever in a long-lived demo server.
_HOLD_SECONDS = 600.0
_POLL_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class _Range:
    """An inclusive range of integers: addresses of one IP version, or AS numbers."""

    version: int  # 4 or 6; 0 for AS numbers
    first: int
    last: int

    def covers(self, other: _Range) -> bool:
        return self.version == other.version and self.first <= other.first and other.last <= self.last

    @property
    def size(self) -> int:
        return self.last - self.first


@dataclass(slots=True)
class _Behaviour:
    kind: str
    remaining: int | None
    retry_after: int | None


class _BadRequest(Exception):
    """A request the server cannot make sense of: answered 400."""


class FakeRDAP(Peer):
    """An RDAP server on localhost, running in background threads."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, latency: float = 0.0) -> None:
        self.host = host
        self.port = port
        self.latency = latency
        self.requests: list[str] = []
        self._initial_latency = latency
        self._networks: list[tuple[_Range, dict[str, Any]]] = []
        self._autnums: list[tuple[_Range, dict[str, Any]]] = []
        self._entities: dict[str, dict[str, Any]] = {}
        self._domains: dict[str, dict[str, Any]] = {}
        self._behaviours: dict[str | None, _Behaviour] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("FakeRDAP is already running")
        self._stopping.clear()
        server = _Server((self.host, self.port), _Handler)
        server.fake = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = serve_in_thread(server, name="fakerdap", poll_seconds=_POLL_SECONDS)

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()  # releases held and delayed requests
        server_stop(self._server, self._thread)
        self._server = None
        self._thread = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``, without a trailing slash, as SCART_RDAP_BASE_URL takes."""
        if self._server is None:
            raise RuntimeError("FakeRDAP is not running")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # -- objects -----------------------------------------------------------

    def add_network(self, obj: dict[str, Any]) -> None:
        """Serve an RDAP ip network object for every address and prefix inside its range."""
        ranges = _network_ranges(obj)
        with self._lock:
            self._networks.extend((r, obj) for r in ranges)

    def add_entity(self, obj: dict[str, Any]) -> None:
        """Serve an RDAP entity object at ``/entity/{handle}``."""
        with self._lock:
            self._entities[str(obj["handle"]).upper()] = obj

    def add_autnum(self, obj: dict[str, Any]) -> None:
        """Serve an RDAP autnum object for ``startAutnum``..``endAutnum``, or the AS its handle names."""
        if "startAutnum" in obj:
            first = int(obj["startAutnum"])
            last = int(obj.get("endAutnum", first))
        else:
            first = last = _as_number(str(obj["handle"]))
        with self._lock:
            self._autnums.append((_Range(0, first, last), obj))

    def add_domain(self, obj: dict[str, Any]) -> None:
        """Serve an RDAP domain object at ``/domain/{ldhName}`` and list its TLD in ``/dns.json``."""
        with self._lock:
            self._domains[_domain_key(str(obj["ldhName"]))] = obj

    def load_recorded(self) -> None:
        """Add the ten recorded networks of ``rdap.json`` and the entity of ``entity.json``."""
        for recorded in recorded_networks().values():
            self.add_network(recorded["response"])
        self.add_entity(json.loads((REGISTRY_FIXTURES / "entity.json").read_text()))

    def set_behaviour(
        self,
        path_prefix: str | None,
        behaviour: str,
        *,
        times: int | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Make requests whose path starts with ``path_prefix`` (every request if None) misbehave.

        ``times`` limits the behaviour to the next N matching requests; ``retry_after`` (seconds)
        goes into a ``Retry-After`` header of "429" and "503" answers. Setting a behaviour for a
        prefix replaces the previous one; "normal" removes it.
        """
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {behaviour!r}")
        with self._lock:
            if behaviour == "normal":
                self._behaviours.pop(path_prefix, None)
            else:
                self._behaviours[path_prefix] = _Behaviour(behaviour, times, retry_after)

    def clear(self) -> None:
        """Forget every object, behaviour and logged request; latency goes back to its initial value."""
        with self._lock:
            self._networks.clear()
            self._autnums.clear()
            self._entities.clear()
            self._domains.clear()
            self._behaviours.clear()
            self.requests.clear()
            self.latency = self._initial_latency

    # -- answering ---------------------------------------------------------

    def _log(self, target: str) -> _Behaviour | None:
        """Log a request and return the behaviour it gets, using up one of its ``times``."""
        path = unquote(urlsplit(target).path)
        with self._lock:
            self.requests.append(target)
            matching = [p for p in self._behaviours if p is None or path.startswith(p)]
            if not matching:
                return None
            prefix = max(matching, key=lambda p: -1 if p is None else len(p))
            behaviour = self._behaviours[prefix]
            if behaviour.remaining is not None:
                behaviour.remaining -= 1
                if behaviour.remaining <= 0:
                    del self._behaviours[prefix]
            return behaviour

    def _lookup(self, target: str) -> tuple[int, dict[str, Any]]:
        """The status and JSON body answering a GET of ``target``."""
        parts = unquote(urlsplit(target).path).strip("/").split("/")
        kind, args = parts[0], parts[1:]
        try:
            if kind == "dns.json" and not args:
                return HTTPStatus.OK, self._bootstrap()
            if kind == "ip" and len(args) in (1, 2):
                found = self._most_specific(self._networks, _query_range(*args))
            elif kind == "autnum" and len(args) == 1:
                try:
                    number = _as_number(args[0])
                except ValueError as e:
                    raise _BadRequest(str(e)) from e
                found = self._most_specific(self._autnums, _Range(0, number, number))
            elif kind == "entity" and len(args) == 1 and args[0]:
                with self._lock:
                    found = self._entities.get(args[0].upper())
            elif kind == "domain" and len(args) == 1 and args[0].strip("."):
                with self._lock:
                    found = self._domains.get(_domain_key(args[0]))
            else:
                raise _BadRequest(f"not an RDAP lookup: {target}")
        except _BadRequest as e:
            return HTTPStatus.BAD_REQUEST, _error(HTTPStatus.BAD_REQUEST, str(e))
        if found is None:
            return HTTPStatus.NOT_FOUND, _error(HTTPStatus.NOT_FOUND)
        return HTTPStatus.OK, found

    def _most_specific(self, objects: list[tuple[_Range, dict[str, Any]]], wanted: _Range) -> dict[str, Any] | None:
        best: tuple[_Range, dict[str, Any]] | None = None
        with self._lock:
            for candidate in objects:
                if candidate[0].covers(wanted) and (best is None or candidate[0].size <= best[0].size):
                    best = candidate
        return None if best is None else best[1]

    def _bootstrap(self) -> dict[str, Any]:
        with self._lock:
            tlds = sorted({name.rsplit(".", 1)[-1] for name in self._domains})
        return {
            "version": "1.0",
            "publication": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "description": "RDAP bootstrap file for domain name space labels, served by FakeRDAP",
            "services": [[tlds, [f"{self.base_url}/"]]] if tlds else [],
        }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Benchmarks open many connections at once; the default backlog of 5 would refuse some.
    request_queue_size = 128
    fake: FakeRDAP


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "FakeRDAP/1.0"

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def _answer(self, *, with_body: bool) -> None:
        fake = self.server.fake
        behaviour = fake._log(self.path)
        if behaviour is not None and behaviour.kind == "timeout":
            fake._stopping.wait(_HOLD_SECONDS)
            self.close_connection = True
            return
        if fake.latency > 0 and fake._stopping.wait(fake.latency):
            return  # stopping: nobody is waiting for this answer any more
        headers: dict[str, str] = {}
        if behaviour is None:
            status, body = fake._lookup(self.path)
        else:
            status = int(behaviour.kind)
            body = _error(status)
            if behaviour.retry_after is not None:
                headers["Retry-After"] = str(behaviour.retry_after)
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if with_body:
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are logged in ``FakeRDAP.requests``, not on stderr."""


def recorded_networks() -> dict[str, dict[str, Any]]:
    """``rdap.json``: ``{ip: {"response": <ip network object>, "asn_data": {...}}}`` for ten IPs."""
    data: dict[str, dict[str, Any]] = json.loads((REGISTRY_FIXTURES / "rdap.json").read_text())
    return data


def edited_networks() -> dict[str, dict[str, Any]]:
    """``edited.json``: networks edited from a recorded one (``based_on``) where no recording of
    the needed kind exists, in the shape of `recorded_networks` (README of the fixtures)."""
    data: dict[str, dict[str, Any]] = json.loads((REGISTRY_FIXTURES / "edited.json").read_text())
    return data


def _error(status: int, description: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"errorCode": int(status), "title": HTTPStatus(status).phrase}
    if description is not None:
        body["description"] = [description]
    return body


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Parse an address as registries write it: RIPE adds ``/128`` or ``/32``, ARIN zero-pads IPv4."""
    text = text.strip().split("/", 1)[0]
    if "." in text and ":" not in text:
        octets = text.split(".")
        if len(octets) == 4 and all(o.isdigit() and len(o) <= 3 for o in octets):
            # ipaddress refuses leading zeros (they read as octal to some parsers); ARIN means decimal.
            text = ".".join(str(int(o)) for o in octets)
    return ipaddress.ip_address(text)


def _network_ranges(obj: dict[str, Any]) -> list[_Range]:
    if "startAddress" in obj and "endAddress" in obj:
        first, last = _address(obj["startAddress"]), _address(obj["endAddress"])
        if first.version != last.version or int(first) > int(last):
            raise ValueError(f"bad range {obj['startAddress']} - {obj['endAddress']}")
        return [_Range(first.version, int(first), int(last))]
    ranges = []
    for cidr in obj.get("cidr0_cidrs", []):
        prefix = cidr.get("v4prefix") or cidr.get("v6prefix")
        network = ipaddress.ip_network(f"{_address(prefix)}/{cidr['length']}", strict=False)
        ranges.append(_Range(network.version, int(network.network_address), int(network.broadcast_address)))
    if not ranges:
        raise ValueError("an ip network object needs startAddress and endAddress, or cidr0_cidrs")
    return ranges


def _query_range(address: str, length: str | None = None) -> _Range:
    """The range asked for by ``/ip/{address}`` or ``/ip/{prefix}/{length}``."""
    try:
        if length is None:
            ip = _address(address)
            return _Range(ip.version, int(ip), int(ip))
        if not length.isdigit():
            raise ValueError(length)
        network = ipaddress.ip_network(f"{_address(address)}/{int(length)}", strict=False)
    except ValueError as e:
        raise _BadRequest(f"not an IP address or CIDR prefix: {address}") from e
    return _Range(network.version, int(network.network_address), int(network.broadcast_address))


def _as_number(text: str) -> int:
    digits = text[2:] if text[:2].upper() == "AS" else text
    if not digits.isdigit() or int(digits) >= 2**32:
        raise ValueError(f"not an AS number: {text}")
    return int(digits)


def _domain_key(name: str) -> str:
    return name.strip().rstrip(".").lower()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve RDAP lookups on localhost.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds to wait before every answer")
    parser.add_argument("--recorded", action="store_true", help="serve the recorded registry answers")
    args = parser.parse_args(argv)

    server = FakeRDAP(args.host, args.port, latency=args.latency)
    if args.recorded:
        server.load_recorded()
    return serve_until_signalled(server, announce=lambda: [server.base_url])


if __name__ == "__main__":
    sys.exit(main())
