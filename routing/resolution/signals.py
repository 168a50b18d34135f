"""What resolution tells later stages (they subscribe in their ``AppConfig.ready``)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent after a case's hosting provider changed (on commit), with ``case_id``, ``old_provider_id``
# and ``new_provider_id``. Routing of notices listens to re-route the case.
provider_changed = Signal()


# Sent inside the transaction in which a senior analyst confirmed a provider's abuse contact, with
# ``provider_id``. Routing of notices listens to plan the notices of the provider's cases.
contact_confirmed = Signal()


__all__ = ["contact_confirmed", "provider_changed"]
