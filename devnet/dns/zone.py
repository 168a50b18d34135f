"""The zone a local DNS server answers from, and its answer to one query. Its contract:

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
  TCP); "normal" removes the override. With ``times`` it holds for that many
  questions, then the name answers normally again.
- Every question received is logged in ``queries`` as ``(name, type)``, the
  name lower case without the final dot, so tests can count retries.

UDP answers larger than the client's buffer (512 bytes without EDNS) are truncated (TC flag, empty
answer) so the client retries over TCP.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

BEHAVIOURS = frozenset({"servfail", "timeout", "refused", "nxdomain", "normal"})

_MAX_CHAIN = 32
_NO_EDNS_UDP_SIZE = 512


class Zone:
    """Records and behaviours in memory, and the wire answer to one query from them."""

    def __init__(self, *, follow_cnames: bool = True) -> None:
        self.follow_cnames = follow_cnames
        self.queries: list[tuple[str, str]] = []
        self._records: dict[dns.name.Name, dict[int, dns.rrset.RRset]] = {}
        # Behaviours keyed by (name, rdtype); rdtype None covers every type.
        self._behaviours: dict[tuple[dns.name.Name, int | None], str] = {}
        self._behaviour_left: dict[tuple[dns.name.Name, int | None], int] = {}
        self._lock = threading.Lock()

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

    def set_behaviour(self, name: str, behaviour: str, *, rtype: str | None = None, times: int | None = None) -> None:
        """Make ``name`` (only questions of ``rtype`` if given) misbehave, for ``times`` questions
        when given, else until told otherwise."""
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {behaviour!r}")
        key = (_name(name), None if rtype is None else dns.rdatatype.from_text(rtype))
        with self._lock:
            self._behaviour_left.pop(key, None)
            if behaviour == "normal":
                self._behaviours.pop(key, None)
            else:
                self._behaviours[key] = behaviour
                if times is not None:
                    self._behaviour_left[key] = times

    def clear(self) -> None:
        """Forget every record, behaviour and logged query."""
        with self._lock:
            self._records.clear()
            self._behaviours.clear()
            self._behaviour_left.clear()
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
        """The override for this question (lock held), counting down one limited to some questions."""
        for key in ((name, rdtype), (name, None)):
            behaviour = self._behaviours.get(key)
            if behaviour is None:
                continue
            left = self._behaviour_left.get(key)
            if left is not None:
                if left <= 1:
                    del self._behaviours[key], self._behaviour_left[key]
                else:
                    self._behaviour_left[key] = left - 1
            return behaviour
        return None

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


def _name(text: str) -> dns.name.Name:
    return dns.name.from_text(text).canonicalize()


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
