"""Screenshots of the main pages for docs/screenshots/, taken from a running demo
(`SCART_DEMO=1 make run`) with Debian's Chromium at 1366x768:

    make screenshots                      # the server of `make run` on $(PORT)
    .venv/bin/python -m devnet.screenshots --base http://127.0.0.1:8000 --out docs/screenshots

It signs in as a demo analyst and a demo senior analyst (created here with a confirmed TOTP device
when missing; the same database as the server, through the same settings) and saves each page of
`PAGES` as ``<role>-<page>.png``, and the public pages as ``public-<page>.png``. A page is found by
its URL name, so a page that does not exist yet is left out and a new one is one line of `PAGES`.
The URLs the pages show are the demo's reserved example names; Chromium runs with
devnet/chromium.py's flags and reaches nothing but the server.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import TimeoutError as PlaywrightTimeout

ROOT = Path(__file__).resolve().parent.parent
VIEWPORT = {"width": 1366, "height": 768}
PASSWORD = "a long enough password 1"  # noqa: S105 - the demo's own users, on a workstation


def _first_case(state: str) -> Callable[[], list[Any] | None]:
    def find() -> list[Any] | None:
        from reports.models import Case

        case = Case.objects.filter(state=state).order_by("pk").first()
        return [case.pk] if case else None

    return find


def _first_notice() -> list[Any] | None:
    from routing.models import Notice

    notice = Notice.objects.order_by("-pk").first()
    return [notice.pk] if notice else None


def _api_provider() -> list[Any] | None:
    """The demo's provider on the abuse-API channel, else the provider with the most notices."""
    from routing.models import Provider

    provider = Provider.objects.filter(delivery_channel="provider_api").order_by("pk").first()
    return [provider.pk] if provider else _busiest_provider()


def _busiest_provider() -> list[Any] | None:
    from django.db.models import Count

    from routing.models import Provider

    provider = Provider.objects.annotate(n=Count("notices")).order_by("-n", "pk").first()
    return [provider.pk] if provider else None


def _last_year() -> list[Any]:
    from django.utils import timezone

    return [timezone.localdate().year - 1]


@dataclass(frozen=True)
class Shot:
    name: str  # the file's name after the role
    url_name: str
    roles: tuple[str, ...] = ("analyst", "senior")
    args: Callable[[], list[Any] | None] | None = None
    query: str = ""
    full_page: bool = False


# One line per page. Roles: "analyst", "senior", "public" (not signed in).
PAGES: tuple[Shot, ...] = (
    Shot("queue", "workspace-queue"),
    # Opening a case holds it for a while: the senior's case page shows another one.
    Shot("case", "workspace-case", roles=("analyst",), args=_first_case("awaiting_assessment")),
    Shot("case-notified", "workspace-case", roles=("senior",), args=_first_case("notified"), full_page=True),
    Shot("cases", "cases-list"),
    Shot("search", "workspace-search", query="q=example.net"),
    Shot("mine", "worklist-mine"),
    Shot("waiting", "worklist-waiting"),
    Shot("deadlines", "worklist-deadlines"),
    Shot("held", "worklist-held"),
    Shot("notices", "notices-list"),
    Shot("notice", "notices-detail", args=_first_notice),
    Shot("providers", "providers-list"),
    Shot("provider", "providers-detail", args=_busiest_provider, full_page=True),
    Shot("provider-api", "providers-api", roles=("senior",), args=_api_provider),
    Shot("stats", "stats-dashboard"),
    Shot("transparency", "stats-transparency", roles=("senior",), args=_last_year),
    Shot("reviews", "reviews-queue", roles=("senior",)),
    Shot("disputes", "disputes-queue", roles=("senior",)),
    Shot("contacts", "contacts-queue", roles=("senior",)),
    Shot("rules", "rules-list", roles=("senior",)),
    Shot("rule-form", "rules-new", roles=("senior",)),
    Shot("deadline-rules", "deadline-rules", roles=("senior",)),
    Shot("audit", "audit-list", roles=("senior",)),
    Shot("privacy", "privacy-retention", roles=("senior",)),
    Shot("reporter-data", "privacy-reporter", roles=("senior",)),
    Shot("login", "login", roles=("public",)),
    Shot("report-form", "report-form", roles=("public",)),
)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default=f"http://127.0.0.1:{os.environ.get('PORT', '8000')}")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--only", default="", help="comma-separated page names (default: all)")
    parser.add_argument("--language", default="en", help="the browser's language (en, nl): the pages' language")
    return parser.parse_args(argv)


def _user(role: str) -> tuple[str, int]:
    """A demo user of the role with a confirmed TOTP device: its name and the device's id."""
    from django.contrib.auth import get_user_model

    from accounts.devices import StaffDevice
    from devnet.seed import staff_user

    username = f"demo-{role}"
    user = get_user_model().objects.filter(username=username).first() or staff_user(username, role, PASSWORD)
    device = StaffDevice.objects.filter(user=user, confirmed=True).first() or StaffDevice.objects.create(
        user=user, name="screenshots", confirmed=True
    )
    return username, device.pk


def _code(device_id: int) -> str:
    from django_otp.oath import TOTP

    from accounts.devices import StaffDevice

    device = StaffDevice.objects.get(pk=device_id)
    return f"{TOTP(device.bin_key, step=device.step, digits=device.digits).token():0{device.digits}d}"


def _path(shot: Shot) -> str | None:
    from django.urls import NoReverseMatch, reverse

    args = shot.args() if shot.args else []
    if args is None:
        return None  # nothing of the kind in the demo yet
    try:
        path = reverse(shot.url_name, args=args)
    except NoReverseMatch:
        return None  # a page not built yet
    return f"{path}?{shot.query}" if shot.query else path


def _log_in(page: Any, base: str, username: str, device: int) -> None:
    """Password, then the TOTP code. A code is accepted once: when this window's code was used
    (a run a moment ago), the next window's is typed."""
    page.goto(base + "/login/")
    page.fill("input[name='username']", username)
    page.fill("input[name='password']", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/login/verify/**")
    for _attempt in range(3):
        page.fill("input[name='code']", _code(device))
        page.keyboard.press("Enter")
        try:
            page.wait_for_url(lambda url: "/login/" not in url, timeout=3_000)
            return
        except PlaywrightTimeout:
            time.sleep(30 - time.time() % 30 + 1)
    raise SystemExit(f"{username} could not log in on {base}")


def take(base: str, out: Path, only: set[str], language: str = "en") -> list[Path]:
    from playwright.sync_api import sync_playwright

    from devnet.chromium import launch_options

    out.mkdir(parents=True, exist_ok=True)
    saved = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch_options())
        for role in ("public", "analyst", "senior"):
            context = browser.new_context(viewport=VIEWPORT, locale=language)  # type: ignore[arg-type]
            page = context.new_page()
            if role != "public":
                _log_in(page, base, *_user(role))
            for shot in PAGES:
                if role not in shot.roles or (only and shot.name not in only):
                    continue
                path = _path(shot)
                if path is None:
                    print(f"  skipped {role}-{shot.name}: {shot.url_name} is not there yet", file=sys.stderr)
                    continue
                response = page.goto(base + path)
                status = response.status if response else 0
                target = out / f"{role}-{shot.name}.png"
                page.screenshot(path=str(target), full_page=shot.full_page)
                saved.append(target)
                print(f"  {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}  {path}  {status}")
            context.close()
        browser.close()
    return saved


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scart.settings")
    # Playwright's sync API runs an event loop in this thread; the ORM calls here share nothing
    # with it (see tests/browser/conftest.py).
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    import django

    django.setup()
    only = {name for name in args.only.split(",") if name}
    saved = take(args.base.rstrip("/"), args.out, only, args.language)
    print(f"{len(saved)} screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
