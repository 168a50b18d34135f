"""A synthetic takedown history on reserved example domains: the demo data of the statistics
dashboard and the data set of its benchmark (``python manage.py seed_demo``).

`demo_seed` lays ``cases`` cases out over the ``days`` before an anchor moment and gives each the
timeline the live system would have written: reports through the four intake channels, resolution,
a verdict some working hours later, routing by jurisdiction (own country: a notice to the
provider; a partner hotline's country: a referral; elsewhere: a notice to the provider and a
report to the police), batched notices with ``SCART-YYYYMMDD-NNNNNN`` references, reminders and
escalation for slow providers, the availability checks that decided something, removal (mostly
within days, a long tail over weeks, some never; some before any notice, some after 72 hours
unreachable), and a few reappearances with a new notice cycle. Events carry the kinds and ``data``
of the code that writes them live (`reports.services`, `reports.assessment`, `routing.resolution.cases`,
`routing.jurisdiction`, `routing.notices.sending`, `routing.notices.recording`,
`routing.checks.tracking`).

The same ``seed``, ``cases``, ``days`` and anchor give the same cases, URLs and timestamps (ids and
notice numbers depend on what the database holds already). Nothing is read from the clock but the
default anchor, the start of today in ``TIME_ZONE``.

Demo data is recognisable, and `demo_delete` removes it and nothing else: cases on hosts under
``.seed-demo.example.com|net|org`` (named by no other report), reports whose ``external_ref``
starts with ``seed-demo-`` (from no partner or a demo one, naming only demo cases), notices whose
Message-ID ends in ``.notice@seed-demo.example>``, providers whose key starts with ``seed-demo:``,
the partners of `PARTNERS` and the users named ``seed-demo-*`` (inactive, without a password),
each only while nothing else refers to it.

Where the demo differs from a live system, on purpose:

- open cases have nothing scheduled (``check_due_at``, ``notice_plan_at`` and ``ladder_due_at`` are
  empty), so a running worker neither checks the reserved hosts nor sends reminders about them, and
  a notice that would still be queued at the anchor is not made (its cases wait, illegal);
- a case whose content went while it waited in a notice's batch window is left out of that notice
  (the live planner adds it and takes it out again);
- referrals and police reports go to the partner hotline's address or ``SCART_POLICE_EMAIL`` when
  set, else to placeholders on ``.example``: the seeded partner hotlines have no address yet;
- of the availability checks only those that decided something are stored (the last online one,
  the gone or unreachable run, the reappearance checks), not every hourly one in between.

Rows are written in chunks, one transaction each: with ``COPY`` on PostgreSQL (`bulk_create` takes
four times as long there; ``--no-copy`` uses it) and with `bulk_create` elsewhere. Primary keys are
taken before the rows are written, so that rows can point at each other: from the table's sequence
on PostgreSQL, after the largest id inside the chunk's transaction (which holds SQLite's write
lock) elsewhere.

The modules, in the order the history is made; one `state.SeedState` and its single random
source pass through all of them, so the order of the draws (and so a seed's data) is theirs:

- `constants`: the marks of demo data and the shares and weights the draws follow;
- `world`: users, API partners, providers, their sites, routes and resolutions;
- `intake`: reports over the span by channel, and each case up to its verdict;
- `assessment`: when analysts get to a case, and their verdict;
- `cycles`: routing and the notice cycle of an illegal case;
- `notices`: batch windows, reminders, escalation, the batch notices and their numbers;
- `removal`: when content goes, the checks that see it, closing, reappearance;
- `timeline`: a case's events, state changes and row;
- `chunks`, `tables`: chunks and transactions, ``COPY`` or `bulk_create`, ids taken in advance;
- `cleanup`: how demo data is recognised, counted and deleted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from datetime import time as clock

from django.db import connection
from django.utils import timezone

from devnet.history.chunks import seed_history
from devnet.history.cleanup import demo_case_filter, demo_counts, demo_delete, demo_reports
from devnet.history.constants import (
    HOST_SUFFIXES,
    MARK,
    MAX_CASES,
    MESSAGE_ID_SUFFIX,
    PARTNERS,
    POLICE_PLACEHOLDER,
    PROVIDER_KEY_PREFIX,
    REPORT_REF_PREFIX,
    USER_PREFIX,
)
from devnet.history.state import SeedState, SeedSummary

__all__ = [
    "CHUNK_CASES",
    "HOST_SUFFIXES",
    "MARK",
    "MAX_CASES",
    "MESSAGE_ID_SUFFIX",
    "PARTNERS",
    "POLICE_PLACEHOLDER",
    "PROVIDER_KEY_PREFIX",
    "REPORT_REF_PREFIX",
    "USER_PREFIX",
    "SeedSummary",
    "default_anchor",
    "demo_case_filter",
    "demo_counts",
    "demo_delete",
    "demo_reports",
    "demo_seed",
]

# Cases per chunk (one transaction): short enough on SQLite for other writers not to wait long.
# Read by `demo_seed` when it is called, so that setting ``devnet.history.CHUNK_CASES`` takes effect.
CHUNK_CASES = {"postgresql": 10_000, "sqlite": 1_000}


def default_anchor() -> datetime:
    """The start of today in ``TIME_ZONE``: every run on one day lays the history out alike."""
    return timezone.make_aware(datetime.combine(timezone.localdate(), clock()))


def demo_seed(
    *,
    cases: int,
    seed: int,
    now: datetime | None = None,
    days: int = 730,
    use_copy: bool = True,
    progress: Callable[[int, int, float], None] | None = None,
) -> SeedSummary:
    """Create the demo history: ``cases`` cases reported over the ``days`` before ``now`` (default:
    `default_anchor`). Does not look for earlier demo data; the caller refuses or deletes first."""
    started = time.monotonic()
    anchor = now or default_anchor()
    state = SeedState(cases=cases, seed=seed, anchor=anchor, days=days, use_copy=use_copy)
    chunk_cases = CHUNK_CASES.get(connection.vendor, 1_000)
    seed_history(state, chunk_cases=chunk_cases, progress=progress, started=started)
    state.summary.seconds = time.monotonic() - started
    return state.summary
