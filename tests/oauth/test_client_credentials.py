"""OAuth 2.0 client credentials through the real token endpoint and SCIM API."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.test.utils import override_settings
from django.utils import timezone

from organisations.azure_ad import AzureADSettings
from scim_provisioning.codes import actions as code_actions
from scim_provisioning.models import OAuthAccessToken, OAuthClientSecret, ScimRequest
from scim_provisioning.oauth import actions as oauth_actions
from tests.conftest import ScimClient
from tests.factories import SYSTEM, UserFactory, provisioned_organisation
from tests.scim_api.conftest import entra_user

from .conftest import TOKEN_URL, USERS, basic, request_token, scim_get, token_for

pytestmark = pytest.mark.django_db

INVALID_CLIENT = (
    "The client credentials are not valid, or automated user provisioning is not enabled for the client's organisation."
)
EXPIRED_TOKEN = (
    "The access token is not valid or has expired, or automated user provisioning is not enabled for its "
    "organisation. Request a new token."
)


def test_basic_credentials_get_a_bearer_token_that_provisions(client_secret, organisation):
    client_id, secret = client_secret
    response = request_token(authorization=basic(client_id, secret), grant_type="client_credentials")

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    token = body["access_token"]
    # Only the digest is stored.
    assert not OAuthAccessToken.objects.filter(digest=token).exists()
    assert OAuthAccessToken.objects.get().expires_at == pytest.approx(timezone.now() + timedelta(hours=1), abs=timedelta(seconds=30))

    created = ScimClient(token).post(USERS, entra_user("alice@contoso.com"))
    assert created.status_code == 201, created.content
    assert created.json()["userName"] == "alice@contoso.com"
    user = organisation.users.get(username="alice@contoso.com")
    assert user.department_id == organisation.default_department_id


def test_form_credentials_get_a_token_too(client_secret):
    client_id, secret = client_secret
    response = request_token(grant_type="client_credentials", client_id=client_id, client_secret=secret)
    assert response.status_code == 200
    assert scim_get(response.json()["access_token"]).status_code == 200


def test_a_wrong_secret_is_invalid_client_with_a_basic_challenge_only_when_basic_was_tried(client_secret):
    client_id, secret = client_secret
    by_form = request_token(grant_type="client_credentials", client_id=client_id, client_secret=secret + "x")
    assert by_form.status_code == 401
    assert by_form.json() == {"error": "invalid_client", "error_description": INVALID_CLIENT}
    assert "WWW-Authenticate" not in by_form
    assert by_form["Cache-Control"] == "no-store"

    by_basic = request_token(authorization=basic(client_id, secret[:-1]), grant_type="client_credentials")
    assert by_basic.status_code == 401
    assert by_basic.json()["error"] == "invalid_client"
    assert by_basic["WWW-Authenticate"].startswith('Basic realm="Prompt SCIM"')
    assert not OAuthAccessToken.objects.exists()


def test_an_unknown_client_is_the_same_invalid_client(client_secret):
    _, secret = client_secret
    response = request_token(grant_type="client_credentials", client_id="0" * 32, client_secret=secret)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client", "error_description": INVALID_CLIENT}


def test_another_organisations_secret_never_authenticates_this_client(client_secret):
    client_id, _ = client_secret
    other = provisioned_organisation(name="Fabrikam")
    _, other_secret = oauth_actions.oauth_client_secret_issue(acting=SYSTEM, organisation=other)
    response = request_token(grant_type="client_credentials", client_id=client_id, client_secret=other_secret)
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("fields", "content_type", "status", "error"),
    [
        ({"grant_type": "password", "username": "a", "password": "b"}, "application/x-www-form-urlencoded", 400, "unsupported_grant_type"),
        ({"client_id": "a", "client_secret": "b"}, "application/x-www-form-urlencoded", 400, "invalid_request"),
        ({"grant_type": "client_credentials", "client_id": "a", "client_secret": "b"}, "application/json", 400, "invalid_request"),
    ],
)
def test_malformed_requests_are_rfc_6749_errors(fields, content_type, status, error):
    if content_type == "application/json":
        response = Client().post(TOKEN_URL, data=json.dumps(fields), content_type=content_type)
    else:
        response = request_token(**fields)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.json()["error_description"]
    assert response["Cache-Control"] == "no-store"


def test_only_post_is_allowed():
    response = Client().get(TOKEN_URL)
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(("configured", "expected"), [(60, 3600), (3600, 3600), (7200, 7200), (21600, 21600), (86400, 21600)])
def test_expires_in_follows_the_setting_within_entras_accepted_range(client_secret, configured, expected):
    client_id, secret = client_secret
    with override_settings(PROVISIONING_ACCESS_TOKEN_SECONDS=configured):
        response = request_token(grant_type="client_credentials", client_id=client_id, client_secret=secret)
    assert response.json()["expires_in"] == expected
    token = OAuthAccessToken.objects.get()
    assert (token.expires_at - token.created_at).total_seconds() == pytest.approx(expected, abs=5)


def test_an_expired_token_is_refused_at_once(client_secret):
    token = token_for(*client_secret)
    assert scim_get(token).status_code == 200
    OAuthAccessToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = scim_get(token)
    assert response.status_code == 401
    assert response.json()["detail"] == EXPIRED_TOKEN


def test_revoking_the_client_ends_a_token_during_its_life(client_secret, organisation):
    token = token_for(*client_secret)
    assert scim_get(token).status_code == 200
    revocation = oauth_actions.oauth_client_revoke(acting=SYSTEM, organisation=organisation)
    assert (revocation.secrets, revocation.tokens) == (1, 1)
    assert scim_get(token).status_code == 401
    # And the secret no longer gets a new one.
    client_id, secret = client_secret
    assert request_token(grant_type="client_credentials", client_id=client_id, client_secret=secret).status_code == 401


def test_switching_provisioning_off_refuses_tokens_and_the_endpoint(client_secret, organisation):
    token = token_for(*client_secret)
    organisation.provisioning_enabled = False
    organisation.save()
    assert scim_get(token).status_code == 401
    client_id, secret = client_secret
    assert request_token(grant_type="client_credentials", client_id=client_id, client_secret=secret).status_code == 401


def test_two_secrets_work_side_by_side_and_a_third_waits_for_a_revocation(client_secret, organisation):
    client_id, first = client_secret
    second_secret, second = oauth_actions.oauth_client_secret_issue(acting=SYSTEM, organisation=organisation)
    assert second_secret.client.client_id == client_id
    first_token, second_token = token_for(client_id, first), token_for(client_id, second)
    assert scim_get(first_token).status_code == scim_get(second_token).status_code == 200

    with pytest.raises(oauth_actions.TooManySecretsError):
        oauth_actions.oauth_client_secret_issue(acting=SYSTEM, organisation=organisation)
    assert OAuthClientSecret.objects.count() == 2

    first_record = OAuthClientSecret.objects.exclude(pk=second_secret.pk).get()
    oauth_actions.oauth_client_secret_revoke(acting=SYSTEM, organisation=organisation, secret_id=first_record.pk)
    # The revoked secret's tokens end with it; the other secret's keep working.
    assert scim_get(first_token).status_code == 401
    assert scim_get(second_token).status_code == 200
    assert request_token(grant_type="client_credentials", client_id=client_id, client_secret=first).status_code == 401
    third_secret, _ = oauth_actions.oauth_client_secret_issue(acting=SYSTEM, organisation=organisation)
    assert third_secret.pk


def test_an_expired_secret_gets_no_token(client_secret):
    client_id, secret = client_secret
    OAuthClientSecret.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    assert request_token(grant_type="client_credentials", client_id=client_id, client_secret=secret).status_code == 401


def test_secrets_expire_after_the_configured_days(organisation):
    with override_settings(PROVISIONING_CLIENT_SECRET_DAYS=30):
        secret, _ = oauth_actions.oauth_client_secret_issue(acting=SYSTEM, organisation=organisation)
    assert secret.expires_at == pytest.approx(timezone.now() + timedelta(days=30), abs=timedelta(minutes=1))


def test_a_token_reaches_its_organisation_only(client_secret):
    other = provisioned_organisation(name="Fabrikam")
    stranger = UserFactory(organisation=other, username="bob@fabrikam.com")
    _, other_code = code_actions.provisioning_code_issue(acting=SYSTEM, organisation=other)
    created = ScimClient(other_code).post(USERS, entra_user("carol@fabrikam.com")).json()

    token = token_for(*client_secret)
    client = ScimClient(token)
    assert client.get(f"{USERS}/{created['id']}").status_code == 404
    listed = client.get(f'{USERS}?filter=userName eq "carol@fabrikam.com"').json()
    assert listed["totalResults"] == 0
    assert client.patch(
        f"{USERS}/{created['id']}",
        {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "active", "value": False}]},
    ).status_code == 404
    stranger.refresh_from_db()
    assert stranger.is_active


def test_the_code_can_be_turned_off_once_oauth_works(client_secret, organisation, provisioning_code):
    token = token_for(*client_secret)
    assert ScimClient(provisioning_code).get(USERS).status_code == 200
    oauth_actions.oauth_client_settings_save(
        acting=SYSTEM, organisation=organisation, wanted=oauth_actions.ClientSettings(None, None, accepts_code=False)
    )
    assert ScimClient(provisioning_code).get(USERS).status_code == 401
    assert scim_get(token).status_code == 200
    # Revoking the client brings the code back rather than locking Entra out.
    oauth_actions.oauth_client_revoke(acting=SYSTEM, organisation=organisation)
    assert ScimClient(provisioning_code).get(USERS).status_code == 200


def test_the_code_cannot_be_turned_off_before_oauth_is_set_up(organisation, provisioning_code):
    with pytest.raises(ValidationError) as refused:
        oauth_actions.oauth_client_settings_save(
            acting=SYSTEM, organisation=organisation, wanted=oauth_actions.ClientSettings(None, None, accepts_code=False)
        )
    assert "accepts_code" in refused.value.message_dict
    assert ScimClient(provisioning_code).get(USERS).status_code == 200


def test_activity_names_the_oauth_client_and_failed_token_requests(client_secret, organisation):
    client_id, secret = client_secret
    token = token_for(client_id, secret)
    scim_get(token)
    request_token(grant_type="client_credentials", client_id=client_id, client_secret="pcs_wrong")
    records = list(ScimRequest.objects.filter(organisation=organisation).order_by("created_at", "id"))
    label = f"OAuth client …{secret[-4:]}"
    assert [(r.path, r.status, r.credential) for r in records] == [
        ("/oauth2/token", 200, label),
        ("/Users", 200, label),
        ("/oauth2/token", 401, ""),
    ]
    assert records[2].detail == "wrong, expired or revoked client secret"


def test_failed_client_authentications_share_the_code_throttle(client_secret):
    client_id, secret = client_secret
    with override_settings(SCIM_AUTH_FAILURE_LIMIT=3):
        statuses = [
            request_token(grant_type="client_credentials", client_id=client_id, client_secret="pcs_wrong").status_code,
            Client(HTTP_AUTHORIZATION="Bearer pscim_" + "x" * 43).get(USERS).status_code,
            request_token(authorization=basic(client_id, "nope"), grant_type="client_credentials").status_code,
        ]
        throttled = request_token(grant_type="client_credentials", client_id=client_id, client_secret="pcs_wrong")
        # A right secret is never held up by other callers' failures from the same address.
        allowed = request_token(grant_type="client_credentials", client_id=client_id, client_secret=secret)
    assert statuses == [401, 401, 401]
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) >= 1
    assert throttled.json()["error"] == "invalid_client"
    assert allowed.status_code == 200


def test_a_client_keeps_a_bounded_number_of_live_tokens(client_secret):
    first = token_for(*client_secret)
    for _ in range(oauth_actions.MAX_LIVE_TOKENS):
        latest = token_for(*client_secret)
    assert scim_get(first).status_code == 401
    assert scim_get(latest).status_code == 200
    assert OAuthAccessToken.objects.filter(revoked_at__isnull=True).count() == oauth_actions.MAX_LIVE_TOKENS


def test_saving_the_azure_ad_settings_leaves_the_client_alone(client_secret, organisation):
    token = token_for(*client_secret)
    settings = AzureADSettings.of(organisation)
    code_actions.azure_ad_settings_save(acting=SYSTEM, organisation=organisation, settings=settings)
    assert scim_get(token).status_code == 200
