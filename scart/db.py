"""Database helpers shared by the apps."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import connection, models, transaction
from django.db.models import Model

from scart.errors import is_unavailable

logger = logging.getLogger(__name__)


def enqueue_on_commit(send: Callable[[], object], *, what: str) -> None:
    """Call ``send`` (a task's ``delay``) once the current transaction commits; let it fail.

    What the transaction wrote stays committed whatever the broker does, so a broker that is down
    must not turn the request that stored it into an error (a partner told 500 never learns its
    report's reference). The failure is logged, and the periodic sweeps, which read the work
    still to do from the database, queue it again. Any other error is raised.
    """

    def send_after_commit() -> None:
        try:
            send()
        except Exception as exc:
            # Only a broker that cannot be reached is waited out; any other failure (a task called
            # with the wrong arguments, a message that cannot be encoded) is a bug that the sweep
            # would repeat for ever, and is raised.
            if not (is_unavailable(exc) or isinstance(exc, OSError)):
                raise
            logger.exception("%s not queued after commit; the sweep queues it later", what)

    transaction.on_commit(send_after_commit)


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

    Only in the outermost ``atomic()``: inside a caller's transaction (a removal recorded by an
    analyst that also plans the news to a partner hotline) the setting would last to the caller's
    commit and put the caller's writes at risk too, so there it does nothing.
    """
    if connection.vendor == "postgresql" and len(connection.atomic_blocks) == 1:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def rows_insert(objs: Iterable[Model]) -> int:
    """Insert new rows of one model; returns how many. On PostgreSQL with ``COPY`` (about twice
    as fast as ``bulk_create`` for the hundreds of events a notice writes), elsewhere with
    ``bulk_create``. As with ``bulk_create``, no signals are sent and ``save()`` is not called;
    unlike it, the new rows' ids are not read back: for rows nobody reads again in this
    transaction (events).
    """
    objs = list(objs)
    if not objs:
        return 0
    model = type(objs[0])
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(objs)
        return len(objs)
    # Every column but a generated id (a given id is written as it is).
    fields = [f for f in model._meta.concrete_fields if f.column and not (f.primary_key and f.db_returning)]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in fields)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN") as copy,
    ):
        for obj in objs:
            copy.write_row([f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields])
    return len(objs)


def rows_update(model: type[models.Model], key: str, updates: Sequence[tuple[dict[str, Any], Any]]) -> None:
    """``UPDATE ... SET <values> WHERE <key> = %s`` once per ``(values, key value)``, sent as one
    batch (psycopg pipelines an ``executemany``): a hundred rows cost one round trip instead of a
    hundred ORM updates. Every update must set the same fields; rows go in key order, so that two
    workers updating the same rows cannot deadlock."""
    if not updates:
        return
    connection = transaction.get_connection(model._default_manager.db)
    fields = [f for name in updates[0][0] if isinstance(f := model._meta.get_field(name), models.Field)]
    key_field = model._meta.get_field(key)
    assert isinstance(key_field, models.Field)
    quote = connection.ops.quote_name
    # Names from the model's metadata only; every value is a parameter.
    sql = "UPDATE {} SET {} WHERE {} = %s".format(  # noqa: S608
        quote(model._meta.db_table),
        ", ".join(f"{quote(f.column)} = %s" for f in fields),
        quote(key_field.column),
    )
    params = [
        [*(f.get_db_prep_save(values[f.name], connection) for f in fields), value]
        for values, value in sorted(updates, key=lambda update: update[1])
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
