"""Errors a person reads, in the reader's language.

A service raises a `ShownError` with a message marked for translation (``gettext_lazy``) and
named parameters; nothing is put in words until the error is shown. ``str(error)`` then gives it
in the language active at that moment (the staff member's, on a page), `english` gives the
source text for the API and the logs, whose messages stay stable, and ``code`` names the error
for programs and for code that must tell errors apart: such code compares codes, never texts.
"""

from __future__ import annotations

from typing import Any

from django.utils import translation
from django.utils.functional import Promise, lazy


def _lowered(text: Any) -> str:
    return str(text).lower()


# A lazily translated label in lower case ("illegal" in a sentence), put in words when shown.
lower_lazy = lazy(_lowered, str)


class ShownError(Exception):
    """An error whose message a person reads (see the module)."""

    code = "invalid"

    def __init__(self, message: str | Promise = "", /, *, code: str = "", **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.params = params
        if code:
            self.code = code

    def __str__(self) -> str:
        text = str(self.message)
        if not self.params:
            return text
        return text % {name: str(value) if isinstance(value, Promise) else value for name, value in self.params.items()}

    def english(self) -> str:
        """The message in English, the source language (for programs and logs)."""
        with translation.override("en"):
            return str(self)
