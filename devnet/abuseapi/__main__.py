"""``python -m devnet.abuseapi``: serve the local abuse-reports API until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import sys

from devnet import peer_parser, serve_until_signalled
from devnet.abuseapi.server import FakeAbuseAPI


def _account(text: str) -> tuple[str, str]:
    account, sep, token = text.partition(":")
    if not sep or not account or not token:
        raise argparse.ArgumentTypeError("expected ACCOUNT:TOKEN")
    return account, token


def _fault(text: str) -> tuple[str, str | None]:
    kind, _, prefix = text.partition("@")
    return kind, prefix or None


def main(argv: list[str] | None = None) -> int:
    parser = peer_parser("Serve an abuse-reports API shaped like Cloudflare's on localhost.")
    parser.add_argument("--account", type=_account, action="append", default=[], help="ACCOUNT:TOKEN, repeatable")
    parser.add_argument(
        "--accept-after", type=float, default=None, help="reports read as accepted after this many seconds"
    )
    parser.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        help="KIND[@PATH_PREFIX]: 429, 500, 503, slow, hang, drop, ... for every matching request",
    )
    args = parser.parse_args(argv)

    server = FakeAbuseAPI(
        args.host, args.port, accounts=dict(args.account), latency=args.latency, accept_after=args.accept_after
    )
    for kind, prefix in args.fault:
        server.set_fault(kind, path_prefix=prefix)
    return serve_until_signalled(server, announce=lambda: [server.base_url])


if __name__ == "__main__":
    sys.exit(main())
