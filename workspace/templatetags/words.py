"""Stored reasons in the reader's language, for templates that read rows directly."""

from __future__ import annotations

from django import template

from workspace.sentences import drop_reason_text

register = template.Library()


@register.filter
def drop_reason(reason: str) -> str:
    """Why a case was taken out of a notice (`NoticeCase.drop_reason`), in words."""
    return drop_reason_text(reason or "")
