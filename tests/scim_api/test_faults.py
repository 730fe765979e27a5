"""The database failing under a SCIM request: a SCIM 503 with Retry-After, nothing half-written,
and the next request, once the database is back, succeeds.

The failures are real: a connection to a port nobody listens on (or an SQLite file that cannot
be opened), and on PostgreSQL a second session that holds locks while the request runs into a
statement timeout, is terminated by the server, or loses a serialization conflict.
"""
from __future__ import annotations

import json
import logging
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import psycopg
import pytest
import requests
from django.db import connection, connections

from organisations.models import User
from scim_provisioning.models import ScimRequest, ScimUser

from .conftest import ENTERPRISE, USERS, entra_user, error, patch_op

UNAVAILABLE = "The service is temporarily unavailable; nothing was changed. Retry later."
APPLICATION_NAME = "prompt-scim-fault-test"


def assert_unavailable(response, retry_after: str) -> None:
    """A SCIM 503 that tells Entra when to retry and shows nothing of the failure's internals."""
    assert response.status_code == 503
    assert response.headers["Content-Type"] == "application/scim+json"
    assert response.headers["Retry-After"] == retry_after
    body = response.content.decode()
    assert json.loads(body) == error(503, UNAVAILABLE)
    for leak in ("Traceback", "psycopg", "sqlite", "OperationalError", "SELECT", "UPDATE", "scim_provisioning_"):
        assert leak not in body


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def unreachable_database(tmp_path):
    """Give this thread a default connection to a database that cannot be reached."""
    original = connections["default"]
    settings_dict = {**original.settings_dict, "OPTIONS": {**original.settings_dict["OPTIONS"]}}
    if original.vendor == "postgresql":
        settings_dict.update(HOST="127.0.0.1", PORT=str(_closed_port()))
        settings_dict["OPTIONS"]["connect_timeout"] = 2
    else:
        settings_dict["NAME"] = str(tmp_path / "missing" / "db.sqlite3")
    unreachable = type(original)(settings_dict, alias="default")
    connections["default"] = unreachable
    try:
        yield
    finally:
        unreachable.close()
        connections["default"] = original


@pytest.mark.parametrize("method", ["get", "post", "patch", "delete"])
def test_unreachable_database_is_503_then_the_next_request_succeeds(scim_client, create_user, tmp_path, method, caplog):
    alice = create_user("alice@contoso.com")
    path = f"{USERS}/{alice['id']}"
    requests_before = ScimRequest.objects.count()
    calls = {
        "get": lambda: scim_client.get(USERS, {"filter": 'userName eq "alice@contoso.com"'}),
        "post": lambda: scim_client.post(USERS, entra_user("bob@contoso.com")),
        "patch": lambda: scim_client.patch(path, patch_op({"op": "replace", "path": "active", "value": "False"})),
        "delete": lambda: scim_client.delete(path),
    }

    with caplog.at_level(logging.ERROR, logger="scim_provisioning"), unreachable_database(tmp_path):
        response = calls[method]()

    # The code lookup is the request's first query, so authentication itself met the outage.
    assert_unavailable(response, "30")
    assert any(r.getMessage().startswith("Database unavailable in SCIM view") for r in caplog.records)
    assert ScimRequest.objects.count() == requests_before
    assert scim_client.get(path).json() == alice
    assert not User.objects.filter(username="bob@contoso.com").exists()
    assert User.objects.get(username="alice@contoso.com").is_active is True
    # The database is back: the same request now succeeds.
    assert calls[method]().status_code == {"get": 200, "post": 201, "patch": 200, "delete": 204}[method]


@pytest.mark.django_db(transaction=True)
def test_sqlite_database_locked_is_503_and_writes_nothing(scim_client, create_user):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's own lock; PostgreSQL's are tested below")
    import sqlite3

    alice = create_user("alice@contoso.com")
    path = f"{USERS}/{alice['id']}"
    # Another writer holds the database's write lock for the whole request.
    writer = sqlite3.connect(connection.settings_dict["NAME"], uri=True, timeout=0.1, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE scim_provisioning_scimuser SET external_id = external_id")
        response = scim_client.patch(path, patch_op({"op": "replace", "path": "active", "value": "False"}))
    finally:
        writer.execute("ROLLBACK")
        writer.close()

    assert_unavailable(response, "30")
    assert User.objects.get(username="alice@contoso.com").is_active is True
    retried = scim_client.patch(path, patch_op({"op": "replace", "path": "active", "value": "False"}))
    assert retried.status_code == 200
    assert retried.json()["active"] is False


# --- PostgreSQL: a second session interferes with the request served by a live server ----------


class ScimHttp(requests.Session):
    """Entra's requests to the live server, over real HTTP."""

    def __init__(self, base_url: str, code: str):
        super().__init__()
        self.base_url = base_url
        self.headers.update(
            {"Authorization": f"Bearer {code}", "Content-Type": "application/scim+json; charset=utf-8"}
        )

    def request(self, method, path, *args, body=None, **kwargs):
        if body is not None:
            kwargs["data"] = json.dumps(body)
        return super().request(method, self.base_url + path, *args, timeout=30, **kwargs)


@pytest.fixture
def http(live_server, provisioning_code) -> ScimHttp:
    with ScimHttp(live_server.url, provisioning_code) as session:
        yield session


@pytest.fixture
def session():
    """A second PostgreSQL session on the test database, in a transaction until it ends."""
    settings_dict = connection.settings_dict
    with psycopg.connect(
        dbname=settings_dict["NAME"],
        user=settings_dict["USER"] or None,
        password=settings_dict["PASSWORD"] or None,
        host=settings_dict["HOST"] or None,
        port=settings_dict["PORT"] or None,
    ) as conn:
        yield conn
        conn.rollback()


@contextmanager
def server_sessions(*parameters: str):
    """Start the live server's next database sessions with these ``-c`` parameters.

    The settings dict is shared by every thread's connection, and each request opens its own
    connection (CONN_MAX_AGE is 0 in tests), so this reaches the requests made meanwhile.
    """
    options = connection.settings_dict["OPTIONS"]
    saved = dict(options)
    options["options"] = " ".join(f"-c {parameter}" for parameter in (f"application_name={APPLICATION_NAME}", *parameters))
    try:
        yield
    finally:
        options.clear()
        options.update(saved)


def _waiting_backend(session, timeout: float = 10) -> int:
    """Return the pid of the live server's session once it waits for a lock."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(session.info.dsn, autocommit=True) as watcher:
        while time.monotonic() < deadline:
            row = watcher.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = %s AND wait_event_type = 'Lock'",
                [APPLICATION_NAME],
            ).fetchone()
            if row:
                return row[0]
            time.sleep(0.02)
    raise AssertionError("the request never waited for the lock")


def _terminate(session, pid: int) -> None:
    with psycopg.connect(session.info.dsn, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)


@pytest.fixture
def alice(http, organisation) -> dict:
    response = http.post(USERS, body=entra_user("alice@contoso.com"))
    assert response.status_code == 201
    return response.json()


DEACTIVATE = patch_op(
    {"op": "Replace", "path": "active", "value": "False"},
    {"op": "Replace", "path": "displayName", "value": "Alice Jones"},
)


def _assert_unchanged(http, alice: dict, session_version) -> None:
    assert http.get(f"{USERS}/{alice['id']}").json() == alice
    user = User.objects.get(scim__id=alice["id"])
    assert (user.is_active, user.first_name, user.session_version) == (True, "Alice", session_version)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_lock_timeout_at_commit_is_503_and_rolls_back_every_write(http, alice, session):
    """The request has deactivated the user when its COMMIT waits on another session and gives up."""
    bob = http.post(USERS, body=entra_user("bob@contoso.com")).json()
    session_version = User.objects.get(scim__id=alice["id"]).session_version
    body = patch_op(
        *DEACTIVATE["Operations"], {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": bob["id"]}
    )
    # The new manager's row is locked; the foreign key is checked at COMMIT, after every UPDATE.
    session.execute("SELECT 1 FROM scim_provisioning_scimuser WHERE id = %s FOR UPDATE", [bob["id"]])

    # PostgreSQL's statement_timeout does not interrupt COMMIT; lock_timeout does.
    with server_sessions("lock_timeout=300"):
        response = http.patch(f"{USERS}/{alice['id']}", body=body)
    session.rollback()

    assert_unavailable(response, "5")
    _assert_unchanged(http, alice, session_version)
    failure = ScimRequest.objects.get(method="PATCH")
    assert (failure.status, failure.action, failure.changes) == (503, "", None)
    retried = http.patch(f"{USERS}/{alice['id']}", body=body)
    assert retried.status_code == 200
    assert (retried.json()["active"], retried.json()[ENTERPRISE]["manager"]["value"]) == (False, bob["id"])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_statement_timeout_waiting_for_the_user_is_503(http, alice, session):
    session_version = User.objects.get(scim__id=alice["id"]).session_version
    session.execute("SELECT 1 FROM scim_provisioning_scimuser WHERE id = %s FOR UPDATE", [alice["id"]])

    with server_sessions("statement_timeout=300"):
        response = http.patch(f"{USERS}/{alice['id']}", body=DEACTIVATE)
    session.rollback()

    assert_unavailable(response, "5")
    _assert_unchanged(http, alice, session_version)
    assert http.patch(f"{USERS}/{alice['id']}", body=DEACTIVATE).json()["active"] is False


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_connection_terminated_mid_request_is_503_then_the_next_request_succeeds(http, alice, session):
    session_version = User.objects.get(scim__id=alice["id"]).session_version
    session.execute("SELECT 1 FROM scim_provisioning_scimuser WHERE id = %s FOR UPDATE", [alice["id"]])

    with server_sessions(), ThreadPoolExecutor(1) as pool:
        pending = pool.submit(http.patch, f"{USERS}/{alice['id']}", body=DEACTIVATE)
        # The server ends the request's session while it is inside its transaction.
        _terminate(session, _waiting_backend(session))
        response = pending.result(timeout=30)
    session.rollback()

    assert_unavailable(response, "30")
    _assert_unchanged(http, alice, session_version)
    retried = http.patch(f"{USERS}/{alice['id']}", body=DEACTIVATE)
    assert retried.status_code == 200
    assert (retried.json()["active"], retried.json()["displayName"]) == (False, "Alice Jones")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_serialization_failure_is_503_and_writes_nothing(http, alice, session):
    session_version = User.objects.get(scim__id=alice["id"]).session_version
    # A concurrent transaction updates the row the request is about to lock.
    session.execute("UPDATE scim_provisioning_scimuser SET external_id = external_id WHERE id = %s", [alice["id"]])

    with server_sessions("default_transaction_isolation=serializable"), ThreadPoolExecutor(1) as pool:
        pending = pool.submit(http.patch, f"{USERS}/{alice['id']}", body=DEACTIVATE)
        _waiting_backend(session)
        session.commit()
        response = pending.result(timeout=30)

    assert_unavailable(response, "5")
    _assert_unchanged(http, alice, session_version)
    assert http.patch(f"{USERS}/{alice['id']}", body=DEACTIVATE).status_code == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_failed_request_record_does_not_fail_a_committed_write(http, alice, session, caplog):
    """The write commits before the activity record; a record that times out is only logged."""
    session.execute("LOCK TABLE scim_provisioning_scimrequest IN ACCESS EXCLUSIVE MODE")

    with caplog.at_level(logging.ERROR, logger="scim_provisioning"), server_sessions("statement_timeout=300"):
        response = http.patch(f"{USERS}/{alice['id']}", body=DEACTIVATE)
    session.rollback()

    assert response.status_code == 200
    assert http.get(f"{USERS}/{alice['id']}").json() == response.json()
    assert response.json()["active"] is False
    assert User.objects.get(scim__id=alice["id"]).is_active is False
    assert not ScimRequest.objects.filter(method="PATCH").exists()
    assert any(r.getMessage().startswith("Could not record a SCIM request") for r in caplog.records)
    assert ScimUser.objects.get(pk=alice["id"]).deleted_at is None
