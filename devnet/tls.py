"""A private certificate authority and a server certificate for the local peers, made at test time.

`make_certificates` writes, with the ``openssl`` command, a CA certificate (``ca.pem``) and a
certificate for 127.0.0.1 and ``localhost`` signed by it (``server.pem``, ``server.key``) into a
directory, as a hotline's own CA would issue one for its mail server. Nothing is kept in the
repository: keys are made fresh for every test session and are valid for two days.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Certificates:
    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        """A TLS context for a server presenting the certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_certificates(directory: Path) -> Certificates:
    """Make a CA and a server certificate for 127.0.0.1 and localhost in ``directory``."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the openssl command is needed to make test certificates")
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_file = directory / "ca.key", directory / "ca.pem"
    key_file, cert_file = directory / "server.key", directory / "server.pem"
    request, extensions = directory / "server.csr", directory / "server.ext"
    # Extensions as Python's stricter verification (VERIFY_X509_STRICT) expects them.
    extensions.write_text(
        "subjectAltName = IP:127.0.0.1, DNS:localhost\n"
        "basicConstraints = critical, CA:FALSE\n"
        "keyUsage = critical, digitalSignature\n"
        "extendedKeyUsage = serverAuth\n"
        "subjectKeyIdentifier = hash\n"
        "authorityKeyIdentifier = keyid\n"
    )
    new_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ca = ["-subj", "/CN=scart test CA", "-addext", "basicConstraints=critical,CA:TRUE"]
    ca += ["-addext", "keyUsage=critical,keyCertSign,cRLSign"]
    sign = ["-CA", ca_file, "-CAkey", ca_key, "-set_serial", "2", "-days", "2", "-extfile", extensions]
    for command in (
        [openssl, "req", "-x509", *new_key, *ca, "-keyout", ca_key, "-out", ca_file, "-days", "2"],
        [openssl, "req", *new_key, "-keyout", key_file, "-out", request, "-subj", "/CN=127.0.0.1"],
        [openssl, "x509", "-req", "-in", request, *sign, "-out", cert_file],
    ):
        subprocess.run([str(part) for part in command], check=True, capture_output=True, timeout=60)
    return Certificates(ca_file=ca_file, cert_file=cert_file, key_file=key_file)
