"""A revoked, rotated or disabled code (or OAuth access token) is refused by the very next request in every app process.

Two app processes (gunicorn, one worker each, each with its own per-process cache) serve one
database of their own; the operator changes codes from the command line, as in production, and
both processes must answer the very next request accordingly. Runs on SQLite (a database file)
and on PostgreSQL (a database created for the test) alike.
"""
from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
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


def _database_url(tmp_path: Path) -> tuple[str, callable]:
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


@pytest.fixture
def deployment(tmp_path):
    database_url, drop = _database_url(tmp_path)
    env = {key: value for key, value in os.environ.items() if key not in ("DJANGO_SETTINGS_MODULE", "CACHE_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="prompt_site.settings",
        DATABASE_URL=database_url,
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(40),
        PROVISIONING_CODE_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        # Persistent connections, as in production: nothing may be remembered across requests.
        CONN_MAX_AGE="60",
        LOG_LEVEL="ERROR",
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
                    [sys.executable, "-m", "gunicorn", "prompt_site.wsgi", "--workers", "1", "--bind", f"127.0.0.1:{port}"],
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


def test_a_code_revoked_from_the_command_line_is_refused_by_every_process_at_once(deployment):
    code = deployment.issue_code("--revoke-previous")
    assert deployment.statuses(code) == [200, 200]
    assert deployment.statuses(code) == [200, 200]

    deployment.manage("provisioning_code", "revoke", "--organisation", "demo")

    assert deployment.statuses(code) == [401, 401]


def test_a_rotation_that_revokes_the_previous_code_takes_effect_at_once(deployment):
    old = deployment.issue_code("--revoke-previous")
    assert deployment.statuses(old) == [200, 200]

    new = deployment.issue_code("--revoke-previous")

    assert deployment.statuses(old) == [401, 401]
    assert deployment.statuses(new) == [200, 200]


def test_the_first_use_of_a_new_code_ends_the_old_one_everywhere(deployment):
    old = deployment.issue_code("--revoke-previous")
    assert deployment.statuses(old) == [200, 200]
    new = deployment.issue_code()
    assert deployment.statuses(old) == [200, 200]  # within its grace period

    assert deployment.statuses(new)[0] == 200  # its first use, in one process

    assert deployment.statuses(old) == [401, 401]


def test_switching_provisioning_off_stops_the_code_in_every_process_at_once(deployment):
    code = deployment.issue_code("--revoke-previous")
    assert deployment.statuses(code) == [200, 200]

    deployment.manage(
        "shell",
        "-c",
        "from dataclasses import replace\n"
        "from organisations.access import Actor\n"
        "from organisations.azure_ad import AzureADSettings\n"
        "from organisations.models import Organisation\n"
        "from scim_provisioning.codes.actions import azure_ad_settings_save\n"
        "organisation = Organisation.objects.get(slug='demo')\n"
        "settings = replace(AzureADSettings.of(organisation), provisioning_enabled=False)\n"
        "azure_ad_settings_save(acting=Actor.system('test'), organisation=organisation, settings=settings)\n",
    )

    assert deployment.statuses(code) == [401, 401]
    status = json.loads(deployment.manage("provisioning_status", "--organisation", "demo", "--json"))
    assert status["organisations"][0]["provisioning_enabled"] is False


def test_an_access_token_ends_in_every_process_when_its_client_is_revoked(deployment):
    lines = deployment.manage("provisioning_client", "issue", "--organisation", "demo").strip().splitlines()
    client_id, secret = (line.split("=", 1)[1] for line in lines[-2:])
    request = urllib.request.Request(
        f"{deployment.servers[0]}/api/authentication/oauth2/token",
        data=urllib.parse.urlencode(
            {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
        ).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        token = json.loads(response.read())["access_token"]
    assert deployment.statuses(token) == [200, 200]

    deployment.manage("provisioning_client", "revoke", "--organisation", "demo")

    assert deployment.statuses(token) == [401, 401]


def test_a_dropped_database_connection_costs_one_retryable_503_never_a_500(deployment):
    """The API skips the per-request connection test; a connection the database dropped must still heal."""
    url = deployment.env["DATABASE_URL"]
    if not url.startswith(("postgres://", "postgresql://")):
        pytest.skip("needs PostgreSQL: it ends the app's connections from the server side")
    code = deployment.issue_code("--revoke-previous")
    assert deployment.statuses(code) == [200, 200]  # both processes now hold a persistent connection
    server, name = url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres".replace("postgres://", "postgresql://", 1), autocommit=True) as admin:
        ended = admin.execute(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()) AS ended",
            [name],
        ).fetchone()[0]
    assert ended >= 2

    answers = []
    for server_url in deployment.servers:
        request = urllib.request.Request(f"{server_url}{USERS}?count=1", headers={"Authorization": f"Bearer {code}"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                answers.append((response.status, None, None))
        except urllib.error.HTTPError as error:
            answers.append((error.code, error.headers.get("Retry-After"), json.loads(error.read())))
    for status, retry_after, body in answers:
        assert status in (200, 503), answers
        if status == 503:
            assert int(retry_after) > 0
            assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"] and body["status"] == "503"

    assert deployment.statuses(code) == [200, 200]  # the broken connections were replaced
