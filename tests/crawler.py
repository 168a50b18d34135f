"""A crawler for the site's own pages through Django's test client: from the start URLs it follows
every same-site ``<a href>``, redirect and GET ``<form>`` (submitted with its default values), at
most ``cap`` pages per URL name, and records every answer of 500 or more (or an exception)."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode, urljoin, urlsplit

from django.test import Client
from django.urls import Resolver404, resolve

# Links a crawler must not follow: they end the session or change something on a GET.
SKIP_NAMES = frozenset({"logout", "admin:logout", "login", "login-verify", "login-enrol", "admin:login"})
SKIP_PREFIXES = ("/static/", "/media/")


@dataclass
class Crawl:
    who: str
    visited: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    per_name: Counter[str] = field(default_factory=Counter)


class _Links(HTMLParser):
    """The same-site targets of a page: links and GET forms with their default values."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self._form: tuple[str, list[tuple[str, str]]] | None = None
        self._select: tuple[str, str | None, bool] | None = None  # name, first option, a selected one seen

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "form":
            method = a.get("method", "get").lower()
            self._form = (a.get("action", ""), []) if method == "get" else None
        elif self._form is not None and tag == "input" and a.get("name"):
            kind = a.get("type", "text").lower()
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind in ("submit", "button", "image", "file"):
                return
            self._form[1].append((a["name"], a.get("value", "")))
        elif self._form is not None and tag == "select" and a.get("name"):
            self._select = (a["name"], None, False)
        elif self._select is not None and tag == "option":
            name, first, chosen = self._select
            value = a.get("value", "")
            if "selected" in a and not chosen:
                self._select = (name, value, True)
            elif first is None:
                self._select = (name, value, False)
        elif self._form is not None and tag == "textarea" and a.get("name"):
            self._form[1].append((a["name"], ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select is not None and self._form is not None:
            name, value, _ = self._select
            self._form[1].append((name, value or ""))
            self._select = None
        elif tag == "form" and self._form is not None:
            action, fields = self._form
            self.links.append(f"{action.split('?')[0]}?{urlencode(fields)}" if fields else action)
            self._form = None


def _url_name(path: str) -> str | None:
    try:
        match = resolve(path)
    except Resolver404:
        return "(no route)"
    return match.view_name


def crawl(
    client: Client, who: str, start: Iterable[str], *, cap: int = 5, admin_cap: int = 2, seeded_cap: int = 1000
) -> Crawl:
    """Crawl from ``start`` (each start URL is visited even past the cap of its name). The admin's
    pages (Django's own views over the models) get ``admin_cap`` each: they are many."""
    result = Crawl(who)
    seeds = list(dict.fromkeys(start))
    queue: deque[tuple[str, bool]] = deque((url, True) for url in seeds)
    seen: set[str] = set()
    while queue:
        url, seeded = queue.popleft()
        parts = urlsplit(url)
        if parts.scheme not in ("", "http") or parts.netloc not in ("", "testserver"):
            continue
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        if target in seen or parts.path.startswith(SKIP_PREFIXES):
            continue
        seen.add(target)
        name = _url_name(parts.path) or "(no route)"
        if name in SKIP_NAMES:
            continue
        limit = seeded_cap if seeded else admin_cap if name.startswith("admin:") else cap
        if result.per_name[name] >= limit:
            continue
        result.per_name[name] += 1
        result.visited.append(target)
        try:
            response = client.get(target)
        except Exception as exc:  # the test client re-raises what a view raised: a 500
            result.failures.append(f"{who} GET {target} ({name}): {type(exc).__name__}: {exc}")
            continue
        if response.status_code >= 500:
            result.failures.append(f"{who} GET {target} ({name}): {response.status_code}")
            continue
        if response.status_code in (301, 302, 303, 307, 308):
            queue.append((urljoin(target, response["Location"]), False))
            continue
        if "text/html" not in response.get("Content-Type", "") or response.streaming:
            continue
        parser = _Links()
        parser.feed(response.content.decode(response.charset or "utf-8", errors="replace"))
        for href in parser.links:
            if href.startswith(("#", "mailto:", "javascript:", "tel:")):
                continue
            queue.append((urljoin(target, href).split("#")[0], False))
    return result
