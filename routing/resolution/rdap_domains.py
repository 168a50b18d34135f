"""Domain RDAP: the registrar of a registrable domain and its abuse address (whoisit's parser
reads the object; HTTP goes through the one `RdapClient`)."""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from routing.resolution.contacts import clean_emails
from routing.resolution.rdap_client import RdapClient

# whoisit gives its loggers ("bootstrap", "parser", ...) handlers of their own, at DEBUG level when
# the environment says DEBUG=1, and logs while it is imported: keep that quiet, then hand its
# loggers back to scart's logging configuration.
_logging_disabled = logging.root.manager.disable
logging.disable(logging.DEBUG)
try:
    from whoisit.bootstrap import Bootstrap as WhoisitBootstrap
    from whoisit.parser import parse as whoisit_parse
finally:
    logging.disable(_logging_disabled)
for _name in ("bootstrap", "parser", "query", "utils"):
    logging.getLogger(_name).handlers.clear()
    logging.getLogger(_name).setLevel(logging.WARNING)


# whoisit's parser consults a bootstrap only to name the registry of entity links; an empty one
# will do, and we never let whoisit fetch anything.
_WHOISIT_BOOTSTRAP = WhoisitBootstrap()


@dataclass(frozen=True)
class RegistrarInfo:
    domain: str
    registrar: str
    abuse_emails: tuple[str, ...]
    iana_id: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "name": self.registrar,
            "abuse_emails": list(self.abuse_emails),
            "iana_id": self.iana_id,
        }


def lookup_registrar(
    domain: str, *, client: RdapClient, in_flight: AbstractContextManager[Any] | None = None
) -> RegistrarInfo:
    """The registrar of a registrable domain and its abuse address, from domain RDAP (whoisit's
    parser reads the object). ``in_flight`` as for `lookup_network`."""
    url = client.domain_url(domain)
    raw = client.get_json(url, registry=f"domain:{domain.rpartition('.')[2]}", in_flight=in_flight)
    parsed = whoisit_parse(_WHOISIT_BOOTSTRAP, "domain", domain, raw)
    entities = parsed.get("entities") or {}
    registrars = entities.get("registrar") or []
    registrar = registrars[0] if registrars else {}
    abuse = [
        e.get("email", "")
        for e in entities.get("abuse") or []
        if not e.get("parent_handle") or e.get("parent_handle") == registrar.get("handle")
    ]
    iana_id = ""
    for public_id in registrar.get("public_ids") or []:
        if "iana" in str(public_id.get("type", "")).lower():
            iana_id = str(public_id.get("identifier", ""))
    return RegistrarInfo(
        domain=domain,
        registrar=str(registrar.get("name") or registrar.get("handle") or ""),
        abuse_emails=clean_emails(abuse or ([registrar["email"]] if registrar.get("email") else [])),
        iana_id=iana_id,
    )


__all__ = ["RegistrarInfo", "lookup_registrar"]
