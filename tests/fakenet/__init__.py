"""Local protocol peers used by tests and the demo.

Each peer (DNS, RDAP, SMTP, HTTP) listens on 127.0.0.1 so that nothing in the
suite or in ``SCART_DEMO=1 make run`` ever touches the internet.
"""
