"""Why a URL was not accepted: a stable code for programs and a sentence for people."""

from __future__ import annotations

from typing import Final

REJECTION_CODES: Final = frozenset(
    {
        "empty",
        "too_long",
        "control_characters",
        "unsupported_scheme",
        "invalid_host",
        "invalid_port",
        "label_too_long",
        "name_too_long",
        "non_global_ip",
    }
)


class UrlRejected(ValueError):
    """The input is not an acceptable URL.

    ``code`` is one of :data:`REJECTION_CODES`, stable for programs; ``reason``
    is a sentence for people and is also the ``str()`` of the exception.
    """

    def __init__(self, code: str, reason: str) -> None:
        # Both go to ValueError.args so that the exception survives pickling.
        super().__init__(code, reason)
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        return self.reason
