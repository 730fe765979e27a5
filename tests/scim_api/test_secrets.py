"""The Provisioning Authentication Code never leaves the places meant for it.

Not in logs (SQL included), error bodies, the activity record, the admin's change history, or
error reports (admin emails and the technical 500 page).
"""
from __future__ import annotations

import logging
import sys
import uuid

import pytest
from django.contrib.admin.models import LogEntry
from django.core import mail
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.log import AdminEmailHandler
from django.views.debug import ExceptionReporter

from organisations.access import Actor
from organisations.models import Role
from scim_provisioning.codes import actions as services
from scim_provisioning.codes import tokens
from scim_provisioning.models import ProvisioningCode, ScimRequest
from tests.factories import UserFactory

from .conftest import BASE, USERS, entra_user, patch_op


def wrong(code: str) -> str:
    return code[:-1] + ("A" if code[-1] != "A" else "B")


def secrets_of(code: str) -> list[str]:
    """The code, its random part, and a near miss: none may show up anywhere."""
    return [code, code.removeprefix(tokens.CODE_PREFIX), wrong(code)]


def admin_url(name: str, **kwargs) -> str:
    return reverse(f"admin:organisations_organisation_azure_ad{name}", kwargs=kwargs)


@pytest.fixture
def everything_logged(caplog):
    """Capture every log record at DEBUG, SQL statements with their parameters included."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    with CaptureQueriesContext(connection) as queries:  # turns on the SQL debug log as well
        yield caplog, queries


def all_text(caplog, queries) -> str:
    parts = [caplog.text]
    for record in caplog.records:
        parts += [record.getMessage(), repr(record.args), record.exc_text or "", repr(getattr(record, "sql", ""))]
        parts.append(repr(getattr(record, "params", "")))
    parts += [query["sql"] for query in queries.captured_queries]
    return "\n".join(parts)


def test_full_entra_flow_never_shows_the_code(organisation, everything_logged):
    caplog, queries = everything_logged
    admin = UserFactory(organisation=organisation, role=Role.ADMIN)
    browser = Client()
    browser.force_login(admin)
    bodies: list[bytes] = []

    # The admin generates a code and reveals it, as they would before pasting it into Entra ID.
    browser.post(admin_url("_code_generate", id=organisation.pk))
    code = ProvisioningCode.objects.filter(organisation=organisation).latest("created_at")
    revealed = browser.post(admin_url("_code_reveal", id=organisation.pk, code_id=code.pk))
    plaintext = revealed.json()["code"]
    bodies.append(browser.get(admin_url("", id=organisation.pk)).content)

    entra = Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}")

    def scim(method: str, path: str, body=None):
        import json

        response = entra.generic(method, path, data=json.dumps(body) if body else "", content_type="application/scim+json")
        bodies.append(response.content)
        return response

    # Test Connection, then Entra's create, lookup, update, deactivate and delete of one user.
    assert scim("GET", f"{USERS}?filter=userName+eq+%22{uuid.uuid4()}%22").status_code == 200
    created = scim("POST", USERS, entra_user("alice@contoso.com"))
    assert created.status_code == 201
    scim_id = created.json()["id"]
    assert scim("GET", f"{USERS}?filter=userName+eq+%22alice%40contoso.com%22").json()["totalResults"] == 1
    assert scim("PATCH", f"{USERS}/{scim_id}", patch_op({"op": "Replace", "path": "title", "value": "CFO"})).status_code == 200
    assert scim("PATCH", f"{USERS}/{scim_id}", patch_op({"op": "Replace", "path": "active", "value": "False"})).status_code == 200
    assert scim("DELETE", f"{USERS}/{scim_id}").status_code == 204
    assert scim("GET", f"{BASE}/Nope").status_code == 404
    # A wrong code, and the real code sent the wrong way.
    for header in (f"Bearer {wrong(plaintext)}", f"Bearer {plaintext} extra", f"Basic {plaintext}", plaintext):
        response = Client(HTTP_AUTHORIZATION=header).get(USERS)
        assert response.status_code == 401
        bodies.append(response.content)

    logged = all_text(caplog, queries)
    # The SQL log was captured, and it looked the code up by its digest.
    assert tokens.code_digest(plaintext) in logged
    assert any(record.name == "django.db.backends" for record in caplog.records)
    assert "SCIM authentication failed" in logged
    history = "\n".join(LogEntry.objects.values_list("change_message", flat=True))
    assert "Provisioning Authentication Code" in history
    activity = "\n".join(
        f"{r.method} {r.path} {r.detail} {r.scim_type} {r.changes}" for r in ScimRequest.objects.all()
    )
    stored = "\n".join(f"{c.digest} {c.encrypted} {c.last_characters}" for c in ProvisioningCode.objects.all())
    for secret in secrets_of(plaintext):
        assert secret not in logged
        assert all(secret.encode() not in body for body in bodies)
        assert secret not in history
        assert secret not in activity
        assert secret not in stored


def test_lookup_is_by_digest_not_by_plaintext(organisation, provisioning_code):
    # Comparing digests by index (and hmac.compare_digest) keeps the timing independent of how
    # much of a guess is right; the plaintext itself never reaches the database.
    with CaptureQueriesContext(connection) as queries:
        assert Client(HTTP_AUTHORIZATION=f"Bearer {provisioning_code}").get(USERS).status_code == 200
    sql = "\n".join(query["sql"] for query in queries.captured_queries)
    assert tokens.code_digest(provisioning_code) in sql
    assert provisioning_code.removeprefix(tokens.CODE_PREFIX) not in sql


# --- Error reports -----------------------------------------------------------------------------


def failure():
    """Return the exc_info of a failure (raised here, so no test's variables are in it)."""
    try:
        raise RuntimeError("something broke")
    except RuntimeError:
        return sys.exc_info()


def failed_reveal(code: ProvisioningCode, revealed_by):
    """Return the exc_info of a real failure after the plaintext was decrypted."""
    try:
        services.provisioning_code_reveal(acting=Actor.person(revealed_by), code=code)
    except ValueError:  # the reveal record cannot be saved for an unsaved user
        return sys.exc_info()
    raise AssertionError("expected the reveal to fail")


def report_of(request, exc_info) -> str:
    reporter = ExceptionReporter(request, *exc_info)
    return reporter.get_traceback_html() + "\n" + reporter.get_traceback_text()


def test_error_report_hides_the_authorization_header_and_credentials_in_settings(organisation, provisioning_code, settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "redis://:cache-pass-1234@cache:6379/0"}
    }
    request = RequestFactory().get(USERS, HTTP_AUTHORIZATION=f"Bearer {provisioning_code}")

    report = report_of(request, failure())

    assert "HTTP_AUTHORIZATION" in report
    assert "something broke" in report
    for secret in secrets_of(provisioning_code) + ["cache-pass-1234", settings.SECRET_KEY, *settings.PROVISIONING_CODE_KEYS]:
        assert secret not in report


def test_error_report_hides_the_code_in_local_variables(organisation, provisioning_code):
    code = ProvisioningCode.objects.get(organisation=organisation)
    exc_info = failed_reveal(code, UserFactory.build(organisation=organisation, role=Role.ADMIN))
    frames = []
    traceback = exc_info[2]
    while traceback is not None:
        frames.append(traceback.tb_frame)
        traceback = traceback.tb_next
    # The code really was in a local variable when it failed ...
    assert any(frame.f_locals.get("plaintext") == provisioning_code for frame in frames)

    report = report_of(None, exc_info)

    # ... and the report shows the frame, but not the value.
    assert "provisioning_code_reveal" in report
    for secret in secrets_of(provisioning_code):
        assert secret not in report


def test_emailed_reports_of_a_scim_failure_never_show_the_code(organisation, provisioning_code, settings):
    settings.ADMINS = [("Operations", "ops@example.com")]
    handler = AdminEmailHandler(include_html=True)
    loggers = [logging.getLogger(name) for name in ("django.request", "scim_provisioning")]
    for logger in loggers:
        logger.addHandler(handler)

    def refuse(execute, sql, params, many, context):
        # The database fails in the middle of authentication, while the code is in hand.
        if "provisioningcode" in sql:
            raise RuntimeError("the database refused the query")
        return execute(sql, params, many, context)

    try:
        with connection.execute_wrapper(refuse):
            response = Client(HTTP_AUTHORIZATION=f"Bearer {provisioning_code}").get(USERS)
    finally:
        for logger in loggers:
            logger.removeHandler(handler)

    assert response.status_code == 500
    assert response["Content-Type"] == "application/scim+json"
    assert mail.outbox, "expected the failure to be emailed to ADMINS"
    emailed = "\n".join(
        [m.subject + m.body for m in mail.outbox]
        + [content for m in mail.outbox for content, _ in getattr(m, "alternatives", [])]
    )
    assert "code_for_bearer" in emailed  # the traceback and its frames are in the report
    assert "HTTP_AUTHORIZATION" in emailed  # so is the request
    for secret in secrets_of(provisioning_code):
        assert secret not in emailed
        assert secret.encode() not in response.content
