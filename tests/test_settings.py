"""The env-driven settings: what production refuses to start without, and what the env selects."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
PROBE = (
    "import json, hashlib, django; from django.conf import settings; django.setup(); "
    "print(json.dumps({'engine': settings.DATABASES['default']['ENGINE'], 'broker': settings.CELERY_BROKER_URL, "
    "'secure': settings.SESSION_COOKIE_SECURE, 'hsts': settings.SECURE_HSTS_SECONDS, "
    "'options': settings.DATABASES['default'].get('OPTIONS', {}), 'user_agent': settings.SCART_CHECK_USER_AGENT, 'police': settings.SCART_POLICE_EMAIL, "
    "'key_sha256': hashlib.sha256(settings.SECRET_KEY.encode()).hexdigest(), 'field_keys': settings.SCART_FIELD_KEYS}, default=str))"
)


def clean_env(tmp_path: Path, **env: str) -> dict[str, str]:
    """The environment without scart's variables (nor Django's, which the browser tests set in this
    process), settings files under ``tmp_path``, and ``env``."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SCART_", "DATABASE_URL", "CELERY_", "DEBUG", "SECRET_KEY", "DJANGO_"))
    }
    return {
        **clean,
        "DJANGO_SETTINGS_MODULE": "scart.settings",
        "SCART_TESTING": "0",
        "SCART_VAR_DIR": str(tmp_path),
        **env,
    }


def settings_with(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=clean_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off(tmp_path):
    result = settings_with(tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY (or SECRET_KEY_FILE) must be set" in result.stderr


def test_demo_mode_refuses_to_start_in_a_deployment(tmp_path):
    # DEBUG off with a key of its own: a deployment, where demo mode would keep every notice in a file.
    key_file = tmp_path / "key"
    key_file.write_text("k" * 60)
    result = settings_with(tmp_path, SECRET_KEY_FILE=str(key_file), SCART_DEMO="1")
    assert result.returncode != 0
    assert "SCART_DEMO is for a workstation" in result.stderr
    # Where `make run` runs it: DEBUG on, or the workstation key it wrote.
    assert settings_with(tmp_path, SECRET_KEY_FILE=str(key_file), SCART_DEMO="1", DEBUG="1").returncode == 0
    (tmp_path / "secret_key").write_text("w" * 60)
    (tmp_path / "secret_key").chmod(0o600)
    result = settings_with(tmp_path, SCART_DEMO="1")
    assert result.returncode == 0, result.stderr


def test_it_reads_the_secret_key_from_a_file_and_is_secure_by_default(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text("k" * 60)
    field_key = Fernet.generate_key().decode()
    result = settings_with(tmp_path, SECRET_KEY_FILE=str(key_file), SCART_FIELD_KEY=field_key)
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


def test_it_sets_the_sqlite_options_when_database_url_names_sqlite_too(tmp_path):
    result = settings_with(tmp_path, DEBUG="1", DATABASE_URL=f"sqlite:///{tmp_path}/x.sqlite3")
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["options"]["transaction_mode"] == "IMMEDIATE"
    assert values["options"]["timeout"] == 30
    assert "journal_mode=WAL" in values["options"]["init_command"]


# Each process reads, then writes, in one transaction a few hundred times: what a worker does when
# it claims work. In a deferred transaction the second process's write fails at once with
# "database is locked" (its read snapshot is stale; no busy timeout helps); IMMEDIATE makes it wait.
WRITER = """
import django, sys
django.setup()
from django.db import connection, transaction
for i in range(300):
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM counter")
            n = cursor.fetchone()[0]
            cursor.execute("INSERT INTO counter (n) VALUES (%s)", [n])
print("done")
"""


def test_two_processes_writing_one_sqlite_database_from_database_url_do_not_lock_each_other_out(tmp_path):
    database = tmp_path / "x.sqlite3"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE counter (n INTEGER)")
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SCART_", "DATABASE_URL", "CELERY_", "DEBUG", "SECRET_KEY"))
    }
    env = {
        **clean,
        "DJANGO_SETTINGS_MODULE": "scart.settings",
        "SCART_TESTING": "0",
        "SCART_VAR_DIR": str(tmp_path),
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{database}",
    }
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [writer.communicate(timeout=120) for writer in writers]
    for out, err in outputs:
        assert "database is locked" not in err
        assert out.strip() == "done", err
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT count(*) FROM counter").fetchone()[0] == 600


def test_the_checkers_user_agent_names_the_public_website_never_the_site_url(tmp_path):
    result = settings_with(
        tmp_path,
        DEBUG="1",
        SCART_HOTLINE_NAME="Meldpunt",
        SCART_HOTLINE_WEBSITE="https://www.meldpunt.example",
        SCART_SITE_URL="https://scart.meldpunt.internal",
    )
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values["user_agent"] == "scart availability check (Meldpunt; https://www.meldpunt.example)"
    bare = json.loads(settings_with(tmp_path, DEBUG="1").stdout.strip().splitlines()[-1])
    assert bare["user_agent"] == "scart availability check (scart hotline)"


def test_the_demo_names_a_reserved_police_address_and_a_deployment_none_unless_set(tmp_path):
    demo = json.loads(settings_with(tmp_path, DEBUG="1", SCART_DEMO="1").stdout.strip().splitlines()[-1])
    assert demo["police"] == "reports@police.example"
    plain = json.loads(settings_with(tmp_path, DEBUG="1").stdout.strip().splitlines()[-1])
    assert plain["police"] == ""
    chosen = settings_with(tmp_path, DEBUG="1", SCART_DEMO="1", SCART_POLICE_EMAIL="tips@politie.example")
    assert json.loads(chosen.stdout.strip().splitlines()[-1])["police"] == "tips@politie.example"


@pytest.mark.skipif(shutil.which("make") is None, reason="make runs `make run`")
def test_make_run_writes_a_workstation_key_once_that_every_command_reads(tmp_path):
    def make_key() -> bytes:
        subprocess.run(["make", "-s", "secret-key", f"SCART_VAR_DIR={tmp_path}"], cwd=ROOT, check=True, timeout=60)
        return (tmp_path / "secret_key").read_bytes()

    first = make_key()
    assert make_key() == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert len(first.strip()) >= 50
    # DEBUG off, no SECRET_KEY: the settings read the workstation's key, and commands run.
    result = settings_with(tmp_path)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values["key_sha256"] == hashlib.sha256(first.strip()).hexdigest()
    command = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=clean_env(tmp_path), capture_output=True, text=True
    )
    assert command.returncode == 0, command.stderr
    # SECRET_KEY and SECRET_KEY_FILE still come first.
    field_key = Fernet.generate_key().decode()
    given = settings_with(tmp_path, SECRET_KEY="s" * 60, SCART_FIELD_KEY=field_key).stdout.strip().splitlines()[-1]
    given = json.loads(given)
    assert given["key_sha256"] == hashlib.sha256(b"s" * 60).hexdigest()


def test_a_deployment_refuses_to_start_without_a_key_to_seal_secrets(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text("k" * 60)
    result = settings_with(tmp_path, SECRET_KEY_FILE=str(key_file))
    assert result.returncode != 0
    assert "SCART_FIELD_KEY (or SCART_FIELD_KEY_FILE) must be set" in result.stderr
    # From a file, several keys: the first seals, each one unseals.
    new, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    keys_file = tmp_path / "field_keys"
    keys_file.write_text(f"{new}\n{old}\n")
    result = settings_with(tmp_path, SECRET_KEY_FILE=str(key_file), SCART_FIELD_KEY_FILE=str(keys_file))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["field_keys"] == [new, old]


@pytest.mark.skipif(shutil.which("make") is None, reason="make runs `make run`")
def test_make_run_writes_a_workstation_field_key_once(tmp_path):
    def make_key() -> str:
        field_key = tmp_path / "field_key"
        subprocess.run(["make", "-s", str(field_key), f"SCART_VAR_DIR={tmp_path}"], cwd=ROOT, check=True, timeout=60)
        return field_key.read_text().strip()

    first = make_key()
    assert make_key() == first
    assert (tmp_path / "field_key").stat().st_mode & 0o777 == 0o600
    Fernet(first.encode())  # a valid key
    result = settings_with(tmp_path, DEBUG="1")
    assert json.loads(result.stdout.strip().splitlines()[-1])["field_keys"] == [first]


def test_a_workstation_key_other_users_may_read_is_refused(tmp_path):
    key = tmp_path / "secret_key"
    key.write_text("k" * 60)
    key.chmod(0o644)
    result = settings_with(tmp_path)
    assert result.returncode != 0
    assert "chmod 600" in result.stderr


def fake_virtualenv(tmp_path: Path) -> Path:
    """A virtualenv stand-in for `make run`: its python does nothing, its honcho prints the
    environment the processes would start with."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("#!/bin/sh\nexit 0\n")
    (venv / "bin" / "honcho").write_text('#!/bin/sh\necho "SITE_URL=$SCART_SITE_URL"\n')
    for name in ("python", "honcho"):
        (venv / "bin" / name).chmod(0o755)
    (venv / ".installed-stamp").touch()  # newer than pyproject.toml: nothing to install
    return venv


@pytest.mark.skipif(shutil.which("make") is None, reason="make runs `make run`")
@pytest.mark.parametrize(
    ("given", "expected"),
    [({}, "http://127.0.0.1:9123"), ({"SCART_SITE_URL": "https://scart.example"}, "https://scart.example")],
    ids=["the-port-it-serves", "as-configured"],
)
def test_make_run_puts_the_port_it_serves_in_the_confirmation_links(tmp_path, given, expected):
    venv = fake_virtualenv(tmp_path)
    env = {key: value for key, value in os.environ.items() if key != "SCART_SITE_URL"} | given
    result = subprocess.run(
        ["make", "-s", "run", "PORT=9123", f"VENV={venv}", f"BIN={venv}/bin", f"SCART_VAR_DIR={tmp_path}/var"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert f"SITE_URL={expected}" in result.stdout.splitlines()
