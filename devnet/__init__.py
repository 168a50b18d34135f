"""The development network: local protocol peers, the demo world and shared builders.

Each peer (DNS with Team Cymru's zones, RDAP, SMTP, IMAP, HTTP, a provider's abuse-reports API)
listens on 127.0.0.1 so that nothing in the suite, the benchmarks or ``SCART_DEMO=1 make run`` ever
touches the internet (``python -m devnet`` serves the demo's peers). Also here: the demo zone (`devnet.demo`), the
recorded registry answers (``devnet/fixtures/registry``), RDAP object builders
(`devnet.rdap_objects`, `devnet.registries`), builders of partners, staff and cases through the
services (`devnet.seed`) and the synthetic history of ``seed_demo`` (`devnet.history`).

Product code imports this package only for the demo (its management commands); the tests and the
benchmarks import it freely.
"""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, ExitStack
from types import FrameType


def peer_parser(description: str, *, latency: bool = True) -> argparse.ArgumentParser:
    """The command line of one peer: ``--host``, ``--port`` (0, the default, picks a free one) and,
    unless ``latency`` is false, ``--latency``; the caller adds its own options."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    if latency:
        parser.add_argument("--latency", type=float, default=0.0, help="seconds to wait before every answer")
    return parser


def serve_until_signalled(*servers: AbstractContextManager[object], announce: Callable[[], Iterable[str]]) -> int:
    """Run ``servers``, print the lines ``announce()`` gives once they listen (their addresses,
    which callers read), and serve until SIGINT or SIGTERM. The peers' command lines end here."""
    done = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    with ExitStack() as stack:
        for server in servers:
            stack.enter_context(server)
        for line in announce():
            print(line, flush=True)
        while not done.wait(1):
            pass
    return 0
