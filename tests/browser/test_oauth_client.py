"""An organisation Admin sets up Entra ID's OAuth client on the Azure AD page, in a real browser."""
import re

import pytest
import requests

from organisations.models import Role
from scim_provisioning.models import OAuthClient, OAuthClientSecret
from tests.browser.conftest import ARTEFACTS, sign_in, watch
from tests.factories import TEST_PASSWORD, UserFactory, provisioned_organisation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

APPLICATION_ID = "3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
OBJECT_ID = "9a8b7c6d-5e4f-4321-8fed-cba987654321"


def test_admin_generates_a_secret_copies_it_federates_and_revokes(live_server, browser_context, browser_page):
    context, page = browser_context, browser_page
    organisation = provisioned_organisation(name="Contoso Council")
    admin = UserFactory(organisation=organisation, role=Role.ADMIN, username="admin@contoso.example")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    errors = watch(page)
    page.on("dialog", lambda dialog: dialog.accept())

    sign_in(page, live_server.url, admin, TEST_PASSWORD)
    page.goto(f"{live_server.url}/admin/organisations/organisation/{organisation.pk}/azure-ad/")

    panel = page.locator("#oauth-client-panel")
    assert panel.locator("#token-url").input_value() == f"{live_server.url}/api/authentication/oauth2/token"
    assert "Assigned when you generate the first client secret" in panel.inner_text()

    # Generate: the secret is shown once, with a copy button.
    panel.get_by_role("button", name="Generate client secret").click()
    secret_field = page.locator("#new-client-secret")
    secret = secret_field.input_value()
    assert re.fullmatch(r"pcs_[A-Za-z0-9_-]{43}", secret)
    client_id = page.locator("#client-id").input_value()
    assert client_id == OAuthClient.objects.get(organisation=organisation).client_id
    page.get_by_role("button", name="Copy client secret").click()
    page.locator("#oauth-client-panel .provisioning-feedback", has_text="Copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    page.get_by_role("button", name="Copy Client Identifier").click()
    assert page.evaluate("navigator.clipboard.readText()") == client_id
    page.screenshot(path=str(ARTEFACTS / "oauth-client-secret.png"), full_page=True)

    # Entra ID exchanges it for a token, which provisions.
    answer = requests.post(
        f"{live_server.url}/api/authentication/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    users = requests.get(
        f"{live_server.url}/api/authentication/scim/Users",
        headers={"Authorization": f"Bearer {answer.json()['access_token']}"},
        timeout=10,
    )
    assert users.status_code == 200

    # Reloaded, the page never shows the secret again, only its ending and its last use.
    page.goto(f"{live_server.url}/admin/organisations/organisation/{organisation.pk}/azure-ad/")
    assert page.locator("#new-client-secret").count() == 0
    assert secret not in page.content()
    row = page.locator("table.client-secrets tbody tr")
    assert f"…{secret[-4:]}" in row.inner_text()
    assert "Never" not in row.locator("td").nth(3).inner_text()

    # Federation with a bad ID is a form error that stores nothing; then a good one, with codes off.
    page.fill("#id_application_id", "not-a-guid")
    page.fill("#id_object_id", OBJECT_ID)
    page.get_by_role("button", name="Save OAuth client settings").click()
    assert "Enter the Application (client) ID as a GUID" in page.locator("#oauth-client-settings").inner_text()
    assert OAuthClient.objects.get().application_id is None
    page.fill("#id_application_id", APPLICATION_ID)
    page.uncheck("#id_accepts_code")
    page.get_by_role("button", name="Save OAuth client settings").click()
    page.locator(".messagelist", has_text="The OAuth client settings were saved.").wait_for()
    assert "no longer accepts the Provisioning Authentication Code" in page.locator("#provisioning-code-panel").inner_text()
    client = OAuthClient.objects.get()
    assert (str(client.application_id), str(client.object_id), client.accepts_code) == (APPLICATION_ID, OBJECT_ID, False)

    # Revoke the secret (after the confirmation): its token stops working at once.
    page.locator("table.client-secrets").get_by_role("button", name="Revoke").click()
    page.locator(".messagelist", has_text="was revoked, with its tokens").wait_for()
    assert OAuthClientSecret.objects.get().revoked_at is not None
    refused = requests.get(
        f"{live_server.url}/api/authentication/scim/Users",
        headers={"Authorization": f"Bearer {answer.json()['access_token']}"},
        timeout=10,
    )
    assert refused.status_code == 401

    assert page.evaluate("window.cspViolations") == []
    assert errors == []
