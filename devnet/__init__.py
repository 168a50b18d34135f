"""Local protocol peers used by tests and the demo.

Each peer (DNS, RDAP, SMTP, HTTP) listens on 127.0.0.1 so that nothing in the
suite or in ``SCART_DEMO=1 make run`` ever touches the internet.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, ExitStack
from types import FrameType


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
