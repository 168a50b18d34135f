"""What the notice stage tells the parts of routing after it (connected in `routing.hooks`)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent inside the transaction that recorded a notice as sent, with ``notice`` (the `Notice`, its
# ``sent_at`` set), ``case_ids`` (the cases in it) and ``sent_at``. Inside, so that what a receiver
# writes commits with the record; a receiver must not fail the record (it works in a savepoint).
notice_sent = Signal()

__all__ = ["notice_sent"]
