"""How the suite, the workspace benchmark and anyone driving the pages launch Chromium: one list of flags, so that no
launch forgets one. Debian's Chromium (/usr/bin/chromium, installed by ensure_chromium.sh) is used,
not Playwright's own download.

Nothing in the suite may touch the network, and a plain Chromium does: component updates, safe
browsing lists, variations, sync, DNS prefetching and its own DNS client ask the machine's resolver
about Google's hosts within seconds of starting. The flags below turn each of those off, and the
host resolver rules answer NXDOMAIN for every name but loopback without asking anyone, so a flag
forgotten by a future Chromium still cannot reach a nameserver."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")

LAUNCH_ARGS = (
    # Chromium refuses to start its sandbox as root (CI runs as root).
    "--no-sandbox",
    # Containers often have a tiny /dev/shm, which crashes tabs.
    "--disable-dev-shm-usage",
    # No traffic of its own: updates, sync, default apps, first-run pings, prefetching.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-breakpad",
    "--metrics-recording-only",
    "--no-pings",
    "--dns-prefetch-disable",
    "--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication,"
    "CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions,NetworkPrediction,"
    "AsyncDns,DnsOverHttps",
    # Only loopback names resolve, and without a nameserver: everything else is NXDOMAIN at once.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
)


def launch_options(**extra: Any) -> dict[str, Any]:
    """Keyword arguments for ``playwright.chromium.launch``."""
    return {"executable_path": CHROMIUM, "headless": True, "args": list(LAUNCH_ARGS), **extra}
