"""Compile the translation catalogues (locale/*/LC_MESSAGES/django.po) without GNU gettext."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from scart.catalogue import catalogue_compile


class Command(BaseCommand):
    help = "Compile locale/*/LC_MESSAGES/*.po to .mo (pure Python; fuzzy entries left out)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="Compile even if the .mo is newer.")

    def handle(self, *args: Any, **options: Any) -> None:
        for path in catalogue_compile(force=options["force"]):
            self.stdout.write(f"compiled {path}")
