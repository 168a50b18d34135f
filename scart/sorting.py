"""Sortable lists: a page names the columns it sorts by (an allow-list of keys, each with the
fields it orders by) and reads `?sort=key` or `?sort=-key` (descending) through `ordering`;
`{% sort_th %}` (reports/templatetags/ui.py) draws the column heads that set it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def ordering(value: str | None, allowed: Mapping[str, Sequence[str]]) -> tuple[str, list[str]]:
    """The sort key as given when it is allowed ("" otherwise) and the fields to order by: each of
    the key's fields, reversed for a descending key, then the primary key as a tie-breaker so that
    pages never repeat or skip a row."""
    value = (value or "").strip()
    descending = value.startswith("-")
    key = value[1:] if descending else value
    if key not in allowed:
        return "", []
    fields = [_flip(field) if descending else field for field in allowed[key]]
    return value, [*fields, "-pk" if descending else "pk"]


def _flip(field: str) -> str:
    return field[1:] if field.startswith("-") else f"-{field}"
