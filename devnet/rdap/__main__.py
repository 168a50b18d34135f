"""``python -m devnet.rdap``: serve RDAP lookups on localhost until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import sys

from devnet import serve_until_signalled
from devnet.rdap.server import FakeRDAP


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve RDAP lookups on localhost.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds to wait before every answer")
    parser.add_argument("--recorded", action="store_true", help="serve the recorded registry answers")
    args = parser.parse_args(argv)

    server = FakeRDAP(args.host, args.port, latency=args.latency)
    if args.recorded:
        server.load_recorded()
    return serve_until_signalled(server, announce=lambda: [server.base_url])


if __name__ == "__main__":
    sys.exit(main())
