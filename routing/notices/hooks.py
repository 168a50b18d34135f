"""What the notice stage tells the parts of routing after it (connected in `routing.hooks`)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent inside the transaction that recorded a notice as sent, with ``notice`` (the `Notice`, its
# ``sent_at`` set), ``case_ids`` (the cases in it) and ``sent_at``. Inside, so that what a receiver
# writes commits with the record; a receiver must not fail the record (it works in a savepoint).
notice_sent = Signal()

# Sent after the commit that asked for a notice to go out at once (a senior's "send now"), with
# ``notice_id``: routing's wiring queues the task that claims and sends it (the stages cannot import
# the tasks, which sit above them). A message that is lost loses nothing: the notice is due now, and
# the sender's sweep sends it within a minute.
notice_send_requested = Signal()

__all__ = ["notice_send_requested", "notice_sent"]
