"""A folder of the local IMAP peer: its `Message` rows, and the commands on a selected folder (SEARCH,
FETCH, STORE, COPY, MOVE, EXPUNGE and CLOSE, by sequence number or, after UID, by UID)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from devnet.imap.parsing import BadCommand, CommandFailed, fetch_items, flag_name, sequence_set

if TYPE_CHECKING:
    from devnet.imap.account import FakeImap


@dataclass(slots=True)
class Message:
    """A message in a folder: its bytes as delivered, its flags, when it arrived and its UID."""

    raw: bytes
    flags: set[str] = field(default_factory=set)
    internal_date: float = field(default_factory=time.time)
    uid: int = 0


class FolderCommands:
    """Mixed into `devnet.imap.session.Session`, which sets these and writes the lines."""

    fake: FakeImap
    selected: str | None
    readonly: bool

    def send(self, line: bytes) -> None:
        raise NotImplementedError

    def messages(self) -> list[Message]:
        assert self.selected is not None
        return self.fake._folders[self.selected]

    def numbers(self, spec: str, *, uid: bool) -> list[int]:
        """The sequence numbers a set names: sequence numbers, or UIDs (those that exist) with ``uid``."""
        messages = self.messages()
        if not uid:
            return sequence_set(spec, len(messages))
        uids = {m.uid: n for n, m in enumerate(messages, 1)}
        wanted = sequence_set(spec, max(uids, default=0), strict=False)
        return sorted(uids[u] for u in wanted if u in uids)

    def do_search(self, args: list[str], *, uid: bool = False) -> None:
        keys = [a.upper() for a in args]
        if len(keys) >= 2 and keys[0] == "CHARSET":
            keys = keys[2:]
        tests: dict[str, Callable[[Message], bool]] = {
            "ALL": lambda m: True,
            "SEEN": lambda m: "\\Seen" in m.flags,
            "UNSEEN": lambda m: "\\Seen" not in m.flags,
            "DELETED": lambda m: "\\Deleted" in m.flags,
            "UNDELETED": lambda m: "\\Deleted" not in m.flags,
        }
        unknown = [k for k in keys if k not in tests]
        if unknown or not keys:
            raise BadCommand(f"unsupported search keys {unknown or 'none'}")
        hits = [m.uid if uid else n for n, m in enumerate(self.messages(), 1) if all(tests[k](m) for k in keys)]
        self.send(b"* SEARCH" + b"".join(b" %d" % n for n in hits))

    def do_fetch(self, args: list[str], *, uid: bool = False) -> None:
        if len(args) != 2:
            raise BadCommand("FETCH set items")
        items = fetch_items(args[1])
        allowed = {"UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "RFC822", "BODY[]", "BODY.PEEK[]"}
        if not items or not set(items) <= allowed:
            raise BadCommand(f"unsupported fetch items {args[1]}")
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
            raise BadCommand("STORE set item flags")
        item = args[1].upper()
        silent = item.endswith(".SILENT")
        mode = item.removesuffix(".SILENT")
        if mode not in {"FLAGS", "+FLAGS", "-FLAGS"}:
            raise BadCommand(f"unsupported store item {args[1]}")
        flags = {flag_name(f) for f in args[2].strip("()").split()}
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
            raise BadCommand("COPY set folder")
        target = self.fake._name(args[1])
        if target not in self.fake._folders:
            raise CommandFailed("[TRYCREATE] no such folder")
        messages = self.messages()
        numbers = self.numbers(args[0], uid=uid)
        for n in numbers:
            source = messages[n - 1]
            self.fake._append(target, Message(source.raw, set(source.flags), source.internal_date))
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
