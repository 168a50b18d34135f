"""A local authoritative DNS server for tests and the demo.

``FakeDNS`` answers over UDP and TCP on one ephemeral port of 127.0.0.1 from an
in-memory zone, using dnspython only to parse and render messages. Its contract:

- A name that was never added answers NXDOMAIN; a name that exists but has no
  record of the asked type answers NOERROR with an empty answer (NODATA).
- A CNAME is returned whatever the asked type is. Like a real authoritative
  server, the chain is followed inside the zone: every CNAME and the final
  records go into one answer. Following stops at a name the zone does not know
  (treated as out of zone: the client has to ask for it itself), at a name with
  a behaviour other than "nxdomain" (same), and at a name already in the
  answer (a loop is answered as is, the way BIND does). An "nxdomain"
  behaviour met while following makes the whole answer NXDOMAIN, as an
  in-zone target that does not exist would. ``follow_cnames=False`` turns
  following off so that every hop costs the client one query.
- ``set_behaviour`` overrides answers for a name (optionally one type):
  "servfail", "refused", "nxdomain" or "timeout" (never answers, over UDP or
  TCP); "normal" removes the override.
- Every question received is logged in ``queries`` as ``(name, type)``, the
  name lower case without the final dot, so tests can count retries.
- UDP answers larger than the client's buffer (512 bytes without EDNS) are
  truncated (TC flag, empty answer) so the client retries over TCP.
- ``latency`` (seconds) delays every answer without queueing the others behind
  it: UDP answers wait on a timer queue while the server goes on receiving,
  and each TCP connection has its own thread (queries pipelined on one
  connection are answered in turn).

Run ``python -m devnet.dns --port 5353 --zone zone.json`` to serve a
zone file ``{"name": {"A": [...], "AAAA": [...], "CNAME": [...]}}``; the
address is printed on the first line of output.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import itertools
import json
import socket
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from devnet import serve_until_signalled
from devnet.serving import Peer

BEHAVIOURS = frozenset({"servfail", "timeout", "refused", "nxdomain", "normal"})

_POLL_SECONDS = 0.1
_MAX_CHAIN = 32
_NO_EDNS_UDP_SIZE = 512


class FakeDNS(Peer):
    """An authoritative DNS server on localhost, running in background threads."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        follow_cnames: bool = True,
        latency: float = 0.0,
    ) -> None:
        self.host = host
        self.port = port
        self.follow_cnames = follow_cnames
        self.latency = latency
        self.queries: list[tuple[str, str]] = []
        self._records: dict[dns.name.Name, dict[int, dns.rrset.RRset]] = {}
        # Behaviours keyed by (name, rdtype); rdtype None covers every type.
        self._behaviours: dict[tuple[dns.name.Name, int | None], str] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        # Delayed UDP answers as (due time, sequence number, reply, client) in a heap, sent by one thread.
        self._due: list[tuple[float, int, bytes, Any]] = []
        self._due_changed = threading.Condition()
        self._sequence = itertools.count()

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        if self._udp is not None:
            raise RuntimeError("FakeDNS is already running")
        self._stopping.clear()
        self._udp, self._tcp = self._bind()
        for target in (self._serve_udp, self._serve_tcp, self._send_due):
            thread = threading.Thread(target=target, name="fakedns", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stopping.set()
        with self._due_changed:
            self._due_changed.notify_all()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        self._due.clear()  # answers still waiting are never sent, as from a server that went down
        for sock in (self._udp, self._tcp):
            if sock is not None:
                sock.close()
        self._udp = self._tcp = None

    @property
    def address(self) -> str:
        """``host:port`` (``[host]:port`` for IPv6), as SCART_DNS_NAMESERVERS takes."""
        if self._udp is None:
            raise RuntimeError("FakeDNS is not running")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    # -- zone --------------------------------------------------------------

    def add(self, name: str, rtype: str, *values: str, ttl: int = 300) -> None:
        """Add records, e.g. ``add("www.example.com", "CNAME", "example.com.")``.

        Values use zone file syntax; TXT values are quoted when they are not
        already. Adding to an existing name and type appends.
        """
        owner = _name(name)
        rdtype = dns.rdatatype.from_text(rtype)
        if rdtype == dns.rdatatype.TXT:
            values = tuple(v if v.startswith('"') else _quote(v) for v in values)
        new = dns.rrset.from_text_list(owner, ttl, dns.rdataclass.IN, rdtype, values)
        with self._lock:
            rrsets = self._records.setdefault(owner, {})
            existing = rrsets.setdefault(rdtype, new)
            if existing is not new:
                for rdata in new:
                    existing.add(rdata, ttl)

    def remove(self, name: str, rtype: str | None = None) -> None:
        """Forget the records of ``name`` (only those of ``rtype`` if given)."""
        owner = _name(name)
        with self._lock:
            if rtype is None:
                self._records.pop(owner, None)
            else:
                self._records.get(owner, {}).pop(dns.rdatatype.from_text(rtype), None)

    def load(self, zone: Mapping[str, Mapping[str, Iterable[str] | str]]) -> None:
        """Add every record of a ``{"name": {"TYPE": [values]}}`` mapping."""
        for name, types in zone.items():
            for rtype, values in types.items():
                if isinstance(values, str):
                    values = [values]
                self.add(name, rtype, *values)

    def set_behaviour(self, name: str, behaviour: str, *, rtype: str | None = None) -> None:
        """Make ``name`` (only questions of ``rtype`` if given) misbehave."""
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {behaviour!r}")
        key = (_name(name), None if rtype is None else dns.rdatatype.from_text(rtype))
        with self._lock:
            if behaviour == "normal":
                self._behaviours.pop(key, None)
            else:
                self._behaviours[key] = behaviour

    def clear(self) -> None:
        """Forget every record, behaviour and logged query."""
        with self._lock:
            self._records.clear()
            self._behaviours.clear()
            self.queries.clear()

    # -- answering ---------------------------------------------------------

    def answer(self, wire: bytes, *, max_size: int | None = None) -> bytes | None:
        """The wire reply to one query, or None when it must go unanswered.

        ``max_size`` is the largest reply the transport allows; None means UDP,
        where the client's EDNS buffer size (or 512 bytes) applies.
        """
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None  # not even a header we could answer to
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
            return response.to_wire()
        question = query.question[0]
        with self._lock:
            self.queries.append(
                (
                    question.name.to_text(omit_final_dot=True).lower(),
                    dns.rdatatype.to_text(question.rdtype),
                )
            )
            behaviour = self._behaviour(question.name, question.rdtype)
            if behaviour == "timeout":
                return None
            if question.rdclass != dns.rdataclass.IN:
                response.set_rcode(dns.rcode.REFUSED)
            elif behaviour is not None:
                response.set_rcode(dns.rcode.from_text(behaviour))
            else:
                self._fill(response, question.name, question.rdtype)
        if max_size is None:
            max_size = query.payload if query.edns >= 0 else _NO_EDNS_UDP_SIZE
        try:
            return response.to_wire(max_size=max_size)
        except dns.exception.TooBig:
            response.answer.clear()
            response.flags |= dns.flags.TC
            return response.to_wire()

    def _behaviour(self, name: dns.name.Name, rdtype: int) -> str | None:
        return self._behaviours.get((name, rdtype)) or self._behaviours.get((name, None))

    def _fill(self, response: dns.message.Message, qname: dns.name.Name, rdtype: int) -> None:
        """Put the answer for ``qname``/``rdtype`` into ``response`` (lock held)."""
        name = qname
        seen: set[dns.name.Name] = set()
        while len(seen) < _MAX_CHAIN:
            seen.add(name)
            rrsets = self._records.get(name)
            if rrsets is None:
                if name == qname:
                    response.set_rcode(dns.rcode.NXDOMAIN)
                return
            if rdtype == dns.rdatatype.ANY:
                response.answer.extend(rrsets.values())
                return
            if rdtype in rrsets:
                response.answer.append(rrsets[rdtype])
                return
            cname = rrsets.get(dns.rdatatype.CNAME)
            if cname is None:
                return  # NODATA
            response.answer.append(cname)
            target: dns.name.Name = cname[0].target
            if not self.follow_cnames or target in seen:
                return
            behaviour = self._behaviour(target, rdtype)
            if behaviour == "nxdomain":
                response.set_rcode(dns.rcode.NXDOMAIN)
                return
            if behaviour is not None:
                return
            name = target

    # -- transports ----------------------------------------------------------

    def _bind(self) -> tuple[socket.socket, socket.socket]:
        """Bind UDP and TCP sockets to one port (any free one when port is 0)."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        for _ in range(50):
            udp = socket.socket(family, socket.SOCK_DGRAM)
            tcp = socket.socket(family, socket.SOCK_STREAM)
            try:
                udp.bind((self.host, self.port))
                port = udp.getsockname()[1]
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                tcp.bind((self.host, port))
                tcp.listen(64)
            except OSError:
                udp.close()
                tcp.close()
                if self.port:
                    raise
                continue  # the TCP side of this ephemeral port is taken
            udp.settimeout(_POLL_SECONDS)
            tcp.settimeout(_POLL_SECONDS)
            self.port = port
            return udp, tcp
        raise OSError("no free port for both UDP and TCP")

    def _serve_udp(self) -> None:
        sock = self._udp
        assert sock is not None
        while not self._stopping.is_set():
            try:
                wire, peer = sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            reply = self.answer(wire)
            if reply is None:
                continue
            latency = self.latency
            if latency > 0:
                with self._due_changed:
                    heapq.heappush(self._due, (time.monotonic() + latency, next(self._sequence), reply, peer))
                    self._due_changed.notify()
            else:
                _send_quietly(sock, reply, peer)

    def _send_due(self) -> None:
        """Send delayed UDP answers when they are due, earliest first."""
        while not self._stopping.is_set():
            with self._due_changed:
                now = time.monotonic()
                if not self._due or self._due[0][0] > now:
                    wait = self._due[0][0] - now if self._due else _POLL_SECONDS
                    self._due_changed.wait(min(wait, _POLL_SECONDS))
                    continue
                _, _, reply, peer = heapq.heappop(self._due)
            sock = self._udp
            if sock is not None:
                _send_quietly(sock, reply, peer)

    def _serve_tcp(self) -> None:
        sock = self._tcp
        assert sock is not None
        while not self._stopping.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(
                target=self._serve_connection,
                args=(conn,),
                name="fakedns-tcp",
                daemon=True,
            )
            thread.start()

    def _serve_connection(self, conn: socket.socket) -> None:
        conn.settimeout(_POLL_SECONDS)
        with conn:
            while True:
                header = self._recv_exactly(conn, 2)
                if header is None:
                    return
                wire = self._recv_exactly(conn, int.from_bytes(header, "big"))
                if wire is None:
                    return
                reply = self.answer(wire, max_size=65535)
                if reply is None:
                    continue  # "timeout": keep the connection open, say nothing
                if self.latency > 0 and self._stopping.wait(self.latency):
                    return
                try:
                    conn.sendall(len(reply).to_bytes(2, "big") + reply)
                except OSError:
                    return

    def _recv_exactly(self, conn: socket.socket, size: int) -> bytes | None:
        data = b""
        while len(data) < size:
            if self._stopping.is_set():
                return None
            try:
                chunk = conn.recv(size - len(data))
            except TimeoutError:
                continue
            except OSError:
                return None
            if not chunk:
                return None
            data += chunk
        return data


def _send_quietly(sock: socket.socket, reply: bytes, peer: Any) -> None:
    # A client that went away needs no answer.
    with contextlib.suppress(OSError):
        sock.sendto(reply, peer)


def _name(text: str) -> dns.name.Name:
    return dns.name.from_text(text).canonicalize()


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a DNS zone on localhost.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--zone", type=Path, help='JSON: {"name": {"A": ["192.0.2.1"]}}')
    parser.add_argument("--latency", type=float, default=0.0, help="seconds to wait before every answer")
    args = parser.parse_args(argv)

    server = FakeDNS(args.host, args.port, latency=args.latency)
    if args.zone is not None:
        server.load(json.loads(args.zone.read_text()))
    return serve_until_signalled(server, announce=lambda: [server.address])


if __name__ == "__main__":
    sys.exit(main())
