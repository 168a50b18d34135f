"""The API's only request parser: JSON, with limits that keep hostile bodies from reaching the
database or Python's recursion limit (docs/api.md, "Limits").

- A body larger than ``SCART_API_MAX_BODY_BYTES`` is refused with 413 before it is read whole.
- JSON nested deeper than `MAX_DEPTH` is refused with 400 before it is parsed: `json.loads`
  recurses once per level and fails with RecursionError a few thousand levels down.
- Strings (values and keys) with NUL or a lone UTF-16 surrogate (``"\\ud800"``) are refused with
  400: valid JSON, but no URL or text has them, and PostgreSQL can store neither.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser
from rest_framework.utils import json

# The request body is level 1: {"classification": {"x": [...]}} is 3 levels deep.
MAX_DEPTH = 32

# Escapes go first, then strings are plain runs between quotes: both passes are linear. (One pattern
# for a string with its escapes, tried at every quote of a string that never closes, is quadratic:
# 40 KB of `"\` took 17 s.) A backslash outside a string hides one character, but JSON has none
# there, so the parser stops at it before any bracket it hid.
_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_INNERMOST = re.compile(rb"\[\]|\{\}")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


def json_depth_check(body: bytes, *, limit: int = MAX_DEPTH) -> None:
    """Raise ParseError if ``body`` nests arrays and objects deeper than ``limit``.

    Strings are cut out first (brackets in them are text; in linear time), then every pass removes the innermost
    empty pairs, one level per pass, in C: a body of nothing but brackets costs ``limit`` scans.
    """
    brackets = _STRING.sub(b"", _ESCAPE.sub(b"", body)).translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        if not brackets:
            return
        inner = _INNERMOST.sub(b"", brackets)
        if inner == brackets:
            raise ParseError("JSON parse error - unbalanced brackets")
        brackets = inner
    if brackets:
        raise ParseError(f"JSON nested deeper than {limit} levels")


def unstorable_check(value: Any, path: str = "") -> None:
    """Raise ParseError naming the first string (or key) that holds NUL or a lone surrogate."""
    stack: list[tuple[str, Any]] = [(path or "body", value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            found = _UNSTORABLE.search(item)
            if found:
                what = "NUL character" if found.group() == "\x00" else f"lone surrogate (\\u{ord(found.group()):04x})"
                raise ParseError(f"{where} holds a {what}, which no URL or text may contain")
        elif isinstance(item, dict):
            for key, child in item.items():
                stack.append((f"a key in {where}", key))
                # The message names the path, so a key that is itself unstorable is not spelt out.
                stack.append((f"{where}.{'?' if _UNSTORABLE.search(key) else key}", child))
        elif isinstance(item, list):
            stack.extend((f"{where}[{index}]", child) for index, child in enumerate(item))


class LimitedJSONParser(BaseParser):
    """JSON behind a size limit, a depth limit and a check of every string.

    Not a subclass of DRF's JSONParser on purpose: DRF reads the whole body for that one through
    Django's ``request.body``, under DATA_UPLOAD_MAX_MEMORY_SIZE, which is the limit of forms; this
    parser gets the unread stream and reads at most its own limit of it.
    """

    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit: int = settings.SCART_API_MAX_BODY_BYTES
        request = (parser_context or {}).get("request")
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        except ValueError:
            declared = 0
        too_large = RequestTooLarge(f"The request body is larger than {limit} bytes.")
        if declared > limit:
            raise too_large
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise too_large
        json_depth_check(body)
        try:
            # Strict, as DRF's parser: NaN and Infinity are not JSON.
            data = json.loads(body.decode(self._encoding(parser_context)), parse_constant=json.strict_constant)
        except ValueError as exc:  # invalid UTF-8 included
            raise ParseError(f"JSON parse error - {exc}") from None
        unstorable_check(data)
        return data

    def _encoding(self, parser_context: Any) -> str:
        return str((parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET)
