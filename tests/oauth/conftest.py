"""Helpers for the token endpoint tests: token requests, OAuth clients and a local fake issuer."""
from __future__ import annotations

import base64
import time
import uuid
from urllib.parse import quote_plus, urlencode

import pytest
from django.core.cache import cache
from django.test import Client
from django.test.utils import override_settings

from scim_provisioning.oauth import actions as oauth_actions
from tests.factories import SYSTEM
from tests.sso.fake_idp import FakeIdentityProvider, SigningKey

TOKEN_URL = "/api/authentication/oauth2/token"
USERS = "/api/authentication/scim/Users"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
APPLICATION_ID = uuid.UUID("3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d")
OBJECT_ID = uuid.UUID("9a8b7c6d-5e4f-4321-8fed-cba987654321")


def basic(client_id: str, secret: str) -> str:
    credentials = f"{quote_plus(client_id)}:{quote_plus(secret)}"
    return "Basic " + base64.b64encode(credentials.encode()).decode()


def request_token(client: Client | None = None, *, authorization: str | None = None, **fields):
    """POST a form-encoded token request, as Entra's provisioning service does."""
    client = client or Client()
    extra = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    return client.post(
        TOKEN_URL, data=urlencode(fields, doseq=True), content_type="application/x-www-form-urlencoded", **extra
    )


def token_for(client_id: str, secret: str) -> str:
    response = request_token(grant_type="client_credentials", client_id=client_id, client_secret=secret)
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def scim_get(token: str, path: str = USERS + '?filter=userName eq "nobody@example.com"'):
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}").get(path)


@pytest.fixture
def client_secret(organisation):
    """(client_id, plaintext secret) of a secret issued for ``organisation``."""
    secret, plaintext = oauth_actions.oauth_client_secret_issue(acting=SYSTEM, organisation=organisation)
    return secret.client.client_id, plaintext


@pytest.fixture(scope="session")
def fake_issuer_server():
    issuer = FakeIdentityProvider(client_id="unused", client_secret="unused")
    issuer.start()
    yield issuer
    issuer.stop()


@pytest.fixture
def fake_issuer(fake_issuer_server):
    """The fake Microsoft identity platform, reset, with the site's AZURE_AUTHORITY pointed at it."""
    fake_issuer_server.reset()
    cache.clear()
    with override_settings(AZURE_AUTHORITY=fake_issuer_server.url):
        yield fake_issuer_server
    cache.clear()


@pytest.fixture
def federated(organisation, fake_issuer):
    """``organisation`` federated with the Entra application APPLICATION_ID / OBJECT_ID."""
    return oauth_actions.oauth_client_settings_save(
        acting=SYSTEM,
        organisation=organisation,
        wanted=oauth_actions.ClientSettings(application_id=APPLICATION_ID, object_id=OBJECT_ID),
    )


def entra_claims(organisation, **overrides) -> dict:
    """The claims of the app-only token Entra presents as its assertion (a v2.0 access token)."""
    now = int(time.time())
    tenant = str(organisation.azure_tenant_id)
    claims = {
        "aud": str(APPLICATION_ID),
        "iss": f"{{authority}}/{tenant}/v2.0",
        "iat": now - 60,
        "nbf": now - 60,
        "exp": now + 3000,
        "sub": str(OBJECT_ID),
        "oid": str(OBJECT_ID),
        "tid": tenant,
        "azp": str(uuid.uuid4()),
        "ver": "2.0",
        "jti": uuid.uuid4().hex,
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def assertion(issuer: FakeIdentityProvider, organisation, *, key: SigningKey | None = None, kid: str | None = None, **overrides) -> str:
    claims = entra_claims(organisation, **overrides)
    if isinstance(claims.get("iss"), str):
        claims["iss"] = claims["iss"].replace("{authority}", issuer.url)
    return (key or issuer.keys[0]).sign(claims, kid=kid)


def exchange(value: str, **fields):
    return request_token(
        grant_type="client_credentials", client_assertion_type=JWT_BEARER, client_assertion=value, **fields
    )
