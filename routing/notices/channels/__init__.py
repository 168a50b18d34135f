"""Delivery channels: the transport interface (`base`), the registry of transports (`registry`),
the per-part records (`parts`) and the built-in transports (`mail`: batched mail and one X-ARF
report per message; `manual`: prepared for a person). See `base` for the contract."""

from routing.notices.channels.base import (
    Outgoing,
    Part,
    PartResult,
    PartStatus,
    PermanentFailure,
    TemporaryFailure,
    Transport,
)
from routing.notices.channels.registry import Transports, transport_open, transport_register

# The built-in transports register themselves when imported.
from routing.notices.channels import mail, manual  # noqa: F401  isort: skip
from routing.notices.channels import provider_api  # noqa: F401  isort: skip

__all__ = [
    "Outgoing",
    "Part",
    "PartResult",
    "PartStatus",
    "PermanentFailure",
    "TemporaryFailure",
    "Transport",
    "Transports",
    "transport_open",
    "transport_register",
]
