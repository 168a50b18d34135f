"""A local IMAP4rev1 server for tests and the demo.

``FakeImap`` speaks just enough IMAP4rev1 (RFC 3501) over TCP on an ephemeral port of
127.0.0.1 for the standard library's ``imaplib`` and for scart's mailbox intake. Its contract:

- One account (``user``/``password``, checked by LOGIN) with in-memory folders. ``INBOX``
  always exists and its name is case-insensitive; other names are case-sensitive, separated by
  ``/``.
- Commands: CAPABILITY, NOOP, LOGOUT, LOGIN, SELECT, EXAMINE, CREATE, LIST, SEARCH (ALL, SEEN,
  UNSEEN, DELETED, UNDELETED; keys are ANDed), FETCH (UID, FLAGS, INTERNALDATE, RFC822.SIZE,
  RFC822, BODY[], BODY.PEEK[]), STORE ([+-]FLAGS[.SILENT]), COPY, MOVE (RFC 6851, only when
  advertised), EXPUNGE and CLOSE, and UID SEARCH / FETCH / STORE / COPY / MOVE, which take and
  answer UIDs (every folder numbers its messages 1, 2, ... in the order they arrive, and a
  message copied or moved gets the next UID of its new folder).
- BODY[] and RFC822 set ``\\Seen``; BODY.PEEK[] does not. COPY and MOVE into a folder that does
  not exist answer ``NO [TRYCREATE]`` as a real server does.
- Strings from the client may be atoms, quoted strings or literals (``{n}`` with a ``+``
  continuation, or the non-synchronising ``{n+}``); message bodies go back as literals.
- Every command is logged in ``commands`` as its upper-case name followed by its arguments,
  except LOGIN whose arguments are left out, so tests can tell MOVE from COPY + EXPUNGE; and
  ``logins`` records of every successful LOGIN whether it came over TLS.
- TLS, with a server context (`devnet.tls`): ``tls="implicit"`` speaks TLS from the first
  byte (IMAPS, RFC 8314); ``tls="starttls"`` advertises STARTTLS (RFC 3501 6.2.1) until the
  connection is upgraded, and with ``login_disabled`` also LOGINDISABLED, refusing LOGIN in clear
  as Dovecot does with ``disable_plaintext_auth``.

Run ``python -m devnet.imap --port 1143`` to serve an empty account; the URL is printed
on the first line of output. ``--tls implicit`` or ``--tls starttls`` makes a test CA in a
temporary directory and prints the path of its certificate on the second line.
"""

from __future__ import annotations

import argparse
import re
import signal
import socket
import socketserver
import ssl
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any, Literal
from urllib.parse import quote

from devnet.serving import Peer, serve_in_thread, server_stop
from devnet.tls import make_certificates

_SYSTEM_FLAGS = ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft")
_LITERAL = re.compile(rb"\{(\d+)(\+?)\}\r?\n?$")
# Lines longer than this are refused, as a real server would, so a broken client cannot make the
# test process buffer without end.
_MAX_LINE = 64 * 1024


@dataclass(slots=True)
class _Message:
    raw: bytes
    flags: set[str] = field(default_factory=set)
    internal_date: float = field(default_factory=time.time)
    uid: int = 0


class _Bad(Exception):
    """A command the server cannot parse: answered ``BAD``."""


class _No(Exception):
    """A command that cannot be carried out: answered ``NO``."""


class FakeImap(Peer):
    """An IMAP4rev1 server on localhost with one account, running in background threads."""

    def __init__(
        self,
        user: str = "scart",
        password: str = "secret",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        move: bool = True,
        tls: Literal["implicit", "starttls"] | None = None,
        tls_context: ssl.SSLContext | None = None,
        login_disabled: bool = False,
    ) -> None:
        if (tls is None) != (tls_context is None):
            raise ValueError("tls and tls_context go together")
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.capabilities = ["IMAP4rev1", *(["MOVE"] if move else [])]
        self.tls = tls
        self.tls_context = tls_context
        self.login_disabled = login_disabled
        self.commands: list[str] = []
        self.logins: list[bool] = []
        self._folders: dict[str, list[_Message]] = {"INBOX": []}
        self._uid_next: dict[str, int] = {}
        self._lock = threading.RLock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        if self._server is not None:
            return
        server = _Server((self.host, self.port), _Handler)
        server.fake = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = serve_in_thread(server, name="fake-imap", poll_seconds=0.05)

    def stop(self) -> None:
        server_stop(self._server, self._thread)
        self._server = None
        self._thread = None

    # -- test API ----------------------------------------------------------

    @property
    def url(self) -> str:
        """``imap[s]://user:pass@127.0.0.1:PORT/INBOX``, user and password percent-encoded."""
        scheme = "imaps" if self.tls == "implicit" else "imap"
        return f"{scheme}://{quote(self.user, safe='')}:{quote(self.password, safe='')}@{self.host}:{self.port}/INBOX"

    def deliver(self, folder: str, raw: bytes, *, received_at: datetime | None = None) -> None:
        """Append a message to ``folder`` (created if missing), unseen, received now or at ``received_at``."""
        message = _Message(raw) if received_at is None else _Message(raw, internal_date=received_at.timestamp())
        with self._lock:
            self._append(self._name(folder), message)

    def folder(self, name: str) -> list[bytes]:
        """The raw messages in a folder, in order; empty if the folder does not exist."""
        with self._lock:
            return [m.raw for m in self._folders.get(self._name(name), [])]

    def flags(self, name: str) -> list[set[str]]:
        """The flags of each message in a folder, in order."""
        with self._lock:
            return [set(m.flags) for m in self._folders.get(self._name(name), [])]

    def folders(self) -> list[str]:
        with self._lock:
            return sorted(self._folders)

    # -- internals ---------------------------------------------------------

    @staticmethod
    def _name(name: str) -> str:
        return "INBOX" if name.upper() == "INBOX" else name

    def _append(self, folder: str, message: _Message) -> None:
        """Add a message to a folder (created if missing) under the folder's next UID."""
        message.uid = self._uid_next.get(folder, 1)
        self._uid_next[folder] = message.uid + 1
        self._folders.setdefault(folder, []).append(message)


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    fake: FakeImap

    def handle_error(self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any) -> None:
        # A client that refuses the certificate or hangs up is what TLS tests are about, not a fault.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(socketserver.StreamRequestHandler):
    """One client connection: reads commands, answers them, until LOGOUT or EOF."""

    server: _Server
    # A response is several small writes; without this each one after the first waits for the
    # client's delayed ACK (some 40 ms).
    disable_nagle_algorithm = True

    def setup(self) -> None:
        self.fake = self.server.fake
        self.secure = False
        if self.fake.tls == "implicit":
            assert self.fake.tls_context is not None
            self.request = self.fake.tls_context.wrap_socket(self.request, server_side=True)
            self.secure = True
        super().setup()
        self.authenticated = False
        self.selected: str | None = None
        self.readonly = False

    def capabilities(self) -> list[str]:
        """What this connection offers now: STARTTLS (and LOGINDISABLED) only before TLS."""
        if self.fake.tls != "starttls" or self.secure:
            return self.fake.capabilities
        return [*self.fake.capabilities, "STARTTLS", *(["LOGINDISABLED"] if self.fake.login_disabled else [])]

    def handle(self) -> None:
        self.send(b"* OK [CAPABILITY " + " ".join(self.capabilities()).encode() + b"] fake IMAP ready")
        while True:
            try:
                command = self.read_command()
            except _Bad as exc:
                self.send(b"* BAD " + str(exc).encode())
                continue
            if command is None:
                return
            tag, name, args = command
            if name == "STARTTLS":
                with self.fake._lock:
                    self.fake.commands.append(name)
                # Outside the lock: the handshake waits for the client.
                self.start_tls(tag)
                continue
            with self.fake._lock:
                self.fake.commands.append(" ".join([name, *([] if name == "LOGIN" else args)]))
                try:
                    done = self.dispatch(tag, name, args)
                except _Bad as exc:
                    self.send(tag + b" BAD " + str(exc).encode())
                    continue
                except _No as exc:
                    self.send(tag + b" NO " + str(exc).encode())
                    continue
                except Exception as exc:  # a bug in this peer: tell the client rather than hang up
                    self.send(tag + b" BAD internal error: " + repr(exc).encode())
                    continue
            if done:
                return

    # -- wire --------------------------------------------------------------

    def start_tls(self, tag: bytes) -> None:
        if "STARTTLS" not in self.capabilities():
            self.send(tag + b" BAD STARTTLS not offered")
            return
        assert self.fake.tls_context is not None
        self.send(tag + b" OK begin TLS negotiation now")
        self.request = self.fake.tls_context.wrap_socket(self.request, server_side=True)
        self.secure = True
        # New readers and writers on the TLS socket; nothing can be buffered, as the client waits
        # for the OK before it starts the handshake.
        self.rfile = self.request.makefile("rb", self.rbufsize)
        self.wfile = socketserver._SocketWriter(self.request)  # type: ignore[attr-defined]

    def send(self, line: bytes) -> None:
        self.wfile.write(line + b"\r\n")
        self.wfile.flush()

    def read_line(self) -> bytes | None:
        line = self.rfile.readline(_MAX_LINE + 1)
        if not line:
            return None
        if len(line) > _MAX_LINE:
            raise _Bad("line too long")
        return line

    def read_command(self) -> tuple[bytes, str, list[str]] | None:
        """Read one command, with its literals; returns (tag, NAME, arguments) or None at EOF."""
        line = self.read_line()
        if line is None:
            return None
        text = b""
        literals: list[bytes] = []
        while True:
            match = _LITERAL.search(line)
            if match is None:
                text += line.rstrip(b"\r\n")
                break
            size, non_sync = int(match.group(1)), bool(match.group(2))
            text += line[: match.start()] + b"\x00%d\x00" % len(literals)
            if not non_sync:
                self.send(b"+ go ahead")
            literals.append(self.rfile.read(size))
            next_line = self.read_line()
            if next_line is None:
                return None
            line = next_line
        parts = text.split(b" ", 2)
        if len(parts) < 2 or not parts[0]:
            raise _Bad("expected a tag and a command")
        tag, name = parts[0], parts[1].decode("ascii", "replace").upper()
        args = _tokens(parts[2].decode("utf-8", "replace") if len(parts) > 2 else "", literals)
        return tag, name, args

    # -- commands ----------------------------------------------------------

    def dispatch(self, tag: bytes, name: str, args: list[str]) -> bool:
        """Carry out one command; returns True when the connection is to be closed."""
        if name == "CAPABILITY":
            self.send(b"* CAPABILITY " + " ".join(self.capabilities()).encode())
        elif name == "NOOP":
            pass
        elif name == "LOGOUT":
            self.send(b"* BYE logging out")
            self.send(tag + b" OK LOGOUT completed")
            return True
        elif name == "LOGIN":
            self.do_login(args)
        elif not self.authenticated:
            raise _Bad(f"{name} needs LOGIN first")
        elif name in {"SELECT", "EXAMINE"}:
            self.do_select(args, readonly=name == "EXAMINE")
            self.send(tag + (b" OK [READ-ONLY] " if self.readonly else b" OK [READ-WRITE] ") + name.encode() + b" done")
            return False
        elif name == "CREATE":
            self.do_create(args)
        elif name == "LIST":
            self.do_list(args)
        elif name in {"SEARCH", "FETCH", "STORE", "COPY", "MOVE", "EXPUNGE", "CLOSE", "UID"}:
            if self.selected is None:
                raise _Bad(f"{name} needs a selected folder")
            if name == "UID":
                if not args or args[0].upper() not in {"SEARCH", "FETCH", "STORE", "COPY", "MOVE"}:
                    raise _Bad("UID SEARCH, FETCH, STORE, COPY or MOVE")
                name, args = args[0].upper(), args[1:]
                if name == "MOVE" and "MOVE" not in self.fake.capabilities:
                    raise _Bad("unknown command UID MOVE")
                getattr(self, "do_" + name.lower())(args, uid=True)
                self.send(tag + b" OK UID " + name.encode() + b" completed")
                return False
            if name == "MOVE" and "MOVE" not in self.fake.capabilities:
                raise _Bad("unknown command MOVE")
            getattr(self, "do_" + name.lower())(args)
        else:
            raise _Bad(f"unknown command {name}")
        self.send(tag + b" OK " + name.encode() + b" completed")
        return False

    def do_login(self, args: list[str]) -> None:
        if len(args) != 2:
            raise _Bad("LOGIN user password")
        if "LOGINDISABLED" in self.capabilities():
            raise _No("[PRIVACYREQUIRED] plaintext authentication disallowed on non-secure connections")
        if args != [self.fake.user, self.fake.password]:
            raise _No("[AUTHENTICATIONFAILED] invalid credentials")
        self.authenticated = True
        self.fake.logins.append(self.secure)

    def do_select(self, args: list[str], *, readonly: bool) -> None:
        self.selected = None
        name = self.fake._name(_one(args))
        if name not in self.fake._folders:
            raise _No("[NONEXISTENT] no such folder")
        messages = self.fake._folders[name]
        self.send(b"* FLAGS (" + " ".join(_SYSTEM_FLAGS).encode() + b")")
        self.send(b"* %d EXISTS" % len(messages))
        self.send(b"* 0 RECENT")
        self.send(b"* OK [UIDVALIDITY 1] UIDs valid")
        self.send(b"* OK [UIDNEXT %d] predicted next UID" % self.fake._uid_next.get(name, 1))
        self.selected, self.readonly = name, readonly

    def do_create(self, args: list[str]) -> None:
        name = self.fake._name(_one(args))
        if name in self.fake._folders:
            raise _No("[ALREADYEXISTS] folder exists")
        self.fake._folders[name] = []
        self.fake._uid_next.setdefault(name, 1)

    def do_list(self, args: list[str]) -> None:
        if len(args) != 2:
            raise _Bad("LIST reference pattern")
        pattern = args[0] + args[1]
        regex = re.compile(
            "".join(".*" if c == "*" else "[^/]*" if c == "%" else re.escape(c) for c in pattern) + r"\Z"
        )
        for name in sorted(self.fake._folders):
            if regex.match(name) or (name == "INBOX" and regex.match("inbox")):
                self.send(b'* LIST (\\HasNoChildren) "/" ' + _quoted(name))

    def messages(self) -> list[_Message]:
        assert self.selected is not None
        return self.fake._folders[self.selected]

    def numbers(self, spec: str, *, uid: bool) -> list[int]:
        """The sequence numbers a set names: sequence numbers, or UIDs (those that exist) with ``uid``."""
        messages = self.messages()
        if not uid:
            return _sequence(spec, len(messages))
        uids = {m.uid: n for n, m in enumerate(messages, 1)}
        wanted = _sequence(spec, max(uids, default=0), strict=False)
        return sorted(uids[u] for u in wanted if u in uids)

    def do_search(self, args: list[str], *, uid: bool = False) -> None:
        keys = [a.upper() for a in args]
        if len(keys) >= 2 and keys[0] == "CHARSET":
            keys = keys[2:]
        tests: dict[str, Callable[[_Message], bool]] = {
            "ALL": lambda m: True,
            "SEEN": lambda m: "\\Seen" in m.flags,
            "UNSEEN": lambda m: "\\Seen" not in m.flags,
            "DELETED": lambda m: "\\Deleted" in m.flags,
            "UNDELETED": lambda m: "\\Deleted" not in m.flags,
        }
        unknown = [k for k in keys if k not in tests]
        if unknown or not keys:
            raise _Bad(f"unsupported search keys {unknown or 'none'}")
        hits = [m.uid if uid else n for n, m in enumerate(self.messages(), 1) if all(tests[k](m) for k in keys)]
        self.send(b"* SEARCH" + b"".join(b" %d" % n for n in hits))

    def do_fetch(self, args: list[str], *, uid: bool = False) -> None:
        if len(args) != 2:
            raise _Bad("FETCH set items")
        items = _items(args[1])
        allowed = {"UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "RFC822", "BODY[]", "BODY.PEEK[]"}
        if not items or not set(items) <= allowed:
            raise _Bad(f"unsupported fetch items {args[1]}")
        if uid and "UID" not in items:
            # RFC 3501 6.4.8: the answer to UID FETCH always names the UID.
            items.insert(0, "UID")
        messages = self.messages()
        for n in self.numbers(args[0], uid=uid):
            message = messages[n - 1]
            if not self.readonly and {"RFC822", "BODY[]"} & set(items):
                message.flags.add("\\Seen")
            out = b"* %d FETCH (" % n
            pieces: list[bytes] = []
            for item in items:
                if item == "UID":
                    pieces.append(b"UID %d" % message.uid)
                elif item == "FLAGS":
                    pieces.append(b"FLAGS (" + " ".join(sorted(message.flags)).encode() + b")")
                elif item == "INTERNALDATE":
                    stamp = time.strftime("%d-%b-%Y %H:%M:%S +0000", time.gmtime(message.internal_date))
                    pieces.append(b'INTERNALDATE "' + stamp.encode() + b'"')
                elif item == "RFC822.SIZE":
                    pieces.append(b"RFC822.SIZE %d" % len(message.raw))
                else:
                    label = b"RFC822" if item == "RFC822" else b"BODY[]"
                    pieces.append(label + b" {%d}\r\n" % len(message.raw) + message.raw)
            out += b" ".join(pieces) + b")"
            self.send(out)

    def do_store(self, args: list[str], *, uid: bool = False) -> None:
        if len(args) != 3:
            raise _Bad("STORE set item flags")
        item = args[1].upper()
        silent = item.endswith(".SILENT")
        mode = item.removesuffix(".SILENT")
        if mode not in {"FLAGS", "+FLAGS", "-FLAGS"}:
            raise _Bad(f"unsupported store item {args[1]}")
        flags = {_flag(f) for f in args[2].strip("()").split()}
        messages = self.messages()
        for n in self.numbers(args[0], uid=uid):
            message = messages[n - 1]
            if mode == "FLAGS":
                message.flags = set(flags)
            elif mode == "+FLAGS":
                message.flags |= flags
            else:
                message.flags -= flags
            if not silent:
                uid_item = b"UID %d " % message.uid if uid else b""
                self.send(
                    b"* %d FETCH (" % n + uid_item + b"FLAGS (" + " ".join(sorted(message.flags)).encode() + b"))"
                )

    def do_copy(self, args: list[str], *, uid: bool = False) -> list[int]:
        if len(args) != 2:
            raise _Bad("COPY set folder")
        target = self.fake._name(args[1])
        if target not in self.fake._folders:
            raise _No("[TRYCREATE] no such folder")
        messages = self.messages()
        numbers = self.numbers(args[0], uid=uid)
        for n in numbers:
            source = messages[n - 1]
            self.fake._append(target, _Message(source.raw, set(source.flags), source.internal_date))
        return numbers

    def do_move(self, args: list[str], *, uid: bool = False) -> None:
        numbers = self.do_copy(args, uid=uid)
        self.remove(set(numbers))

    def do_expunge(self, args: list[str]) -> None:
        self.remove({n for n, m in enumerate(self.messages(), 1) if "\\Deleted" in m.flags})

    def do_close(self, args: list[str]) -> None:
        if not self.readonly:
            assert self.selected is not None
            self.fake._folders[self.selected] = [m for m in self.messages() if "\\Deleted" not in m.flags]
        self.selected = None

    def remove(self, numbers: set[int]) -> None:
        # Highest first, so that every number sent is still valid when the client reads it.
        messages = self.messages()
        for n in sorted(numbers, reverse=True):
            del messages[n - 1]
            self.send(b"* %d EXPUNGE" % n)


# -- parsing ---------------------------------------------------------------


def _tokens(text: str, literals: list[bytes]) -> list[str]:
    """Split command arguments into atoms, unquoted strings, literals and parenthesised lists.

    A parenthesised list or an atom with brackets (``BODY.PEEK[HEADER]``) stays one token.
    """
    tokens: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == " ":
            i += 1
        elif c == '"':
            i += 1
            value = []
            while i < len(text) and text[i] != '"':
                if text[i] == "\\" and i + 1 < len(text):
                    i += 1
                value.append(text[i])
                i += 1
            if i >= len(text):
                raise _Bad("unterminated quoted string")
            tokens.append("".join(value))
            i += 1
        elif c == "\x00":
            end = text.index("\x00", i + 1)
            tokens.append(literals[int(text[i + 1 : end])].decode("utf-8", "replace"))
            i = end + 1
        else:
            start, depth = i, 0
            while i < len(text) and (depth or text[i] != " "):
                if text[i] in "([":
                    depth += 1
                elif text[i] in ")]":
                    depth -= 1
                i += 1
            tokens.append(text[start:i])
    return tokens


def _one(args: list[str]) -> str:
    if len(args) != 1:
        raise _Bad("expected one folder name")
    return args[0]


def _items(spec: str) -> list[str]:
    spec = spec.upper()
    if spec.startswith("(") and spec.endswith(")"):
        spec = spec[1:-1]
    return spec.split()


def _flag(name: str) -> str:
    for system in _SYSTEM_FLAGS:
        if name.lower() == system.lower():
            return system
    return name


def _sequence(spec: str, count: int, *, strict: bool = True) -> list[int]:
    """Numbers of a sequence set (``1``, ``2:4``, ``3,5``, ``*``, ``2:*``), ``*`` being ``count``.

    ``strict`` (sequence numbers) refuses numbers above ``count``; a UID set may name UIDs that
    no longer exist, which the caller skips.
    """
    numbers: set[int] = set()
    try:
        for part in spec.split(","):
            low, _, high = part.partition(":")
            first = count if low == "*" else int(low)
            last = first if not high else count if high == "*" else int(high)
            numbers.update(range(min(first, last), max(first, last) + 1))
    except ValueError:
        raise _Bad(f"bad sequence set {spec}") from None
    if any(n < 1 or (strict and n > count) for n in numbers):
        raise _Bad(f"no such message in {spec}")
    return sorted(numbers)


def _quoted(name: str) -> bytes:
    return b'"' + name.replace("\\", "\\\\").replace('"', '\\"').encode() + b'"'


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a local IMAP account for scart's mailbox intake.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--user", default="scart")
    parser.add_argument("--password", default="secret")
    parser.add_argument("--tls", choices=["implicit", "starttls"])
    options = parser.parse_args(argv)
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    # The test CA's files live as long as the server.
    with tempfile.TemporaryDirectory(prefix="fake-imap-") as directory:
        context, ca_file = None, None
        if options.tls:
            certificates = make_certificates(Path(directory))
            context, ca_file = certificates.server_context(), certificates.ca_file
        server = FakeImap(
            options.user, options.password, host=options.host, port=options.port, tls=options.tls, tls_context=context
        )
        with server:
            print(server.url, flush=True)
            if ca_file is not None:
                print(ca_file, flush=True)
            stopping.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
