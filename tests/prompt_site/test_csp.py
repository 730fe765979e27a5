"""Admin and sign-in pages send a Content-Security-Policy that allows nothing inline."""
from __future__ import annotations

import pytest

from organisations.models import Role
from tests.admin_forms import signed_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
}


def directives(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


@pytest.mark.parametrize("path", ["/signin/", "/admin/login/"])
def test_public_pages_send_the_policy(client, path, settings):
    found = directives(client.get(path))

    assert {name: found[name] for name in POLICY} == POLICY
    # Sign-in's form is redirected on to Microsoft, so forms may go there and nowhere else.
    assert found["form-action"] == f"'self' {settings.AZURE_AUTHORITY}"


def test_the_admin_sends_the_policy_and_no_inline_script_or_style(organisation):
    admin = UserFactory(organisation=organisation, role=Role.ADMIN)

    response = signed_in(admin).get(f"/admin/organisations/organisation/{organisation.pk}/azure-ad/")

    assert {name: directives(response)[name] for name in POLICY} == POLICY
    body = response.content.decode()
    assert "<style" not in body
    assert "<script>" not in body and " style=" not in body
