"""A bench's web server and its HTTP client: ``manage.py`` in a subprocess, gunicorn as the
Procfile runs it on a free loopback port, and one HTTP/1.1 connection per client thread. Used by the
benches that measure through HTTP (intake, workspace)."""

from __future__ import annotations

import http.client
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from bench._harness import ROOT, BenchError, free_port

VENV_BIN = Path(sys.executable).parent


def manage(env: dict[str, str], *args: str) -> str:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if completed.returncode != 0:
        raise BenchError(f"manage.py {' '.join(args)} failed:\n{completed.stderr[-3000:]}")
    return completed.stdout


@contextmanager
def gunicorn(env: dict[str, str], *, workers: int, log_path: Path, timeout: float) -> Iterator[str]:
    """Run gunicorn as the Procfile does (sync workers) on a free loopback port; yields its base URL."""
    port = free_port()
    command = [
        str(VENV_BIN / "gunicorn"),
        "scart.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--timeout",
        str(int(timeout)),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, process=process, log_path=log_path)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_healthy(base: str, *, process: subprocess.Popen[bytes] | None = None, log_path: Path | None = None) -> None:
    deadline = time.monotonic() + 60
    last = ""
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-3000:] if log_path else ""
            raise BenchError(f"gunicorn exited with {process.returncode}:\n{tail}")
        try:
            status, body = http_request(Client(base, timeout=5), "GET", "/healthz")
            if status == 200:
                return
            last = f"{status} {body[:200]!r}"
        except OSError as exc:
            last = repr(exc)
        time.sleep(0.2)
    raise BenchError(f"{base}/healthz did not answer 200 within 60 s (last: {last})")


class Client:
    """One HTTP/1.1 connection to the server, reopened when the server closes it.

    gunicorn's sync workers close the connection after every response, so with the Procfile's
    server this is a new TCP connection per request (cheap on loopback); a server with keep-alive
    would reuse it.
    """

    def __init__(self, base: str, *, timeout: float, key: str = "") -> None:
        parts = urlsplit(base)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.timeout = timeout
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if key:
            self.headers["Authorization"] = f"Api-Key {key}"
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def close(self) -> None:
        self.conn.close()


def http_request(
    client: Client, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    all_headers = {**client.headers, **(headers or {})}
    for attempt in (1, 2):
        try:
            client.conn.request(method, path, body=body, headers=all_headers)
            response = client.conn.getresponse()
            data = response.read()
            if response.will_close:
                client.conn.close()
            return response.status, data
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            # A kept-alive connection the server had closed: reconnect once. Never retried for a
            # fresh connection, so a request is not sent twice after a real failure.
            client.conn.close()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")
