"""``python -m tests.fakenet``: the DNS and RDAP peers together, for demos and benchmarks.

Serves the demo zone (``tests/fakenet/demo.py``) and Team Cymru's answers for the recorded
addresses over DNS, and the recorded registry answers plus the example domains over RDAP, until
SIGINT or SIGTERM. The first two lines of output are the settings that point scart at them::

    SCART_DNS_NAMESERVERS=127.0.0.1:5353
    SCART_RDAP_BASE_URL=http://127.0.0.1:8053
"""

from __future__ import annotations

import argparse
import sys

from tests.fakenet import serve_until_signalled
from tests.fakenet.cymru import load_recorded_cymru
from tests.fakenet.demo import demo_domains, demo_zone
from tests.fakenet.dns import FakeDNS
from tests.fakenet.rdap import FakeRDAP


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakenet", description="Serve the DNS and RDAP peers on localhost."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--dns-port", type=int, default=5353, help="UDP and TCP; 0 picks a free port")
    parser.add_argument("--rdap-port", type=int, default=8053, help="HTTP; 0 picks a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds both peers wait before every answer")
    args = parser.parse_args(argv)

    dns = FakeDNS(args.host, args.dns_port, latency=args.latency)
    dns.load(demo_zone())
    load_recorded_cymru(dns)
    rdap = FakeRDAP(args.host, args.rdap_port, latency=args.latency)
    rdap.load_recorded()
    for domain in demo_domains():
        rdap.add_domain(domain)
    return serve_until_signalled(
        dns,
        rdap,
        announce=lambda: [f"SCART_DNS_NAMESERVERS={dns.address}", f"SCART_RDAP_BASE_URL={rdap.base_url}"],
    )


if __name__ == "__main__":
    sys.exit(main())
