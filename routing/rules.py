"""A domain rule that is added, changed or removed applies to the open cases under it at once,
not at their next twice-daily re-resolution: their resolution is made due and queued, so that a
new provider, an origin behind a CDN, or an auto-accepted verdict reaches them within seconds."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any

from django.db.models import Q
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver
from django.utils import timezone

from reports.cases.hooks import cases_resolution_due
from reports.models import Case, CaseState
from reports.suggestions import Suggestion, SuggestionKind
from routing.models import DomainRule
from scart.db import enqueue_on_commit


def host_suffixes(host: str) -> list[str]:
    """``a.b.example.com`` -> itself, ``b.example.com``, ``example.com``, ``com``: most specific first."""
    labels = host.lower().rstrip(".").split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


def rules_by_host(hosts: Iterable[str], rules: Any = None) -> dict[str, DomainRule]:
    """The rule that applies to each host: the one with the most specific suffix (one query).
    ``rules`` narrows the rules considered (a queryset of DomainRule)."""
    hosts = set(hosts)
    wanted = {s for host in hosts for s in host_suffixes(host)}
    if not wanted:
        return {}
    found = {r.suffix: r for r in (rules if rules is not None else DomainRule.objects.all()).filter(suffix__in=wanted)}
    chosen = {host: next((found[s] for s in host_suffixes(host) if s in found), None) for host in hosts}
    return {host: rule for host, rule in chosen.items() if rule is not None}


def rule_suggestions(cases: Sequence[Case]) -> dict[int, Suggestion]:
    """The suggestion of the most specific domain rule with a suggested verdict over each case's
    host (one query); registered with `reports.suggestions` as its domain-rule source."""
    rules = rules_by_host((case.host for case in cases), DomainRule.objects.exclude(suggest_verdict=""))
    found: dict[int, Suggestion] = {}
    for case in cases:
        rule = rules.get(case.host)
        if rule is None:
            continue
        found[case.pk] = Suggestion(
            SuggestionKind.RULE,
            rule.suggestion(),
            f"domain rule for {rule.suffix}" + (" (auto-accept)" if rule.auto_accept else ""),
            f"{SuggestionKind.RULE}:{rule.pk}",
            auto=rule.auto_accept,
        )
    return found


def cases_under(suffixes: Iterable[str]) -> Q:
    """Cases on a host that is one of ``suffixes`` or under one of them."""
    match = Q(pk__in=[])
    for suffix in {s for s in suffixes if s}:
        match |= Q(host=suffix) | Q(host__endswith=f".{suffix}")
    return match


def rule_reresolve(*, suffixes: Iterable[str]) -> list[int]:
    """Make the resolution of the open cases under these suffixes due now and queue it once the
    transaction commits. Returns their ids."""
    # Only the cases whose routing a rule can still change (new cases are resolved anyway).
    ids = list(Case.objects.filter(cases_under(suffixes), state__in=CaseState.OPEN).values_list("pk", flat=True))
    if ids:
        Case.objects.filter(pk__in=ids).update(resolve_due_at=timezone.now())
        # Announced, as the sweeps do: routing.hooks queues the resolution (this stage sits below
        # routing's tasks). The receiver's broker error reaches enqueue_on_commit, which logs it.
        send = partial(cases_resolution_due.send, sender=Case, case_ids=ids)
        enqueue_on_commit(send, what="cases_enqueue_resolution")
    return ids


@receiver(pre_save, sender=DomainRule)
def _remember_suffix(sender: Any, instance: DomainRule, **kwargs: Any) -> None:
    previous = (
        DomainRule.objects.filter(pk=instance.pk).values_list("suffix", flat=True).first() if instance.pk else None
    )
    instance._previous_suffix = previous  # type: ignore[attr-defined]


@receiver(post_save, sender=DomainRule)
def _rule_saved(sender: Any, instance: DomainRule, **kwargs: Any) -> None:
    rule_reresolve(suffixes=[instance.suffix, getattr(instance, "_previous_suffix", None) or ""])


@receiver(post_delete, sender=DomainRule)
def _rule_deleted(sender: Any, instance: DomainRule, **kwargs: Any) -> None:
    rule_reresolve(suffixes=[instance.suffix])
