"""Takedown notices: planning (batches per recipient), rendering (templates, CSV, X-ARF v4),
sending (the notify queue), the provider's confirmation link, replies and bounces, reminders
and escalation. See docs/notices.md."""
