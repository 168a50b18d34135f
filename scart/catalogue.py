"""The translation catalogues: ``locale/<lang>/LC_MESSAGES/django.po``, written by hand (after
``manage.py makemessages``), compiled here to the ``.mo`` files Django reads.

The compiled files are build output (not in git): `make migrate` and the test run compile them.
polib does it in pure Python, so a machine without GNU gettext's ``msgfmt`` can still run scart.
Fuzzy entries are left out, as ``msgfmt`` leaves them out: they read as English until reviewed.
"""

from __future__ import annotations

import os
from pathlib import Path

import polib  # type: ignore[import-untyped]  # no type information

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
# Where the catalogue's strings come from (`make messages`): the product, not the tests, the local
# peers (devnet) or the benchmarks.
SOURCE_DIRS = ("accounts", "privacy", "reports", "routing", "scart", "stats", "templates", "workspace")


def catalogue_compile(*, locale_dir: Path = LOCALE_DIR, force: bool = False) -> list[Path]:
    """Compile every ``.po`` under ``locale_dir`` whose ``.mo`` is missing or older; return the
    ``.mo`` files written."""
    written = []
    for po_path in sorted(locale_dir.glob("*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        if not force and mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        catalogue = polib.pofile(str(po_path))
        for entry in catalogue.fuzzy_entries():
            catalogue.remove(entry)
        # Written aside, then renamed: test workers may compile at the same moment.
        tmp = mo_path.with_name(f"{mo_path.name}.{os.getpid()}.tmp")
        catalogue.save_as_mofile(str(tmp))
        tmp.replace(mo_path)
        written.append(mo_path)
    return written
