"""``python -m devnet.rdap``: serve RDAP lookups on localhost until SIGINT or SIGTERM."""

from __future__ import annotations

import sys

from devnet import peer_parser, serve_until_signalled
from devnet.rdap.server import FakeRDAP


def main(argv: list[str] | None = None) -> int:
    parser = peer_parser("Serve RDAP lookups on localhost.")
    parser.add_argument("--recorded", action="store_true", help="serve the recorded registry answers")
    args = parser.parse_args(argv)

    server = FakeRDAP(args.host, args.port, latency=args.latency)
    if args.recorded:
        server.load_recorded()
    return serve_until_signalled(server, announce=lambda: [server.base_url])


if __name__ == "__main__":
    sys.exit(main())
