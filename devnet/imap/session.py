"""One client connection to the local IMAP peer: TLS, reading commands with their literals, and the
commands outside a folder (CAPABILITY, LOGIN, SELECT, CREATE, LIST ...)."""

from __future__ import annotations

import re
import socket
import socketserver
import sys
from typing import TYPE_CHECKING, Any

from devnet.imap.folder import FolderCommands
from devnet.imap.parsing import LITERAL, MAX_LINE, SYSTEM_FLAGS, BadCommand, CommandFailed, one_folder, quoted, tokens

if TYPE_CHECKING:
    from devnet.imap.account import FakeImap


class ImapServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    fake: FakeImap

    def handle_error(self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any) -> None:
        # A client that refuses the certificate or hangs up is what TLS tests are about, not a fault.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class Session(FolderCommands, socketserver.StreamRequestHandler):
    """One client connection: reads commands, answers them, until LOGOUT or EOF."""

    server: ImapServer
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
        self.selected = None
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
            except BadCommand as exc:
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
                except BadCommand as exc:
                    self.send(tag + b" BAD " + str(exc).encode())
                    continue
                except CommandFailed as exc:
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
        line = self.rfile.readline(MAX_LINE + 1)
        if not line:
            return None
        if len(line) > MAX_LINE:
            raise BadCommand("line too long")
        return line

    def read_command(self) -> tuple[bytes, str, list[str]] | None:
        """Read one command, with its literals; returns (tag, NAME, arguments) or None at EOF."""
        line = self.read_line()
        if line is None:
            return None
        text = b""
        literals: list[bytes] = []
        while True:
            match = LITERAL.search(line)
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
            raise BadCommand("expected a tag and a command")
        tag, name = parts[0], parts[1].decode("ascii", "replace").upper()
        args = tokens(parts[2].decode("utf-8", "replace") if len(parts) > 2 else "", literals)
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
            raise BadCommand(f"{name} needs LOGIN first")
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
                raise BadCommand(f"{name} needs a selected folder")
            if name == "UID":
                if not args or args[0].upper() not in {"SEARCH", "FETCH", "STORE", "COPY", "MOVE"}:
                    raise BadCommand("UID SEARCH, FETCH, STORE, COPY or MOVE")
                name, args = args[0].upper(), args[1:]
                if name == "MOVE" and "MOVE" not in self.fake.capabilities:
                    raise BadCommand("unknown command UID MOVE")
                getattr(self, "do_" + name.lower())(args, uid=True)
                self.send(tag + b" OK UID " + name.encode() + b" completed")
                return False
            if name == "MOVE" and "MOVE" not in self.fake.capabilities:
                raise BadCommand("unknown command MOVE")
            getattr(self, "do_" + name.lower())(args)
        else:
            raise BadCommand(f"unknown command {name}")
        self.send(tag + b" OK " + name.encode() + b" completed")
        return False

    def do_login(self, args: list[str]) -> None:
        if len(args) != 2:
            raise BadCommand("LOGIN user password")
        if "LOGINDISABLED" in self.capabilities():
            raise CommandFailed("[PRIVACYREQUIRED] plaintext authentication disallowed on non-secure connections")
        if args != [self.fake.user, self.fake.password]:
            raise CommandFailed("[AUTHENTICATIONFAILED] invalid credentials")
        self.authenticated = True
        self.fake.logins.append(self.secure)

    def do_select(self, args: list[str], *, readonly: bool) -> None:
        self.selected = None
        name = self.fake._name(one_folder(args))
        if name not in self.fake._folders:
            raise CommandFailed("[NONEXISTENT] no such folder")
        messages = self.fake._folders[name]
        self.send(b"* FLAGS (" + " ".join(SYSTEM_FLAGS).encode() + b")")
        self.send(b"* %d EXISTS" % len(messages))
        self.send(b"* 0 RECENT")
        self.send(b"* OK [UIDVALIDITY 1] UIDs valid")
        self.send(b"* OK [UIDNEXT %d] predicted next UID" % self.fake._uid_next.get(name, 1))
        self.selected, self.readonly = name, readonly

    def do_create(self, args: list[str]) -> None:
        name = self.fake._name(one_folder(args))
        if name in self.fake._folders:
            raise CommandFailed("[ALREADYEXISTS] folder exists")
        self.fake._folders[name] = []
        self.fake._uid_next.setdefault(name, 1)

    def do_list(self, args: list[str]) -> None:
        if len(args) != 2:
            raise BadCommand("LIST reference pattern")
        pattern = args[0] + args[1]
        regex = re.compile(
            "".join(".*" if c == "*" else "[^/]*" if c == "%" else re.escape(c) for c in pattern) + r"\Z"
        )
        for name in sorted(self.fake._folders):
            if regex.match(name) or (name == "INBOX" and regex.match("inbox")):
                self.send(b'* LIST (\\HasNoChildren) "/" ' + quoted(name))
