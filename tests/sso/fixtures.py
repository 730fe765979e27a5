"""Fixtures for sign-in with Microsoft: the fake provider and a helper that walks the flow."""
from __future__ import annotations

import pytest
import requests
from django.core.cache import cache
from django.test import Client
from django.test.utils import override_settings

from .fake_idp import FakeIdentityProvider

CLIENT_ID = "5d7c2a4e-0b1f-4e8a-9c3d-2f6e8a1b4c7d"
CLIENT_SECRET = "fake-idp-client-secret"
OTHER_TENANT = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


@pytest.fixture(scope="session")
def fake_idp_server():
    """One fake provider on a random loopback port for the whole run."""
    idp = FakeIdentityProvider(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    idp.start()
    yield idp
    idp.stop()


@pytest.fixture
def fake_idp(fake_idp_server):
    """The fake provider, freshly reset, with the site pointed at it and empty caches."""
    fake_idp_server.reset()
    cache.clear()
    with override_settings(
        AZURE_AUTHORITY=fake_idp_server.url, AZURE_CLIENT_ID=CLIENT_ID, AZURE_CLIENT_SECRET=CLIENT_SECRET
    ):
        yield fake_idp_server
    cache.clear()


def provider_callback(start):
    """Follow a sign-in start response through the fake provider; return the callback path."""
    assert start.status_code == 302, start.content
    answer = requests.get(start["Location"], allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    prefix = "http://testserver/signin/microsoft/callback/?"
    assert location.startswith(prefix), location
    return location.removeprefix("http://testserver")


def sign_in(client: Client, *, email: str | None = None, organisation=None):
    """Start sign-in by email or organisation link, pass the fake provider, return the callback response."""
    if organisation is not None:
        start = client.post(f"/signin/{organisation.slug}/")
    else:
        start = client.post("/signin/", {"email": email})
    return client.get(provider_callback(start))
