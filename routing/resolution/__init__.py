"""Resolution, the stage between intake and assessment: a case's host to its addresses (DNS), the
networks and ASes holding them and their abuse contacts (RDAP, Team Cymru), the hosting provider,
a CDN's origin and the domain's registrar. See docs/resolution.md."""
