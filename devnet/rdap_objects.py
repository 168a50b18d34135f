"""RDAP objects (RFC 9083) in the shapes registries answer, for the RDAP peer, the demo, the tests
and the benchmarks: one place that knows where ``objectClassName``, ``vcardArray`` and nested
``entities`` go, so that a builder reads as what it describes (a registrar with an abuse address, a
network with an abuse role) rather than as JSON.

Keys come in the order registries send them; anything a caller passes in ``fields`` follows the
keys the builder knows, so an object can carry the events, notices or status a registry adds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

JsonObject = dict[str, Any]


def vcard(*properties: list[Any]) -> list[Any]:
    """A jCard (RFC 7095) with its version property first, then ``properties``
    (e.g. ``["fn", {}, "text", "Example"]``)."""
    return ["vcard", [["version", {}, "text", "4.0"], *properties]]


def entity(
    *,
    roles: Sequence[str],
    properties: Sequence[list[Any]] = (),
    handle: str | None = None,
    public_ids: Sequence[JsonObject] = (),
    entities: Sequence[JsonObject] = (),
    **fields: Any,
) -> JsonObject:
    """An entity with ``roles`` and a vCard of ``properties``; ``entities`` are nested inside it
    (as registries nest the abuse role of a registrar or an organisation)."""
    obj: JsonObject = {"objectClassName": "entity"}
    if handle is not None:
        obj["handle"] = handle
    obj["roles"] = list(roles)
    if public_ids:
        obj["publicIds"] = list(public_ids)
    obj["vcardArray"] = vcard(*properties)
    if entities:
        obj["entities"] = list(entities)
    obj.update(fields)
    return obj


def abuse_role(email: str, *, name: str | None = None, tel: str | None = None, handle: str | None = None) -> JsonObject:
    """An ``abuse`` entity with one address (and a name and a telephone ``tel:`` URI when given),
    in the order gTLD registries list them: name, telephone, address."""
    properties: list[list[Any]] = []
    if name is not None:
        properties.append(["fn", {}, "text", name])
    if tel is not None:
        properties.append(["tel", {"type": "voice"}, "uri", tel])
    properties.append(["email", {}, "text", email])
    return entity(handle=handle, roles=["abuse"], properties=properties)


def registrar(
    name: str,
    *,
    handle: str | None = None,
    iana_id: str | None = None,
    abuse: JsonObject | None = None,
) -> JsonObject:
    """A domain's ``registrar`` entity named ``name``, with its IANA Registrar ID and its abuse role
    nested inside it when given (as ICANN's RDAP profile asks)."""
    return entity(
        handle=handle,
        roles=["registrar"],
        public_ids=[{"type": "IANA Registrar ID", "identifier": iana_id}] if iana_id is not None else (),
        properties=[["fn", {}, "text", name]],
        entities=[abuse] if abuse is not None else (),
    )


def domain(
    ldh_name: str,
    *,
    handle: str | None = None,
    conformance: Sequence[str] = (),
    status: Sequence[str] = (),
    entities: Sequence[JsonObject] = (),
    **fields: Any,
) -> JsonObject:
    """A domain object for ``ldh_name`` (spelt as the registry spells it: Verisign in capitals)."""
    obj: JsonObject = {"objectClassName": "domain"}
    if conformance:
        obj["rdapConformance"] = list(conformance)
    if handle is not None:
        obj["handle"] = handle
    obj["ldhName"] = ldh_name
    if status:
        obj["status"] = list(status)
    if entities:
        obj["entities"] = list(entities)
    obj.update(fields)
    return obj


def nameservers(*names: str) -> list[JsonObject]:
    """A domain's ``nameservers`` member."""
    return [{"objectClassName": "nameserver", "ldhName": name} for name in names]


def ip_network(
    *,
    handle: str,
    start: str | None = None,
    end: str | None = None,
    entities: Sequence[JsonObject] = (),
    **fields: Any,
) -> JsonObject:
    """An ``ip network`` object from ``start`` to ``end`` (a peer also reads a range from
    ``cidr0_cidrs`` passed in ``fields``); ``fields`` come before the entities, as RIRs order them."""
    obj: JsonObject = {"objectClassName": "ip network", "handle": handle}
    if start is not None:
        obj["startAddress"] = start
    if end is not None:
        obj["endAddress"] = end
    obj.update(fields)
    if entities:
        obj["entities"] = list(entities)
    return obj


def autnum(*, handle: str, start: int | None = None, end: int | None = None, **fields: Any) -> JsonObject:
    """An ``autnum`` object: one AS number or the range ``start`` to ``end``."""
    obj: JsonObject = {"objectClassName": "autnum", "handle": handle}
    if start is not None:
        obj["startAutnum"] = start
    if end is not None:
        obj["endAutnum"] = end
    obj.update(fields)
    return obj
