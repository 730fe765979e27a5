"""A provisioned person signs in with Microsoft in a real browser; a SCIM deactivation signs them out."""
from __future__ import annotations

import pytest
import requests

from scim_provisioning.models import ScimUser
from tests.factories import UserFactory
from tests.sso.fixtures import fake_idp, fake_idp_server  # noqa: F401 - fixtures used below


@pytest.mark.browser
def test_signed_in_person_is_signed_out_by_scim_deactivation(
    live_server, transactional_db, organisation, provisioning_code, fake_idp, browser_page  # noqa: F811
):
    person = UserFactory(
        organisation=organisation,
        username="Ada.Lovelace@contoso.example",
        first_name="Ada",
        last_name="Lovelace",
        department=organisation.default_department,
        section=organisation.default_section,
    )
    scim_user = ScimUser.objects.create(user=person, external_id="ada")
    fake_idp.identity = {"preferred_username": "ada.lovelace@contoso.example", "name": "Ada Lovelace"}
    page = browser_page

    page.goto(f"{live_server.url}/")
    assert page.url == f"{live_server.url}/signin/"
    page.fill("input[name=email]", "ada.lovelace@contoso.example")
    page.click("button[type=submit]")

    page.wait_for_url(f"{live_server.url}/")
    assert page.locator("h1").inner_text() == "Welcome, Ada Lovelace"
    details = page.locator("dl").inner_text()
    assert organisation.name in details
    assert "Operations" in details and "Onboarding" in details
    assert fake_idp.requests["token"] == 1

    response = requests.patch(
        f"{live_server.url}/api/authentication/scim/Users/{scim_user.id}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
        },
        headers={
            "Authorization": f"Bearer {provisioning_code}",
            "Content-Type": "application/scim+json; charset=utf-8",
            # No keep-alive: the live server's thread for an idle connection would outlive the
            # test and touch the shared SQLite connection after the server stopped sharing it.
            "Connection": "close",
        },
        timeout=10,
    )
    assert response.status_code in (200, 204), response.text
    person.refresh_from_db()
    assert person.is_active is False

    page.reload()
    assert page.url == f"{live_server.url}/signin/"
    assert page.locator("h1").inner_text() == "Sign in to Prompt"
