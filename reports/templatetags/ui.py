"""Small pieces every page shows the same way: a URL on one line, a time with its age.

`{% load ui %}` then:
- `{% url_cell url %}`: the URL on one line, cut in the middle when the column is narrow; the whole
  text stays in the page (copying the cell copies all of it) and in the title for hovering.
- `{% when moment %}`: a `<time>` reading "3 h ago" (or "in 2 h"), the full local time on hover.
- `{{ moment|age }}`: the relative age as text alone.
- `{% sort_th key label %}`: a sortable column head (`?sort=key`, then `-key`), other parameters kept.
"""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

register = template.Library()

# The tail of a URL that stays visible when the cell is cut: enough for a file name or a query.
TAIL = 18


@register.simple_tag
def url_cell(url: str | None) -> str:
    if not url:
        return ""
    head, tail = (url[:-TAIL], url[-TAIL:]) if len(url) > 2 * TAIL else (url, "")
    return format_html(
        '<span class="url-mid" title="{}"><span class="url-head">{}</span><span class="url-tail">{}</span></span>',
        url,
        head,
        tail,
    )


def age_text(moment: datetime, now: datetime | None = None) -> str:
    now = now or timezone.now()
    seconds = int((now - moment).total_seconds())
    ahead = seconds < 0
    seconds = abs(seconds)
    if seconds < 60:
        return _("just now") if not ahead else _("in under a minute")
    for size, unit in ((86400 * 365, _("y")), (86400, _("d")), (3600, _("h")), (60, _("min"))):
        if seconds >= size:
            amount = f"{seconds // size} {unit}"
            return _("in %(amount)s") % {"amount": amount} if ahead else _("%(amount)s ago") % {"amount": amount}
    raise AssertionError("unreachable")  # pragma: no cover


@register.filter
def confidence(value: str | None) -> str:
    """How far a provider's abuse contact can be trusted (``high``, ``low``, ``none``), in words."""
    words = {"high": _("high"), "low": _("low"), "none": _("none")}
    return words.get(value or "", value or "")


@register.filter
def headword(label: str | None) -> str:
    """A choice's label up to its explanation: ``Unknown`` of ``Unknown: the sender stopped…``."""
    return str(label or "").split(":")[0]


@register.filter
def age(moment: datetime | None) -> str:
    return age_text(moment) if moment else ""


@register.simple_tag
def when(moment: datetime | None) -> str:
    if not moment:
        return ""
    local = timezone.localtime(moment)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        moment.isoformat(),
        f"{date_format(local, 'DATETIME_FORMAT')} {local.tzname() or ''}",
        age_text(moment),
    )


@register.simple_tag(takes_context=True)
def sort_th(context: template.Context, key: str, label: str, numeric: bool = False) -> str:
    """A column head that sorts the list by ``key``: ``?sort=key``, then ``?sort=-key`` on the
    next click, keeping the page's other query parameters (filters) and starting again at page
    one. The current column carries ``aria-sort`` and an arrow."""
    request = context["request"]
    current = request.GET.get("sort", "")
    params = request.GET.copy()
    params.pop("page", None)
    params.pop("cursor", None)
    if current == key:
        params["sort"], state, arrow = f"-{key}", "ascending", "▲"
    elif current == f"-{key}":
        params["sort"], state, arrow = key, "descending", "▼"
    else:
        params["sort"], state, arrow = key, "", ""
    return format_html(
        '<th scope="col"{}{}><a class="sort" href="?{}">{}{}</a></th>',
        format_html(' aria-sort="{}"', state) if state else "",
        mark_safe(' class="n"') if numeric else "",
        params.urlencode(),
        label,
        format_html(' <span class="arrow" aria-hidden="true">{}</span>', arrow) if arrow else "",
    )
