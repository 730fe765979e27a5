"""A revoked, rotated or disabled code (or OAuth access token) is refused by the very next request in every app process.

Two app processes (gunicorn, one worker each, each with its own per-process cache) serve one
database of their own; the operator changes codes from the command line, as in production, and
both processes must answer the very next request accordingly. Runs on SQLite (a database file)
and on PostgreSQL (a database created for the test) alike.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

import psycopg
import pytest

from tests.deployment import USERS


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
