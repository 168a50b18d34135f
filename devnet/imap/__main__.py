"""``python -m devnet.imap``: serve an empty local IMAP account until SIGINT or SIGTERM."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from devnet import peer_parser, serve_until_signalled
from devnet.imap.account import FakeImap
from devnet.tls import make_certificates


def main(argv: list[str] | None = None) -> int:
    parser = peer_parser("Serve a local IMAP account for scart's mailbox intake.", latency=False)
    parser.add_argument("--user", default="scart")
    parser.add_argument("--password", default="secret")
    parser.add_argument("--tls", choices=["implicit", "starttls"])
    options = parser.parse_args(argv)
    # The test CA's files live as long as the server.
    with tempfile.TemporaryDirectory(prefix="fake-imap-") as directory:
        context, ca_file = None, None
        if options.tls:
            certificates = make_certificates(Path(directory))
            context, ca_file = certificates.server_context(), certificates.ca_file
        server = FakeImap(
            options.user, options.password, host=options.host, port=options.port, tls=options.tls, tls_context=context
        )
        return serve_until_signalled(server, announce=lambda: [server.url, *([str(ca_file)] if ca_file else [])])


if __name__ == "__main__":
    sys.exit(main())
