"""What intake and assessment tell the stages after them.

`reports` sits below `routing` and never imports it: a stage announces what happened here, and a
later stage subscribes in its ``AppConfig.ready`` (routing connects them in `routing.apps`).
Receivers take ``sender`` (the `Case` model) and the keyword arguments named below.
"""

from __future__ import annotations

from django.dispatch import Signal

# Sent once the transaction that created new cases commits, with ``case_ids``. A broker that is
# down must not fail the report (see `scart.db.enqueue_on_commit`). Resolution queues them.
cases_created = Signal()

# Sent when the resolution of existing cases is due again (the sweeps find it overdue, or a
# claim's lease ran out), with ``case_ids``, outside any transaction. Resolution queues them.
cases_resolution_due = Signal()

# Sent inside the transaction that recorded a verdict which lets notices go (a case became, or
# stays, illegal: an analyst's verdict, a senior agreeing with a blocking review), with
# ``case_ids``. Inside, not on commit: the receiver marks the cases for planning in the same
# transaction, so the sweep plans them even if the process dies right after the commit; it queues
# its own work on commit.
verdict_recorded = Signal()

__all__ = ["cases_created", "cases_resolution_due", "verdict_recorded"]
