"""``python -m devnet``: the demo's peers together, for demos and benchmarks.

Serves the demo zone (``devnet/demo.py``) and Team Cymru's answers for the recorded
addresses over DNS, the recorded registry answers plus the example domains over RDAP, and the web
host every availability check connects to in demo mode, until SIGINT or SIGTERM. The first three
lines of output are the settings that point scart at them::

    SCART_DNS_NAMESERVERS=127.0.0.1:5353
    SCART_RDAP_BASE_URL=http://127.0.0.1:8053
    SCART_CHECK_CONNECT_TO=127.0.0.1:8080

(``SCART_DEMO=1`` sets all three from ``SCART_DEMO_DNS_PORT``, ``SCART_DEMO_RDAP_PORT`` and
``SCART_DEMO_WEB_PORT``; the last is not read from the environment otherwise.) With
``--abuseapi-port`` it also serves the demo's abuse-reports API (`devnet.demo.demo_abuse_api`) and
prints a fourth line, ``SCART_DEMO_ABUSEAPI_URL=...`` (set from ``SCART_DEMO_ABUSEAPI_PORT``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from devnet import serve_until_signalled
from devnet.demo import demo_abuse_api, demo_peers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devnet", description="Serve the DNS and RDAP peers on localhost.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--dns-port", type=int, default=5353, help="UDP and TCP; 0 picks a free port")
    parser.add_argument("--rdap-port", type=int, default=8053, help="HTTP; 0 picks a free port")
    parser.add_argument("--web-port", type=int, default=8080, help="HTTP and HTTPS; 0 picks a free port")
    parser.add_argument(
        "--web-cert-dir", type=Path, help="keep the web host's certificate here (the demo: var/demo-web)"
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds the peers wait before every answer")
    parser.add_argument("--abuseapi-port", type=int, default=None, help="also serve the abuse-reports API here")
    args = parser.parse_args(argv)

    dns, rdap, web = demo_peers(
        args.host,
        dns_port=args.dns_port,
        rdap_port=args.rdap_port,
        web_port=args.web_port,
        cert_dir=args.web_cert_dir,
        latency=args.latency,
    )
    peers = [dns, rdap, web]
    api = None
    if args.abuseapi_port is not None:
        api = demo_abuse_api(args.host, args.abuseapi_port)
        peers.append(api)

    def announce() -> list[str]:
        lines = [
            f"SCART_DNS_NAMESERVERS={dns.address}",
            f"SCART_RDAP_BASE_URL={rdap.base_url}",
            f"SCART_CHECK_CONNECT_TO={web.host}:{web.port}",
        ]
        return lines + ([f"SCART_DEMO_ABUSEAPI_URL={api.base_url}"] if api is not None else [])

    return serve_until_signalled(*peers, announce=announce)


if __name__ == "__main__":
    sys.exit(main())
