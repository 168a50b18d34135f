"""Certificates for the local peers, made with the ``openssl`` command when they start.

`make_certificates` writes, with the ``openssl`` command, a CA certificate (``ca.pem``) and a
certificate for 127.0.0.1 and ``localhost`` signed by it (``server.pem``, ``server.key``) into a
directory, as a hotline's own CA would issue one for its mail server. Nothing is kept in the
repository: keys are made fresh for every test session and are valid for two days.

`self_signed_certificate` makes the local HTTP host's certificate for the names it answers to, and
`kept_certificate` keeps one in a directory for as long as it is valid (the demo's checker trusts
that file).
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import tempfile
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
    openssl = _openssl()
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


def have_openssl() -> bool:
    return shutil.which("openssl") is not None


def _openssl() -> str:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the openssl command is needed to make test certificates")
    return openssl


def self_signed_certificate(directory: Path, names: tuple[str, ...], *, days: int = 2) -> tuple[Path, Path]:
    """A certificate and key for ``names`` and 127.0.0.1, valid for ``days`` (``openssl`` command)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    san = ",".join([*(f"DNS:{name}" for name in names), "IP:127.0.0.1"])
    subprocess.run(
        [
            _openssl(), "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", str(days), "-subj", f"/CN={names[0]}", "-addext", f"subjectAltName={san}",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    key.chmod(0o600)
    return cert, key


def kept_certificate(directory: Path, names: tuple[str, ...]) -> tuple[Path, Path]:
    """The certificate and key for ``names`` kept in ``directory``: made once (valid for a year) and
    made again only when the names change or less than a day of validity is left, so that a
    client trusting the file need not learn a new one each time the peer starts."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key, listed = directory / "cert.pem", directory / "key.pem", directory / "names.txt"
    wanted = "\n".join(names) + "\n"
    if cert.exists() and key.exists() and listed.exists() and listed.read_text() == wanted:
        valid = subprocess.run(
            [_openssl(), "x509", "-checkend", "86400", "-noout", "-in", str(cert)], capture_output=True, timeout=60
        )
        if valid.returncode == 0:
            return cert, key
    # Made beside the kept files and moved over them, so that a reader never sees half a file.
    with tempfile.TemporaryDirectory(dir=directory) as fresh:
        new_cert, new_key = self_signed_certificate(Path(fresh), names, days=365)
        new_key.replace(key)
        new_cert.replace(cert)
    listed.write_text(wanted)
    return cert, key
