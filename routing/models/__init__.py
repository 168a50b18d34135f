"""The routing app's models: hosting, lookups and rules (`hosting`), and notices (`notices`)."""

from routing.models.addresses import CaseAddress
from routing.models.checks import AvailabilityCheck, CheckOutcome
from routing.models.deadlines import Deadline, DeadlineRule, DeadlineScope, DeadlineStart
from routing.models.hosting import (
    AbuseRule,
    AbuseSource,
    AsnLookup,
    AsnName,
    CidrRow,
    Confidence,
    DomainLookup,
    DomainRule,
    HostLookup,
    NetworkLookup,
    PartnerHotline,
    Provider,
    ProviderSource,
)
from routing.models.notices import (
    DisputeState,
    Notice,
    NoticeCase,
    NoticeCounter,
    NoticeKind,
    NoticeMessage,
    NoticeResponse,
    NoticeState,
    RecipientKind,
)
from routing.models.openpgp import SigningKey

__all__ = [
    "AbuseRule",
    "AbuseSource",
    "AsnLookup",
    "AsnName",
    "AvailabilityCheck",
    "CaseAddress",
    "CheckOutcome",
    "CidrRow",
    "Confidence",
    "Deadline",
    "DeadlineRule",
    "DeadlineScope",
    "DeadlineStart",
    "DisputeState",
    "DomainLookup",
    "DomainRule",
    "HostLookup",
    "NetworkLookup",
    "Notice",
    "NoticeCase",
    "NoticeCounter",
    "NoticeKind",
    "NoticeMessage",
    "NoticeResponse",
    "NoticeState",
    "PartnerHotline",
    "Provider",
    "ProviderSource",
    "RecipientKind",
    "SigningKey",
]
