"""The text of an intake mail message, the URLs in it, and whether the message can be read at all.

Only text is read: ``text/plain`` parts, or ``text/html`` parts (as visible text plus link targets)
when there is no plain text. Attachments, forwarded messages and other non-text parts are skipped
without being decoded: a mailbox is where content is most likely to arrive by mistake.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from email import errors
from email.message import EmailMessage
from html.parser import HTMLParser

# A URL as people paste it into a message: http(s), or defanged as hxxp(s) and with "[://]" or
# "[:]//" for the separator. Defanged dots ("[.]", "(.)", "{.}", "[dot]") are part of the match
# because brackets are; `_refang` undoes them. The character class stops at whitespace, at angle
# brackets and double quotes (mail clients wrap URLs in them), at typographic double quotes and
# guillemets (Outlook and Word turn straight quotes into curly ones, French mail quotes with
# guillemets, German with low-high quotes) and at backticks. Typographic single quotes are not
# stops, because the right one is also the apostrophe inside a path (a French "l'été" typed in
# Word); a trailing one is trimmed below. Zero-width spaces and joiners (pasted from web pages and
# chat) are invisible stops too. The scheme must not follow an ASCII letter or digit ("xhttp://"
# is no URL), but may follow any other letter: Chinese or Japanese text puts no space before it.
_URL_CANDIDATE = re.compile(
    r"(?<![A-Za-z0-9_])h(?:tt|xx)ps?(?:://|\[://\]|\[:\]//)"
    r"[^\s<>\"`\u201c\u201d\u201e\u201f\u00ab\u00bb\u200b\u200c\u200d\u2060\ufeff]+",
    re.IGNORECASE,
)
_DEFANGED_DOT = re.compile(r"\[(?:\.|dot)\]|\((?:\.|dot)\)|\{(?:\.|dot)\}", re.IGNORECASE)
_DEFANGED_SCHEME = re.compile(r"^hxxp", re.IGNORECASE)
# Punctuation that ends a sentence or closes a quote rather than the URL: ASCII; typographic single
# quotes and angle quotes and the ellipsis; full-width (CJK) full stop, commas, colons, marks and
# closing brackets.
_TRAILING = (
    ".,;:!?'\"*)]}>"
    + "\u2018\u2019\u201a\u201b\u2039\u203a\u2026"
    + "\u3002\u3001\uff0c\uff1b\uff1a\uff01\uff1f\uff09\u3011\u300d\u300f\u3009\u300b"
)
# Closing brackets that are kept when the URL opened them (Wikipedia style), ASCII and full-width.
_CLOSERS = {
    ")": "(",
    "]": "[",
    "}": "{",
    "\uff09": "\uff08",
    "\u3011": "\u3010",
    "\u300d": "\u300c",
    "\u300f": "\u300e",
    "\u3009": "\u3008",
    "\u300b": "\u300a",
}


def message_text(message: EmailMessage) -> str:
    """The text a person wrote in the message: its plain text parts, else its HTML parts as text.

    Parts with ``Content-Disposition: attachment`` or a file name, ``message/*`` parts (forwarded
    messages) and every other non-text part are skipped without being decoded.
    """
    plain = [_part_text(part) for part in _body_parts(message, "plain")]
    if plain:
        return "\n".join(plain)
    return "\n".join(html_to_text(_part_text(part)) for part in _body_parts(message, "html"))


def _body_parts(part: EmailMessage, subtype: str) -> Iterator[EmailMessage]:
    if part.get_content_disposition() == "attachment" or part.get_filename():
        return
    maintype = part.get_content_maintype()
    if maintype == "multipart":
        for child in part.iter_parts():
            if isinstance(child, EmailMessage):
                yield from _body_parts(child, subtype)
    elif maintype == "text" and part.get_content_subtype() == subtype:
        yield part


def _part_text(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError):
        # An unknown or wrong charset: read it as UTF-8 rather than lose the URLs.
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


class _HtmlText(HTMLParser):
    """Collects the visible text and every ``href`` value of an HTML document."""

    _INVISIBLE = frozenset({"script", "style", "template", "head"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._INVISIBLE:
            self.hidden += 1
        for name, value in attrs:
            if name == "href" and value:
                self.chunks.append(f" {value} ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._INVISIBLE and self.hidden:
            self.hidden -= 1
        self.chunks.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.chunks.append(data)


def html_to_text(html: str) -> str:
    """Visible text of an HTML body followed by link targets, separated by whitespace."""
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    return "".join(parser.chunks)


def extract_urls(text: str) -> list[str]:
    """The http(s) URLs in ``text``, refanged and without trailing punctuation, first seen first.

    Defanged forms are understood: ``hxxp://``, ``hxxps://``, ``[://]``, ``[:]//`` and dots written
    ``[.]``, ``(.)``, ``{.}`` or ``[dot]``. Whether a URL is acceptable is for the normaliser to say.
    """
    seen: dict[str, None] = {}
    for match in _URL_CANDIDATE.finditer(text):
        url = _trim(_refang(match.group(0)))
        if "://" in url and url.split("://", 1)[1]:
            seen.setdefault(url, None)
    return list(seen)


def _refang(candidate: str) -> str:
    url = _DEFANGED_DOT.sub(".", candidate)
    url = url.replace("[://]", "://").replace("[:]//", "://")
    return _DEFANGED_SCHEME.sub("http", url)


def _trim(url: str) -> str:
    while url and url[-1] in _TRAILING:
        opener = _CLOSERS.get(url[-1])
        # A closing bracket that matches an opening one in the URL is part of it (Wikipedia style).
        if opener is not None and url.count(opener) >= url.count(url[-1]):
            break
        url = url[:-1]
    return url


def message_defects(message: EmailMessage) -> list[str]:
    """The MIME structure problems the parser found in ``message`` and its parts, by name.

    A boundary that is missing or never opened, a multipart without parts, a header block that
    runs into the body: the parser then gives up on the structure and the text may be unreadable.
    """
    return list(dict.fromkeys(type(defect).__name__ for part in message.walk() for defect in part.defects))


# What the standard library's header parser raises on some malformed headers instead of
# recording a defect (for instance IndexError on "Message-ID: <<<" in Python 3.11).
HEADER_ERRORS = (errors.MessageError, IndexError, ValueError, TypeError, AttributeError, LookupError)


def message_headers_read(message: EmailMessage) -> None:
    """Parse every header of ``message`` once, so that a header the parser fails on is seen here."""
    for _name, value in message.items():
        str(value)
