"""CSV cells a spreadsheet opens safely.

Spreadsheets run a text cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage
return before one) as a formula. scart's exports hold text others chose: provider names from
RDAP, reported URLs. Such text is written with a leading quote; numbers and dates stay as they are.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return f"'{value}"
    return value


class SafeWriter:
    """``csv.writer`` whose every text cell goes through `cell`."""

    def __init__(self, stream: Any, **options: Any) -> None:
        self._writer = csv.writer(stream, **options)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([cell(value) for value in row])
