"""Reads for the notice pages and the audit view: the filters a person can set, checked against
allow-lists (an unknown value is ignored, never passed to the database), and the rows they select."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, F, Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import AuditAction, AuditEntry
from reports.models import EventKind
from routing.models import Notice, NoticeKind, NoticeState, Provider, RecipientKind
from routing.notices.render import language_name, template_languages

# Sort keys a person may choose, and the columns behind them (newest first is the default).
NOTICE_SORTS: dict[str, tuple[str, ...]] = {
    "created": ("created_at", "id"),
    "sent": ("sent_at", "id"),
    "due": ("due_at", "id"),
    "reference": ("reference",),
    "recipient": ("recipient_name", "id"),
    "state": ("state", "id"),
    "urls": ("urls", "id"),
}
DEFAULT_NOTICE_SORT = "-created"


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def day_start(day: date) -> datetime:
    """The first moment of ``day`` in the hotline's zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


@dataclass
class NoticeFilters:
    """The notices list's filters as the page's form posts them (GET); invalid values are dropped."""

    state: str = ""
    kind: str = ""
    recipient_kind: str = ""
    provider: str = ""  # a provider's id, as text
    language: str = ""
    sent_from: date | None = None
    sent_to: date | None = None
    q: str = ""
    sort: str = DEFAULT_NOTICE_SORT
    errors: list[str] = field(default_factory=list)

    @classmethod
    def from_query(cls, query: QueryDict) -> NoticeFilters:
        found = cls()
        for name, allowed in (
            ("state", NoticeState.values),
            ("kind", NoticeKind.values),
            ("recipient_kind", RecipientKind.values),
            ("language", template_languages()),
        ):
            value = query.get(name, "")
            if value in allowed:
                setattr(found, name, value)
        provider = query.get("provider", "")
        found.provider = provider if provider.isdigit() else ""
        for name in ("sent_from", "sent_to"):
            raw = query.get(name, "")
            setattr(found, name, _date(raw))
            if raw and getattr(found, name) is None:
                found.errors.append(str(_("%(value)s is not a date (YYYY-MM-DD): ignored.") % {"value": raw}))
        found.q = query.get("q", "").strip()[:200]
        sort = query.get("sort", "")
        found.sort = sort if sort.lstrip("-") in NOTICE_SORTS else DEFAULT_NOTICE_SORT
        return found

    def as_query(self, **override: Any) -> str:
        """The filters as a query string (for pagination and sort links), with ``override``."""
        values = {
            "state": self.state,
            "kind": self.kind,
            "recipient_kind": self.recipient_kind,
            "provider": self.provider,
            "language": self.language,
            "sent_from": self.sent_from.isoformat() if self.sent_from else "",
            "sent_to": self.sent_to.isoformat() if self.sent_to else "",
            "q": self.q,
            "sort": self.sort if self.sort != DEFAULT_NOTICE_SORT else "",
            **override,
        }
        query = QueryDict(mutable=True)
        for key, value in values.items():
            if value:
                query[key] = value
        return query.urlencode()

    @property
    def active(self) -> bool:
        return any(
            (
                self.state,
                self.kind,
                self.recipient_kind,
                self.provider,
                self.language,
                self.sent_from,
                self.sent_to,
                self.q,
            )
        )


def notices_filtered(filters: NoticeFilters) -> QuerySet[Notice]:
    """The notices the filters select, with their live URL count, in the chosen order."""
    rows = Notice.objects.select_related("provider", "hotline").annotate(
        urls=Count("items", filter=Q(items__dropped_at__isnull=True))
    )
    for name in ("state", "kind", "recipient_kind", "language"):
        value = getattr(filters, name)
        if value:
            rows = rows.filter(**{name: value})
    if filters.provider:
        rows = rows.filter(provider_id=int(filters.provider))
    if filters.sent_from:
        rows = rows.filter(sent_at__gte=day_start(filters.sent_from))
    if filters.sent_to:
        rows = rows.filter(sent_at__lt=day_start(filters.sent_to + timedelta(days=1)))
    if filters.q:
        q = filters.q
        rows = rows.annotate(addresses=Cast("emails", TextField())).filter(
            Q(reference__iexact=q)
            | Q(reference__istartswith=q)
            | Q(addresses__icontains=q)
            | Q(recipient_name__icontains=q)
            | Q(provider__name__icontains=q)
        )
    descending = filters.sort.startswith("-")
    columns = NOTICE_SORTS[filters.sort.lstrip("-")]
    order = [f"-{c}" if descending else c for c in columns]
    if columns[0] in ("sent_at", "due_at"):
        # Notices not sent (or not due) yet go last either way.
        head = F(columns[0]).desc(nulls_last=True) if descending else F(columns[0]).asc(nulls_last=True)
        return rows.order_by(head, *order[1:])
    return rows.order_by(*order)


def notice_filter_choices() -> dict[str, Any]:
    """What the filter form offers: every state, kind, recipient kind and notice language, and the
    providers that have notices (by name)."""
    return {
        "states": NoticeState.choices,
        "kinds": NoticeKind.choices,
        "recipient_kinds": RecipientKind.choices,
        "languages": [(code, language_name(code)) for code in template_languages()],
        "providers": list(
            Provider.objects.filter(pk__in=Notice.objects.exclude(provider=None).values("provider"))
            .order_by("name")
            .values_list("pk", "name")
        ),
        "sorts": NOTICE_SORTS,
    }


def notice_state_counts() -> dict[str, int]:
    return dict(Notice.objects.order_by().values_list("state").annotate(n=Count("id")))


# The audit view -------------------------------------------------------------------------------

# The action filter's values for the events staff wrote on a case's timeline (`workspace.audit`):
# the event's kind after this prefix, apart from the audit trail's actions.
EVENT_ACTION_PREFIX = "event:"


@dataclass
class AuditFilters:
    user: str = ""
    action: str = ""
    case: str = ""  # a case id, as text
    notice: str = ""  # a notice reference
    since: date | None = None
    until: date | None = None

    @classmethod
    def from_query(cls, query: QueryDict) -> AuditFilters:
        action = query.get("action", "")
        case = query.get("case", "").strip().lstrip("#")
        return cls(
            user=query.get("user", "").strip()[:150],
            action=action if action in AuditAction.values or _event_action(action) else "",
            case=case if case.isdigit() else "",
            notice=query.get("notice", "").strip()[:32],
            since=_date(query.get("since", "")),
            until=_date(query.get("until", "")),
        )

    def as_query(self, **override: Any) -> str:
        values = {
            "user": self.user,
            "action": self.action,
            "case": self.case,
            "notice": self.notice,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
            **override,
        }
        query = QueryDict(mutable=True)
        for key, value in values.items():
            if value:
                query[key] = value
        return query.urlencode()


def _event_action(action: str) -> bool:
    return action.startswith(EVENT_ACTION_PREFIX) and action.removeprefix(EVENT_ACTION_PREFIX) in EventKind.values


@dataclass(frozen=True)
class AuditRow:
    """One entry of the audit trail as the senior's view shows it."""

    at: datetime
    who: str
    action: str  # in words
    summary: str
    case_id: int | None  # the case acted on, for a link
    notice_id: int | None  # the notice acted on, for a link
    notice_reference: str
    ip_address: str


def audit_entries(filters: AuditFilters) -> QuerySet[AuditEntry]:
    """The audit trail's entries the filters select, newest first. The case filter finds the
    entries about the case and about the notices that carried it. None when the action filter
    names a kind of case event."""
    if filters.action.startswith(EVENT_ACTION_PREFIX):
        return AuditEntry.objects.none()
    rows = AuditEntry.objects.all()
    if filters.user:
        rows = rows.filter(actor_name__iexact=filters.user)
    if filters.action:
        rows = rows.filter(action=filters.action)
    if filters.case:
        notice_ids = [
            str(pk) for pk in Notice.objects.filter(items__case_id=int(filters.case)).values_list("pk", flat=True)
        ]
        rows = rows.filter(
            Q(object_type="reports.case", object_id=filters.case)
            | Q(object_type="routing.notice", object_id__in=notice_ids)
        )
    if filters.notice:
        notice = Notice.objects.filter(reference__iexact=filters.notice).first()
        rows = rows.filter(object_type="routing.notice", object_id=str(notice.pk) if notice else "-")
    if filters.since:
        rows = rows.filter(at__gte=day_start(filters.since))
    if filters.until:
        rows = rows.filter(at__lt=day_start(filters.until + timedelta(days=1)))
    return rows.order_by("-at", "-id")


def audit_rows(entries: list[AuditEntry]) -> list[AuditRow]:
    notice_ids = [int(e.object_id) for e in entries if e.object_type == "routing.notice" and e.object_id.isdigit()]
    references = dict(Notice.objects.filter(pk__in=notice_ids).values_list("pk", "reference"))
    labels = dict(AuditAction.choices)
    rows = []
    for e in entries:
        is_case = e.object_type == "reports.case" and e.object_id.isdigit()
        is_notice = e.object_type == "routing.notice" and e.object_id.isdigit() and int(e.object_id) in references
        rows.append(
            AuditRow(
                at=e.at,
                who=e.actor_name or str(_("the system")),
                action=str(labels.get(e.action, e.action)),
                summary=e.summary_text(),
                case_id=int(e.object_id) if is_case else None,
                notice_id=int(e.object_id) if is_notice else None,
                notice_reference=references.get(int(e.object_id), "") if is_notice else "",
                ip_address=e.ip_address or "",
            )
        )
    return rows


def audit_users() -> list[str]:
    return list(
        AuditEntry.objects.exclude(actor_name="").order_by("actor_name").values_list("actor_name", flat=True).distinct()
    )
