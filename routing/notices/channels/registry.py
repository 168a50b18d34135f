"""Which transport delivers each channel, and the transports open during one sending run."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from routing.notices.channels.base import PermanentFailure, Transport

log = logging.getLogger(__name__)

TransportFactory = Callable[[], Transport]
F = TypeVar("F", bound=Callable[..., Any])

_FACTORIES: dict[str, TransportFactory] = {}


def transport_register(channel: str) -> Callable[[F], F]:
    """Register the factory (a class or a function without arguments) that makes the transport
    of ``channel``; the last registration wins (a test may put its own in)."""

    def register(factory: F) -> F:
        _FACTORIES[channel] = factory
        return factory

    return register


def transport_channels() -> list[str]:
    """The channels a transport is registered for."""
    return sorted(_FACTORIES)


def transport_open(channel: str) -> Transport:
    """A new transport for ``channel``. Raises `PermanentFailure` (not flagging the contact: the
    fault is ours) when no transport is registered for it."""
    factory = _FACTORIES.get(channel)
    if factory is None:
        raise PermanentFailure(f"no transport delivers the channel {channel!r}", flag=False)
    return factory()


class Transports:
    """The transports of one sending run, each opened on first use and closed at the end (a mail
    transport keeps its SMTP connection for every message of the run)."""

    def __init__(self, opener: Callable[[str], Transport] = transport_open) -> None:
        self._opener = opener
        self._open: dict[str, Transport] = {}

    def get(self, channel: str) -> Transport:
        if channel not in self._open:
            self._open[channel] = self._opener(channel)
        return self._open[channel]

    def close(self) -> None:
        for channel, transport in self._open.items():
            try:
                transport.close()
            except Exception:
                log.debug("closing the %s transport failed", channel, exc_info=True)
        self._open.clear()

    def __enter__(self) -> Transports:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
