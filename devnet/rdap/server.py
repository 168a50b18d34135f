"""`FakeRDAP`: the local RDAP server, its objects, behaviours and answers (the contract is in
``devnet/rdap/__init__.py``)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from devnet.rdap.ranges import BadRequest, Range, as_number, domain_key, network_ranges, query_range
from devnet.rdap.recorded import REGISTRY_FIXTURES, recorded_networks
from devnet.serving import ServedPeer

BEHAVIOURS = frozenset({"429", "500", "503", "timeout", "normal"})
CONTENT_TYPE = "application/rdap+json"

# A request held by the "timeout" behaviour is released at the latest after this long, so that a
# forgotten behaviour cannot keep a thread forever in a long-lived demo server.
_HOLD_SECONDS = 600.0
_POLL_SECONDS = 0.05


@dataclass(slots=True)
class _Behaviour:
    kind: str
    remaining: int | None
    retry_after: int | None


class FakeRDAP(ServedPeer):
    """An RDAP server on localhost, running in background threads."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, latency: float = 0.0) -> None:
        self.host = host
        self.port = port
        self.latency = latency
        self.requests: list[str] = []
        self._initial_latency = latency
        self._networks: list[tuple[Range, dict[str, Any]]] = []
        self._autnums: list[tuple[Range, dict[str, Any]]] = []
        self._entities: dict[str, dict[str, Any]] = {}
        self._domains: dict[str, dict[str, Any]] = {}
        self._behaviours: dict[str | None, _Behaviour] = {}
        self._lock = threading.Lock()
        self._served_init()

    # -- lifecycle ---------------------------------------------------------

    thread_name = "fakerdap"
    poll_seconds = _POLL_SECONDS

    def _server_new(self) -> _Server:
        return _Server((self.host, self.port), _Handler)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``, without a trailing slash, as SCART_RDAP_BASE_URL takes."""
        if self._server is None:
            raise RuntimeError("FakeRDAP is not running")
        return f"http://{self.authority}"

    # -- objects -----------------------------------------------------------

    def add_network(self, obj: dict[str, Any]) -> None:
        """Serve an RDAP ip network object for every address and prefix inside its range."""
        ranges = network_ranges(obj)
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
            first = last = as_number(str(obj["handle"]))
        with self._lock:
            self._autnums.append((Range(0, first, last), obj))

    def add_domain(self, obj: dict[str, Any]) -> None:
        """Serve an RDAP domain object at ``/domain/{ldhName}`` and list its TLD in ``/dns.json``."""
        with self._lock:
            self._domains[domain_key(str(obj["ldhName"]))] = obj

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
                found = self._most_specific(self._networks, query_range(*args))
            elif kind == "autnum" and len(args) == 1:
                try:
                    number = as_number(args[0])
                except ValueError as e:
                    raise BadRequest(str(e)) from e
                found = self._most_specific(self._autnums, Range(0, number, number))
            elif kind == "entity" and len(args) == 1 and args[0]:
                with self._lock:
                    found = self._entities.get(args[0].upper())
            elif kind == "domain" and len(args) == 1 and args[0].strip("."):
                with self._lock:
                    found = self._domains.get(domain_key(args[0]))
            else:
                raise BadRequest(f"not an RDAP lookup: {target}")
        except BadRequest as e:
            return HTTPStatus.BAD_REQUEST, _error(HTTPStatus.BAD_REQUEST, str(e))
        if found is None:
            return HTTPStatus.NOT_FOUND, _error(HTTPStatus.NOT_FOUND)
        return HTTPStatus.OK, found

    def _most_specific(self, objects: list[tuple[Range, dict[str, Any]]], wanted: Range) -> dict[str, Any] | None:
        best: tuple[Range, dict[str, Any]] | None = None
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


def _error(status: int, description: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"errorCode": int(status), "title": HTTPStatus(status).phrase}
    if description is not None:
        body["description"] = [description]
    return body
