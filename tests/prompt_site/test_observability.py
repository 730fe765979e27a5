"""Health, readiness and metrics, and the lean path the SCIM API takes past the admin's middleware."""
from __future__ import annotations

import socket
from urllib.parse import quote_plus

import pytest
from django.test import Client
from prometheus_client import REGISTRY

from tests.scim_api.conftest import USERS, entra_user, patch_op
from tests.scim_api.test_faults import unreachable_database

pytestmark = pytest.mark.django_db


def test_healthz_and_readyz_answer_without_authentication_or_cookies(client):
    for path in ("/healthz", "/readyz"):
        response = client.get(path)
        assert (response.status_code, response.json()) == (200, {"status": "ok"})
        assert not response.cookies
        assert "no-cache" in response["Cache-Control"]


def test_readyz_fails_when_the_database_is_down(client, tmp_path):
    with unreachable_database(tmp_path):
        response = client.get("/readyz")

    assert (response.status_code, response.json()) == (503, {"status": "unavailable"})
    assert client.get("/healthz").status_code == 200


def test_readyz_fails_when_the_cache_is_down(client, settings):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": f"redis://127.0.0.1:{port}/0"}
    }

    response = client.get("/readyz")

    assert (response.status_code, response.json()) == (503, {"status": "unavailable"})


def test_health_checks_are_exempt_from_the_https_redirect(client, settings):
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/healthz").status_code == 200
    assert client.get("/admin/login/").status_code == 301


def test_metrics_do_not_exist_unless_configured(client, settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS = "", []

    assert client.get("/metrics").status_code == 404


def test_metrics_need_the_token_or_an_allowed_network(client, settings):
    settings.METRICS_TOKEN = "scrape-token"

    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    allowed = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token")
    assert allowed.status_code == 200
    assert allowed["Content-Type"].startswith("text/plain")

    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS = "", ["10.0.0.0/8", "127.0.0.0/8"]
    assert client.get("/metrics").status_code == 200
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert client.get("/metrics").status_code == 404


ALICE = quote_plus('userName eq "alice@contoso.com"')


def count(method: str, outcome: str, kind: str) -> float:
    labels = {"method": method, "outcome": outcome, "kind": kind}
    return REGISTRY.get_sample_value("prompt_scim_requests_total", labels) or 0.0


def test_metrics_count_a_request_of_each_kind(scim_client, settings):
    settings.METRICS_TOKEN = "scrape-token"
    kinds = [
        ("POST", "2xx", "create"),
        ("GET", "2xx", "lookup"),
        ("GET", "2xx", "list"),
        ("GET", "2xx", "read"),
        ("PATCH", "2xx", "update"),
        ("PATCH", "2xx", "deactivate"),
        ("DELETE", "2xx", "delete"),
        ("GET", "2xx", "discovery"),
        ("GET", "4xx", "read"),
    ]
    before = {labels: count(*labels) for labels in kinds}

    created = scim_client.post(USERS, entra_user("alice@contoso.com")).json()
    path = f"{USERS}/{created['id']}"
    scim_client.get(f"{USERS}?filter={ALICE}")
    scim_client.get(USERS)
    scim_client.get(path)
    scim_client.patch(path, patch_op({"op": "Replace", "path": "displayName", "value": "A"}))
    scim_client.patch(path, patch_op({"op": "Replace", "path": "active", "value": "False"}))
    scim_client.delete(path)
    scim_client.get("/api/authentication/scim/ServiceProviderConfig")
    scim_client.get(path)  # deleted: 404

    assert {labels: count(*labels) - before[labels] for labels in kinds} == {labels: 1.0 for labels in kinds}
    exposed = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token").content.decode()
    assert 'prompt_scim_requests_total{kind="create",method="POST",outcome="2xx"}' in exposed
    assert "prompt_scim_request_duration_seconds_bucket" in exposed
    assert "alice" not in exposed and "organisation" not in exposed


def test_the_scim_api_skips_the_admins_middleware(scim_client):
    response = scim_client.get(USERS)

    assert response.status_code == 200
    # Neither a session, CSRF, frame options nor CSP ran for it.
    assert not response.cookies
    for header in ("X-Frame-Options", "Content-Security-Policy", "Vary"):
        assert header not in response.headers


def test_the_admin_keeps_every_protection(db):
    browser = Client(enforce_csrf_checks=True)

    page = browser.get("/admin/login/")
    assert page["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in page["Content-Security-Policy"]
    assert "csrftoken" in page.cookies
    # A POST without the CSRF token is refused.
    assert browser.post("/admin/login/", {"username": "x", "password": "y"}).status_code == 403
    assert browser.get("/admin/").status_code == 302  # the session's signed-out person is sent to log in


def test_an_unknown_path_under_the_prefix_is_left_to_the_site(client):
    assert client.get("/api/authentication/scimfoo").status_code == 404
    assert client.get("/healthzz").status_code == 404
