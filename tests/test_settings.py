"""The env-driven settings: what production refuses to start without, and what the env selects."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps({'engine': settings.DATABASES['default']['ENGINE'], 'broker': settings.CELERY_BROKER_URL, "
    "'secure': settings.SESSION_COOKIE_SECURE, 'hsts': settings.SECURE_HSTS_SECONDS, "
    "'options': settings.DATABASES['default'].get('OPTIONS', {})}, default=str))"
)


def settings_with(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SCART_", "DATABASE_URL", "CELERY_", "DEBUG", "SECRET_KEY"))
    }
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "scart.settings",
            "SCART_TESTING": "0",
            "SCART_VAR_DIR": str(tmp_path),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off(tmp_path):
    result = settings_with(tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY (or SECRET_KEY_FILE) must be set" in result.stderr


def test_it_reads_the_secret_key_from_a_file_and_is_secure_by_default(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text("k" * 60)
    result = settings_with(tmp_path, SECRET_KEY_FILE=str(key_file))
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values["secure"] is True and values["hsts"] > 0


def test_it_defaults_to_sqlite_in_wal_mode_and_the_filesystem_broker(tmp_path):
    result = settings_with(tmp_path, DEBUG="1")
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values["engine"] == "django.db.backends.sqlite3"
    assert "journal_mode=WAL" in values["options"]["init_command"]
    assert values["broker"] == "filesystem://"


def test_it_uses_postgresql_and_redis_from_the_environment(tmp_path):
    result = settings_with(
        tmp_path,
        DEBUG="1",
        DATABASE_URL="postgres://scart@db.invalid:5432/scart",
        CELERY_BROKER_URL="redis://r.invalid:6379/0",
    )
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values["engine"] == "django.db.backends.postgresql"
    assert values["broker"] == "redis://r.invalid:6379/0"
