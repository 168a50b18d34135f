"""``python -m devnet.http``: serve the local HTTP host's paths until SIGINT or SIGTERM."""

from __future__ import annotations

import sys

from devnet import peer_parser, serve_until_signalled
from devnet.http.host import FakeHTTP


def main(argv: list[str] | None = None) -> int:
    parser = peer_parser("Serve the availability checker's test paths on localhost.")
    parser.add_argument("--tls", action="store_true", help="HTTPS with a self-signed certificate")
    args = parser.parse_args(argv)

    server = FakeHTTP(args.host, args.port, latency=args.latency, tls=args.tls)
    return serve_until_signalled(server, announce=lambda: [server.base_url])


if __name__ == "__main__":
    sys.exit(main())
