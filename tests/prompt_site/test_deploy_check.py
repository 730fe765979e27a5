"""`manage.py check --deploy` is clean under the production settings the README documents."""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def production_environment(**overrides: str) -> dict[str, str]:
    """The README's production environment, with fresh secrets and nothing from this shell."""
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "prompt_site.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "prompt.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://prompt.example.com",
        "DATABASE_URL": "postgres://prompt:secret@127.0.0.1:5432/prompt",
        "CACHE_URL": "redis://127.0.0.1:6379/0",
        "PROVISIONING_CODE_KEYS": Fernet.generate_key().decode(),
        "AZURE_CLIENT_ID": "00000000-0000-0000-0000-000000000000",
        "AZURE_CLIENT_SECRET": secrets.token_urlsafe(30),
        "SECURE_PROXY_SSL_HEADER": "true",
    }
    environment.update(overrides)
    return environment


def check_deploy(environment: dict[str, str]) -> subprocess.CompletedProcess:
    # --fail-level WARNING: a warning fails the command, not only an error.
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_in_production():
    result = check_deploy(production_environment())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_catches_a_weak_production_setting():
    # The check is real: a short secret key and no HSTS are reported and fail it.
    result = check_deploy(production_environment(SECRET_KEY="short", SECURE_HSTS_SECONDS="0"))

    assert result.returncode != 0
    assert "security.W009" in result.stderr
    assert "security.W004" in result.stderr
