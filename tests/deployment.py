"""The site as it runs in production, for tests that need several app processes.

Two gunicorn processes (one worker each, with threads, each with its own per-process cache)
serve one database of their own: a database file on SQLite, or a database created for the test
on PostgreSQL (dropped afterwards). The operator uses ``manage.py`` as in production.
"""
from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]
USERS = "/api/authentication/scim/Users"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Deployment:
    env: dict[str, str]
    servers: list[str]

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def issue_code(self, *extra: str) -> str:
        # The plaintext is alone on the last line, for scripts.
        return self.manage("provisioning_code", "rotate", "--organisation", "demo", *extra).strip().splitlines()[-1]

    def statuses(self, code: str) -> list[int]:
        """The status each process answers to the next lookup made with ``code``."""
        answers = []
        for server in self.servers:
            request = urllib.request.Request(f"{server}{USERS}?count=1", headers={"Authorization": f"Bearer {code}"})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    answers.append(response.status)
            except urllib.error.HTTPError as error:
                answers.append(error.code)
        return answers


def database_url_for(tmp_path: Path) -> tuple[str, callable]:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return f"sqlite:///{tmp_path / 'site.sqlite3'}", lambda: None
    name = f"prompt_revocation_{os.getpid()}"
    server = url.rsplit("/", 1)[0]
    admin_url = f"{server}/postgres".replace("postgres://", "postgresql://", 1)

    def run(statement: str) -> None:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(statement)

    run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    run(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}", lambda: run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _serving(deployment: Deployment) -> bool:
    try:
        return deployment.statuses("not-a-code") == [401, 401]
    except urllib.error.URLError:
        return False


def production_environment(*, database_url: str, **settings: str) -> dict[str, str]:
    """The environment production's processes run with (fresh secrets), on ``database_url``, with ``settings``."""
    env = {key: value for key, value in os.environ.items() if key not in ("DJANGO_SETTINGS_MODULE", "CACHE_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="prompt_site.settings",
        DATABASE_URL=database_url,
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(40),
        PROVISIONING_CODE_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        LOG_LEVEL="ERROR",
        **settings,
    )
    return env


@pytest.fixture
def deployment(tmp_path):
    database_url, drop = database_url_for(tmp_path)
    env = production_environment(
        database_url=database_url,
        # Persistent connections, as in production: nothing may be remembered across requests.
        CONN_MAX_AGE="60",
        STATIC_ROOT=str(tmp_path / "static"),
    )
    processes = []
    try:
        deployment = Deployment(env, [])
        deployment.manage("migrate", "--noinput")
        deployment.manage("seed_demo")
        for _ in range(2):
            port = free_port()
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "gunicorn", "prompt_site.wsgi", "--workers", "1", "--threads", "8", "--bind", f"127.0.0.1:{port}"],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            deployment.servers.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 30
        while not _serving(deployment):
            assert time.monotonic() < deadline, "the app processes did not start"
            time.sleep(0.2)
        yield deployment
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
        drop()
