"""``python -m devnet.dns``: serve a DNS zone on localhost until SIGINT or SIGTERM."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from devnet import peer_parser, serve_until_signalled
from devnet.dns.server import FakeDNS


def main(argv: list[str] | None = None) -> int:
    parser = peer_parser("Serve a DNS zone on localhost.")
    parser.add_argument("--zone", type=Path, help='JSON: {"name": {"A": ["192.0.2.1"]}}')
    args = parser.parse_args(argv)

    server = FakeDNS(args.host, args.port, latency=args.latency)
    if args.zone is not None:
        server.load(json.loads(args.zone.read_text()))
    return serve_until_signalled(server, announce=lambda: [server.address])


if __name__ == "__main__":
    sys.exit(main())
