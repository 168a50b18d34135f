"""Database helpers shared by the apps."""

from __future__ import annotations

from django.db import connection


def commit_without_waiting_for_disk() -> None:
    """Inside ``transaction.atomic()``: on PostgreSQL, let this transaction's COMMIT return before
    its WAL record reaches the disk (``SET LOCAL synchronous_commit TO OFF``; elsewhere nothing).

    Only for writes that may be lost when the database server itself crashes, because they are
    redone or caught afterwards: planning (the sweep plans the cases again), routing events
    (written again when the decision differs), a notice's ``sent`` record (the notice is then
    found in ``sending`` and becomes ``unknown`` for a person: never sent twice). A write that
    guards against doing something twice, such as ``sending`` before the SMTP attempt, must wait
    for the disk. The data stay consistent either way: a crash loses the last few hundred
    milliseconds of such commits, whole transactions only.
    """
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
