"""The routing app's models: hosting, lookups and rules (`hosting`), notices (`notices`) and how each
abuse address is doing (`contacts`)."""

from routing.models.addresses import CaseAddress
from routing.models.checks import AvailabilityCheck, CheckOutcome
from routing.models.contacts import ContactStats
from routing.models.deadlines import Deadline, DeadlineRule, DeadlineScope, DeadlineStart
from routing.models.deliveries import (
    DELIVERY_TRANSITIONS,
    PROVIDER_API_MAX_URLS,
    DeliveryChannel,
    DeliveryState,
    NoticeDelivery,
)
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
    "DELIVERY_TRANSITIONS",
    "PROVIDER_API_MAX_URLS",
    "AbuseRule",
    "AbuseSource",
    "AsnLookup",
    "AsnName",
    "AvailabilityCheck",
    "CaseAddress",
    "CheckOutcome",
    "CidrRow",
    "Confidence",
    "ContactStats",
    "Deadline",
    "DeadlineRule",
    "DeadlineScope",
    "DeadlineStart",
    "DeliveryChannel",
    "DeliveryState",
    "DisputeState",
    "DomainLookup",
    "DomainRule",
    "HostLookup",
    "NetworkLookup",
    "Notice",
    "NoticeCase",
    "NoticeCounter",
    "NoticeDelivery",
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
