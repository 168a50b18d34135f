"""The workspace's navigation: which pages a role sees in the header, which of them the current page
belongs to, and how many items wait on each worklist.

A page is one line of `SECTIONS`; a page another part of the workspace has not added yet (its URL
name does not resolve) is left out, so the header links to every page as soon as it exists. Pages
below a section (a case, a notice, a rule's form) mark their section as current through `BELOW`.

The counts are a few COUNT queries, run only for signed-in staff and only when the header is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _

from accounts.roles import RANK, Role, role_of
from reports.models import Case, CaseState, Review, ReviewState
from routing.models import DisputeState, NoticeCase


@dataclass(frozen=True)
class Link:
    name: str  # the URL name
    label: Any
    rank: int = 1  # 1 analyst, 2 senior, 3 administrator
    count: str = ""  # a key of `counts()`
    more: bool = False  # under "More" at the end of its group, to keep the header on one row


# Groups of links, shown in this order with a divider between groups.
SECTIONS: tuple[tuple[Link, ...], ...] = (
    (
        Link("workspace-queue", _("Queue"), count="queue"),
        Link("worklist-mine", _("My work")),
        Link("worklist-waiting", _("Waiting on providers")),
        Link("worklist-deadlines", _("Deadlines")),
        Link("worklist-held", _("Held")),
    ),
    (
        Link("cases-list", _("Cases")),
        Link("notices-list", _("Notices")),
        Link("providers-list", _("Providers")),
        Link("stats-dashboard", _("Statistics")),
    ),
    (
        Link("reviews-queue", _("Reviews"), rank=2, count="reviews"),
        Link("disputes-queue", _("Disputes"), rank=2, count="disputes"),
        Link("contacts-queue", _("Contacts"), rank=2, count="contacts"),
        Link("rules-list", _("Rules"), rank=2, more=True),
        Link("deadline-rules", _("Deadline rules"), rank=2, more=True),
        Link("audit-list", _("Audit"), rank=2, more=True),
        Link("privacy-retention", _("Data protection"), rank=2, more=True),
    ),
)

# Pages that belong to a section of the header: the section is marked while they are open.
BELOW: dict[str, str] = {
    "workspace-case": "workspace-queue",
    "workspace-next": "workspace-queue",
    "workspace-assess": "workspace-queue",
    "workspace-bulk": "workspace-queue",
    "cases-release": "workspace-queue",
    "cases-mark-removed": "workspace-queue",
    "notices-detail": "notices-list",
    "notices-resend": "notices-list",
    "notices-mark-sent": "notices-list",
    "reviews-page": "reviews-queue",
    "reviews-decide": "reviews-queue",
    "disputes-decide": "disputes-queue",
    "contacts-confirm": "contacts-queue",
    "rules-new": "rules-list",
    "rules-edit": "rules-list",
    "rules-delete": "rules-list",
    "stats-transparency": "stats-dashboard",
    "providers-detail": "providers-list",
    "privacy-reporter": "privacy-retention",
}


def section_of(url_name: str | None) -> str:
    """The header link a page marks as current: its own, or the one of the section it is under."""
    if not url_name:
        return ""
    return BELOW.get(url_name, url_name)


def counts(*, rank: int, user: Any) -> dict[str, int]:
    """How many items wait on each worklist of the header: one query on cases, and for senior
    analysts one more on cases and one each on reviews and disputes. Each count is a query of its
    own: each is answered from its index, where one aggregate with a filter per count reads every
    case (168 ms against 60 ms at a million cases)."""
    found = {"queue": Case.objects.filter(state=CaseState.AWAITING_ASSESSMENT).count()}
    if rank >= RANK[Role.SENIOR]:
        found["contacts"] = Case.objects.filter(contact_check=True).count()
        found["reviews"] = Review.objects.filter(state=ReviewState.OPEN).exclude(analyst=user).count()
        found["disputes"] = NoticeCase.objects.filter(dispute_state=DisputeState.OPEN).count()
    return found


@dataclass(frozen=True)
class NavLink:
    url: str
    label: Any
    current: bool
    count: int | None


@dataclass(frozen=True)
class NavGroup:
    """One group of the header: its links in a row, and those under its "More" menu."""

    links: list[NavLink]
    more: list[NavLink]

    @property
    def more_current(self) -> bool:
        return any(link.current for link in self.more)


def links(*, rank: int, current: str, user: Any) -> list[NavGroup]:
    """The header's groups of links for a role, each link with its URL, whether it is current, and
    its count (None for pages without one)."""
    found = counts(rank=rank, user=user)
    groups = []
    for section in SECTIONS:
        group: list[NavLink] = []
        more: list[NavLink] = []
        for link in section:
            if link.rank > rank:
                continue
            try:
                url = reverse(link.name)
            except NoReverseMatch:
                continue  # a page not built yet
            count = found.get(link.count) if link.count else None
            (more if link.more else group).append(NavLink(url, link.label, link.name == current, count))
        if group or more:
            groups.append(NavGroup(group, more))
    return groups


def navigation(request: HttpRequest) -> dict[str, Any]:
    """Context processor: `nav_groups` (the header's links, worked out when the header is drawn)
    and `nav_search` (the search page's URL, when it exists) for signed-in staff; nothing for
    anyone else."""
    user = getattr(request, "user", None)
    verified = user is not None and getattr(user, "is_verified", lambda: False)()
    role = role_of(user) if verified else None
    if role is None:
        return {}
    match = getattr(request, "resolver_match", None)
    current = section_of(match.url_name if match else None)
    try:
        search = reverse("workspace-search")
    except NoReverseMatch:
        search = ""
    return {
        "nav_groups": SimpleLazyObject(lambda: links(rank=RANK[role], current=current, user=user)),
        "nav_search": search,
        "role_label": role.label,
    }
