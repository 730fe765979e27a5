"""The Azure AD page's OAuth client part, through the admin as each kind of admin uses it."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from organisations.models import AuditEvent, Role
from scim_provisioning.models import OAuthClient, OAuthClientSecret
from scim_provisioning.oauth import actions as oauth_actions
from tests.admin_forms import signed_in
from tests.factories import SYSTEM, UserFactory, provisioned_organisation

from .conftest import APPLICATION_ID, OBJECT_ID, request_token

pytestmark = pytest.mark.django_db


def url(organisation, name: str = "azure_ad", **kwargs) -> str:
    return reverse(f"admin:organisations_organisation_{name}", kwargs={"id": organisation.pk, **kwargs})


@pytest.fixture
def admin(organisation):
    return signed_in(UserFactory(organisation=organisation, role=Role.ADMIN))


def test_the_page_shows_the_token_endpoint_and_how_to_start(admin, organisation):
    page = admin.get(url(organisation)).content.decode()
    assert 'value="http://testserver/api/authentication/oauth2/token"' in page
    assert "Assigned when you generate the first client secret" in page
    assert 'value="Generate client secret"' in page


def test_generating_shows_the_secret_once_and_it_authenticates(admin, organisation):
    response = admin.post(url(organisation, "azure_ad_client_secret_generate"))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    secret = re.search(r'id="new-client-secret" class="[^"]+" value="(pcs_[^"]+)"', page).group(1)
    client = OAuthClient.objects.get(organisation=organisation)
    assert f'value="{client.client_id}"' in page
    assert OAuthClientSecret.objects.get().digest != secret
    assert request_token(grant_type="client_credentials", client_id=client.client_id, client_secret=secret).status_code == 200

    again = admin.get(url(organisation)).content.decode()
    assert secret not in again
    assert f"…{secret[-4:]}" in again
    event = AuditEvent.objects.get(action="client.secret_issued")
    assert event.actor_user is not None and secret not in event.target_label


def test_two_secrets_then_the_button_gives_way_to_advice(admin, organisation):
    admin.post(url(organisation, "azure_ad_client_secret_generate"))
    admin.post(url(organisation, "azure_ad_client_secret_generate"))
    third = admin.post(url(organisation, "azure_ad_client_secret_generate"), follow=True)
    assert OAuthClientSecret.objects.count() == 2
    assert "Two client secrets are active already" in third.content.decode()
    assert "revoke the older one to generate another" in admin.get(url(organisation)).content.decode()


def test_a_secret_near_expiry_is_flagged(admin, organisation):
    secret, _ = oauth_actions.oauth_client_secret_issue(acting=SYSTEM, organisation=organisation)
    assert "secret-expiry-warning" not in admin.get(url(organisation)).content.decode()
    OAuthClientSecret.objects.update(expires_at=timezone.now() + timedelta(days=20))
    page = admin.get(url(organisation)).content.decode()
    assert 'class="expiring"' in page
    assert "generate a new secret and paste it into Entra ID" in page


def test_revoking_a_secret_from_the_page(admin, organisation):
    secret, plaintext = oauth_actions.oauth_client_secret_issue(acting=SYSTEM, organisation=organisation)
    response = admin.post(url(organisation, "azure_ad_client_secret_revoke", secret_id=secret.pk), follow=True)
    assert f"The client secret ending {secret.last_characters} was revoked" in response.content.decode()
    secret.refresh_from_db()
    assert secret.revoked_at is not None
    assert request_token(
        grant_type="client_credentials", client_id=secret.client.client_id, client_secret=plaintext
    ).status_code == 401


def test_federation_settings_save_and_refuse_bad_input_storing_nothing(admin, organisation):
    bad = admin.post(
        url(organisation, "azure_ad_client_settings"),
        {"application_id": "not-a-guid", "object_id": str(OBJECT_ID), "accepts_code": "on"},
    )
    assert bad.status_code == 200
    assert "Enter the Application (client) ID as a GUID" in bad.content.decode()
    half = admin.post(url(organisation, "azure_ad_client_settings"), {"application_id": str(APPLICATION_ID), "accepts_code": "on"})
    assert "Enter both the Application (client) ID and the Object ID, or neither." in half.content.decode()
    code_off = admin.post(url(organisation, "azure_ad_client_settings"), {})
    assert "Keep accepting the code until Entra ID uses OAuth" in code_off.content.decode()
    assert not OAuthClient.objects.filter(application_id__isnull=False).exists()
    assert OAuthClient.objects.filter(accepts_code=False).count() == 0

    good = admin.post(
        url(organisation, "azure_ad_client_settings"),
        {"application_id": str(APPLICATION_ID).upper(), "object_id": str(OBJECT_ID)},
        follow=True,
    )
    assert "The OAuth client settings were saved." in good.content.decode()
    client = OAuthClient.objects.get(organisation=organisation)
    assert (client.application_id, client.object_id, client.accepts_code) == (APPLICATION_ID, OBJECT_ID, False)
    assert "no longer accepts the Provisioning Authentication Code" in good.content.decode()
    event = AuditEvent.objects.get(action="client.updated")
    assert event.changes["Application (client) ID"] == [None, str(APPLICATION_ID)]


def test_revoking_the_client_from_the_page(admin, organisation):
    oauth_actions.oauth_client_secret_issue(acting=SYSTEM, organisation=organisation)
    response = admin.post(url(organisation, "azure_ad_client_revoke"), follow=True)
    assert "Revoked 1 client secret(s) and 0 access token(s)" in response.content.decode()
    assert not OAuthClientSecret.objects.filter(revoked_at__isnull=True).exists()


def test_another_organisations_admin_reaches_none_of_it(organisation):
    other = provisioned_organisation(name="Fabrikam")
    outsider = signed_in(UserFactory(organisation=other, role=Role.ADMIN))
    secret, _ = oauth_actions.oauth_client_secret_issue(acting=SYSTEM, organisation=organisation)
    for name, kwargs in (
        ("azure_ad_client_secret_generate", {}),
        ("azure_ad_client_secret_revoke", {"secret_id": secret.pk}),
        ("azure_ad_client_settings", {}),
        ("azure_ad_client_revoke", {}),
    ):
        assert outsider.post(url(organisation, name, **kwargs), {"accepts_code": "on"}).status_code == 404, name
    # Nor another organisation's secret through its own page.
    assert outsider.post(url(other, "azure_ad_client_secret_revoke", secret_id=secret.pk), follow=True).status_code == 200
    secret.refresh_from_db()
    assert secret.revoked_at is None
    assert OAuthClientSecret.objects.count() == 1


def test_a_person_without_an_admin_role_cannot_use_it(organisation):
    person = signed_in(UserFactory(organisation=organisation, role=Role.NONE))
    response = person.post(url(organisation, "azure_ad_client_secret_generate"))
    assert response.status_code in (302, 403, 404)
    assert not OAuthClientSecret.objects.exists()
