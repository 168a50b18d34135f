"""``python manage.py takedown_stats [--group-by month] [--json]``: the figures the dashboard and
``GET /api/v1/stats/takedown/`` show, with the same filters."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from stats.measures import GROUPINGS, MEASURES, StatsQueryError
from stats.params import CHOICES, stats_params, takedown_body
from stats.timings import timings_refresh_all, timings_refresh_due


class Command(BaseCommand):
    help = "Print takedown-time statistics (definitions: docs/statistics.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--measure", default="removal", help=f"one of {', '.join(MEASURES)}")
        parser.add_argument("--group-by", default="", help=f"one of {', '.join(g for g in GROUPINGS if g)}")
        parser.add_argument("--from", dest="from_", default="", help="first reported on or after (YYYY-MM-DD)")
        parser.add_argument("--to", default="", help="first reported before (YYYY-MM-DD)")
        parser.add_argument("--country", default="", help="hosting country (two letters)")
        parser.add_argument("--provider", default="", help="hosting provider id")
        parser.add_argument("--asn", default="", help="AS number")
        for name in CHOICES:
            parser.add_argument(f"--{name.replace('_', '-')}", dest=name, default="")
        parser.add_argument("--working-hours", action="store_true", help="durations in working hours")
        parser.add_argument("--refresh", action="store_true", help="first bring the statistics up to date")
        parser.add_argument("--rebuild", action="store_true", help="first rebuild the statistics of every case")
        parser.add_argument("--json", action="store_true", help="print one JSON object, as the API returns it")

    def handle(self, *args: Any, **options: Any) -> None:

        query = {
            "measure": options["measure"],
            "group_by": options["group_by"],
            "from": options["from_"],
            "to": options["to"],
            "country": options["country"],
            "provider": options["provider"],
            "asn": options["asn"],
            "working_hours": "1" if options["working_hours"] else "",
            **{name: options[name] for name in CHOICES},
        }
        try:
            params = stats_params(query)
        except StatsQueryError as exc:
            raise CommandError(str(exc)) from exc
        if options["rebuild"]:
            timings_refresh_all()
        elif options["refresh"]:
            timings_refresh_due()
        try:
            body = takedown_body(params)
        except StatsQueryError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(body, default=str, indent=2))
            return
        self._table(body)

    def _table(self, body: dict[str, Any]) -> None:
        unit = body["unit"]
        self.stdout.write(f"{body['label']}: {body['from']} -> {body['to']} ({unit})")
        if body["note"]:
            self.stdout.write(f"  {body['note']}")
        head = f"{'group':<32} {'count':>8} {'median':>9} {'p90':>9} {'mean':>9} {'<=24h':>7} {'<=72h':>7} {'<=7d':>7}"
        self.stdout.write(head)
        for row in body["rows"]:
            cells = [row["median_hours"], row["p90_hours"], row["mean_hours"]]
            shares = [row["within_24h"], row["within_72h"], row["within_7d"]]
            self.stdout.write(
                f"{str(row['label'] or row['group'])[:32]:<32} {row['count']:>8,} "
                + " ".join(f"{v:>9.1f}" if v is not None else f"{'-':>9}" for v in cells)
                + " "
                + " ".join(f"{v:>7.0%}" if v is not None else f"{'-':>7}" for v in shares)
            )
        o = body["overview"]
        self.stdout.write(
            f"cases {o['cases']:,}; illegal {o['illegal']:,}; notified {o['notified']:,}; removed {o['removed']:,} "
            f"({o['removed_before_notice']:,} before notice, {o['removed_unreachable']:,} unreachable); "
            f"still online {o['still_online']:,}"
        )
