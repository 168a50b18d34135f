"""IMAP command syntax for the local IMAP peer: strings, sequence sets, fetch items and flags, and
the two ways a command fails (``BAD``: not understood; ``NO``: understood, not done)."""

from __future__ import annotations

import re

SYSTEM_FLAGS = ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft")
LITERAL = re.compile(rb"\{(\d+)(\+?)\}\r?\n?$")
# Lines longer than this are refused, as a real server would, so a broken client cannot make the
# test process buffer without end.
MAX_LINE = 64 * 1024


class BadCommand(Exception):
    """A command the server cannot parse: answered ``BAD``."""


class CommandFailed(Exception):
    """A command that cannot be carried out: answered ``NO``."""


def tokens(text: str, literals: list[bytes]) -> list[str]:
    """Split command arguments into atoms, unquoted strings, literals and parenthesised lists.

    A parenthesised list or an atom with brackets (``BODY.PEEK[HEADER]``) stays one token.
    """
    tokens: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == " ":
            i += 1
        elif c == '"':
            i += 1
            value = []
            while i < len(text) and text[i] != '"':
                if text[i] == "\\" and i + 1 < len(text):
                    i += 1
                value.append(text[i])
                i += 1
            if i >= len(text):
                raise BadCommand("unterminated quoted string")
            tokens.append("".join(value))
            i += 1
        elif c == "\x00":
            end = text.index("\x00", i + 1)
            tokens.append(literals[int(text[i + 1 : end])].decode("utf-8", "replace"))
            i = end + 1
        else:
            start, depth = i, 0
            while i < len(text) and (depth or text[i] != " "):
                if text[i] in "([":
                    depth += 1
                elif text[i] in ")]":
                    depth -= 1
                i += 1
            tokens.append(text[start:i])
    return tokens


def one_folder(args: list[str]) -> str:
    if len(args) != 1:
        raise BadCommand("expected one folder name")
    return args[0]


def fetch_items(spec: str) -> list[str]:
    spec = spec.upper()
    if spec.startswith("(") and spec.endswith(")"):
        spec = spec[1:-1]
    return spec.split()


def flag_name(name: str) -> str:
    for system in SYSTEM_FLAGS:
        if name.lower() == system.lower():
            return system
    return name


def sequence_set(spec: str, count: int, *, strict: bool = True) -> list[int]:
    """Numbers of a sequence set (``1``, ``2:4``, ``3,5``, ``*``, ``2:*``), ``*`` being ``count``.

    ``strict`` (sequence numbers) refuses numbers above ``count``; a UID set may name UIDs that
    no longer exist, which the caller skips.
    """
    numbers: set[int] = set()
    try:
        for part in spec.split(","):
            low, _, high = part.partition(":")
            first = count if low == "*" else int(low)
            last = first if not high else count if high == "*" else int(high)
            numbers.update(range(min(first, last), max(first, last) + 1))
    except ValueError:
        raise BadCommand(f"bad sequence set {spec}") from None
    if any(n < 1 or (strict and n > count) for n in numbers):
        raise BadCommand(f"no such message in {spec}")
    return sorted(numbers)


def quoted(name: str) -> bytes:
    return b'"' + name.replace("\\", "\\\\").replace('"', '\\"').encode() + b'"'
