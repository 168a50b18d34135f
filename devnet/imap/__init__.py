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

``account.py`` holds the account and its folders, ``session.py`` one client connection and the
commands outside a folder, ``folder.py`` the commands on a selected folder and ``parsing.py`` the
command syntax.

Run ``python -m devnet.imap --port 1143`` to serve an empty account; the URL is printed
on the first line of output. ``--tls implicit`` or ``--tls starttls`` makes a test CA in a
temporary directory and prints the path of its certificate on the second line.
"""

from __future__ import annotations

from devnet.imap.account import FakeImap

__all__ = ["FakeImap"]
