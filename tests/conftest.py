"""Fixtures shared by the whole suite."""
from __future__ import annotations

import os
import shutil

import pytest
from django.test import Client

from scim_provisioning.codes import actions as code_actions

from .deployment import deployment  # noqa: F401 (the fixture, for every test that needs app processes)
from .factories import SYSTEM, provisioned_organisation


def pytest_collection_modifyitems(config, items):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    on_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://", "pgsql://"))
    skip_browser = pytest.mark.skip(reason="Chromium is not installed (apt-get install chromium)")
    skip_postgres = pytest.mark.skip(reason="needs DATABASE_URL pointing at PostgreSQL")
    for item in items:
        if "browser" in item.keywords and not chromium:
            item.add_marker(skip_browser)
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(skip_postgres)


@pytest.fixture(autouse=True)
def _empty_cache():
    """Start every test with an empty cache: failed-authentication counts must not carry over."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def organisation(db):
    """An organisation with Azure SSO, provisioning and defaults set up."""
    return provisioned_organisation()


@pytest.fixture
def provisioning_code(organisation) -> str:
    """The plaintext of a freshly issued code for ``organisation``."""
    _, plaintext = code_actions.provisioning_code_issue(acting=SYSTEM, organisation=organisation)
    return plaintext


class ScimClient(Client):
    """A test client that sends Entra's headers: the bearer code and SCIM JSON bodies."""

    def __init__(self, code: str, **defaults):
        super().__init__(HTTP_AUTHORIZATION=f"Bearer {code}", **defaults)

    def _scim(self, method: str, path: str, data=None, **extra):
        import json

        body = json.dumps(data) if data is not None and not isinstance(data, (str, bytes)) else data
        return getattr(super(), method)(
            path, data=body, content_type="application/scim+json; charset=utf-8", **extra
        )

    def post(self, path, data=None, **extra):
        return self._scim("post", path, data, **extra)

    def put(self, path, data=None, **extra):
        return self._scim("put", path, data, **extra)

    def patch(self, path, data=None, **extra):
        return self._scim("patch", path, data, **extra)


@pytest.fixture
def scim_client(provisioning_code) -> ScimClient:
    """A client authenticated as ``organisation``'s Entra ID."""
    return ScimClient(provisioning_code)
