"""``python -m devnet.http``: serve the local HTTP host's paths until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import sys

from devnet import serve_until_signalled
from devnet.http.host import FakeHTTP


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the availability checker's test paths on localhost.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds to wait before every answer")
    parser.add_argument("--tls", action="store_true", help="HTTPS with a self-signed certificate")
    args = parser.parse_args(argv)

    server = FakeHTTP(args.host, args.port, latency=args.latency, tls=args.tls)
    return serve_until_signalled(server, announce=lambda: [server.base_url])


if __name__ == "__main__":
    sys.exit(main())
