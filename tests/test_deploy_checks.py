"""``manage.py check --deploy`` in a production-like environment: clean, but for the checks the
settings silence, each documented in the README with the check that replaces it."""

from __future__ import annotations

import secrets
import subprocess
import sys

from django.conf import settings
from django.core.checks import run_checks

from scart.sealing_keys import key_new
from tests.test_settings import ROOT, clean_env

# Silenced on purpose, and why (the README says the same).
DOCUMENTED_SILENCED = {"security.W003": "scart.E001"}


def test_check_deploy_is_clean_in_production(tmp_path):
    env = clean_env(
        tmp_path, SECRET_KEY=secrets.token_urlsafe(60), SCART_FIELD_KEY=key_new(), SCART_HTTPS="1", DEBUG="0"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"no issues ({len(DOCUMENTED_SILENCED)} silenced)" in result.stdout + result.stderr


def test_every_silenced_check_is_documented_and_replaced():
    assert set(settings.SILENCED_SYSTEM_CHECKS) == set(DOCUMENTED_SILENCED)
    readme = (ROOT / "README.md").read_text()
    for silenced, replacement in DOCUMENTED_SILENCED.items():
        assert silenced in readme and replacement in readme


def deploy_issues() -> set[str]:
    return {message.id for message in run_checks(include_deployment_checks=True) if message.id}


def test_the_csrf_check_sees_the_subclass_and_fails_without_any_csrf_middleware(settings):
    assert "scart.E001" not in deploy_issues()
    settings.MIDDLEWARE = [path for path in settings.MIDDLEWARE if "Csrf" not in path]
    assert "scart.E001" in deploy_issues()


def test_demo_mode_is_a_deploy_warning(settings):
    assert "scart.W001" not in deploy_issues()
    settings.SCART_DEMO = True
    assert "scart.W001" in deploy_issues()
