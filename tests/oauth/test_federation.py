"""Workload identity federation: Entra's signed assertion for a token, against a local fake issuer."""
from __future__ import annotations

import time
import uuid

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError

from organisations.azure_ad import AzureADSettings
from scim_provisioning.codes import actions as code_actions
from scim_provisioning.models import OAuthAccessToken, OAuthAssertionUse
from scim_provisioning.oauth import actions as oauth_actions
from tests.factories import SYSTEM, provisioned_organisation
from tests.sso.fake_idp import SigningKey

from .conftest import APPLICATION_ID, JWT_BEARER, OBJECT_ID, assertion, exchange, request_token, scim_get

pytestmark = pytest.mark.django_db

REFUSED = {
    "error": "invalid_client",
    "error_description": "The client assertion is not valid for any client whose organisation provisions users.",
}


def test_a_federated_assertion_gets_a_token_with_or_without_client_id(federated, fake_issuer, organisation):
    without = exchange(assertion(fake_issuer, organisation))
    assert without.status_code == 200, without.content
    assert without.json()["token_type"] == "Bearer"
    assert scim_get(without.json()["access_token"]).status_code == 200

    with_id = exchange(assertion(fake_issuer, organisation), client_id=federated.client_id)
    assert with_id.status_code == 200
    token = OAuthAccessToken.objects.order_by("-id").first()
    assert token.label == f"OAuth client …{federated.client_id[-4:]} (federated)"
    assert token.secret_id is None


def test_the_v1_issuer_form_is_accepted_too(federated, fake_issuer, organisation):
    issuer = f"{fake_issuer.url}/{organisation.azure_tenant_id}"
    assert exchange(assertion(fake_issuer, organisation, iss=issuer)).status_code == 200


def refusals(issuer, organisation):
    now = int(time.time())
    other_tenant = str(uuid.uuid4())
    return {
        "another tenant's issuer": {"iss": f"{issuer.url}/{other_tenant}/v2.0"},
        "a look-alike issuer": {"iss": f"{issuer.url}/{organisation.azure_tenant_id}/v2.0/extra"},
        "no issuer": {"iss": None},
        "another subject": {"sub": str(uuid.uuid4())},
        "no subject": {"sub": None},
        "another audience": {"aud": str(uuid.uuid4())},
        "no audience": {"aud": None},
        "another tid": {"tid": other_tenant},
        "expired beyond the leeway": {"exp": now - 400, "iat": now - 3000, "nbf": now - 3000},
        "not yet valid beyond the leeway": {"nbf": now + 400},
        "issued in the future": {"iat": now + 400, "nbf": now},
        "no exp": {"exp": None},
        "no iat": {"iat": None},
        "lives longer than an hour": {"iat": now - 60, "nbf": now - 60, "exp": now + 2 * 3600},
        "no jti": {"jti": None},
    }


@pytest.mark.parametrize(
    "case",
    [
        "another tenant's issuer",
        "a look-alike issuer",
        "no issuer",
        "another subject",
        "no subject",
        "another audience",
        "no audience",
        "another tid",
        "expired beyond the leeway",
        "not yet valid beyond the leeway",
        "issued in the future",
        "no exp",
        "no iat",
        "lives longer than an hour",
        "no jti",
    ],
)
def test_every_claim_rule_refuses(federated, fake_issuer, organisation, case):
    overrides = refusals(fake_issuer, organisation)[case]
    response = exchange(assertion(fake_issuer, organisation, **overrides), client_id=federated.client_id)
    assert response.status_code == 401, case
    assert response.json() == REFUSED
    assert not OAuthAccessToken.objects.exists()


def test_clock_skew_within_five_minutes_is_tolerated(federated, fake_issuer, organisation):
    now = int(time.time())
    response = exchange(assertion(fake_issuer, organisation, exp=now - 200, iat=now - 3500, nbf=now - 3500))
    assert response.status_code == 200


def test_a_forged_signature_an_unpublished_key_and_other_algorithms_are_refused(federated, fake_issuer, organisation):
    forged = assertion(fake_issuer, organisation, key=SigningKey(), kid=fake_issuer.keys[0].kid)
    unpublished = assertion(fake_issuer, organisation, key=SigningKey())
    good = assertion(fake_issuer, organisation)
    header, payload, signature = good.split(".")
    tampered = f"{header}.{payload[:-4]}AAAA.{signature}"
    none_alg = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + payload + "."
    for value in (forged, unpublished, tampered, none_alg, "not-a-jwt", "a.b.c"):
        response = exchange(value, client_id=federated.client_id)
        assert response.status_code == 401, value[:20]
        assert response.json()["error"] == "invalid_client"
    assert exchange(good).status_code == 200


def test_an_assertion_is_single_use(federated, fake_issuer, organisation):
    value = assertion(fake_issuer, organisation)
    assert exchange(value).status_code == 200
    replay = exchange(value)
    assert replay.status_code == 401
    assert OAuthAccessToken.objects.count() == 1
    assert OAuthAssertionUse.objects.count() == 1


def test_a_rolled_key_is_fetched_once_and_unknown_kids_do_not_flood_the_key_server(federated, fake_issuer, organisation):
    assert exchange(assertion(fake_issuer, organisation)).status_code == 200
    assert fake_issuer.requests["jwks"] == 1
    assert exchange(assertion(fake_issuer, organisation)).status_code == 200
    assert fake_issuer.requests["jwks"] == 1  # cached

    # The tenant rolls its keys: the new kid is unknown, so the keys are fetched again.
    cache_entry = next(iter(_key_cache_entries()))
    _age(cache_entry, seconds=120)
    new_key = fake_issuer.rotate_keys()
    assert exchange(assertion(fake_issuer, organisation, key=new_key)).status_code == 200
    assert fake_issuer.requests["jwks"] == 2
    # Made-up kids right after a fetch do not make the site fetch again.
    for _ in range(3):
        assert exchange(assertion(fake_issuer, organisation, key=SigningKey())).status_code == 401
    assert fake_issuer.requests["jwks"] == 2


def _key_cache_entries():
    from scim_provisioning.oauth import federation

    return [federation._cache_key(federation.keys_url(uuid.UUID(str(t)))) for t in _tenants()]


def _tenants():
    from organisations.models import Organisation

    return {o.azure_tenant_id for o in Organisation.objects.exclude(azure_tenant_id=None)}


def _age(key: str, *, seconds: int) -> None:
    entry = cache.get(key)
    entry["fetched"] -= seconds
    cache.set(key, entry, 3600)


def test_an_unreachable_key_server_with_cached_keys_keeps_working(federated, fake_issuer, organisation):
    assert exchange(assertion(fake_issuer, organisation)).status_code == 200
    _age(_key_cache_entries()[0], seconds=2 * 24 * 3600)  # stale: due for a refresh
    fake_issuer.stop()
    try:
        assert exchange(assertion(fake_issuer, organisation)).status_code == 200
    finally:
        fake_issuer.start()


def test_no_keys_at_all_is_a_retryable_503(federated, fake_issuer, organisation):
    value = assertion(fake_issuer, organisation)
    fake_issuer.stop()
    try:
        response = exchange(value)
    finally:
        fake_issuer.start()
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert int(response["Retry-After"]) > 0
    assert not OAuthAssertionUse.objects.exists()


def test_federation_is_pinned_to_the_tenancy_id_and_ends_when_it_changes(federated, fake_issuer, organisation):
    token = exchange(assertion(fake_issuer, organisation)).json()["access_token"]
    assert scim_get(token).status_code == 200
    new_tenant = uuid.uuid4()
    settings = AzureADSettings.of(organisation)
    code_actions.azure_ad_settings_save(
        acting=SYSTEM,
        organisation=organisation,
        settings=AzureADSettings(**{**settings.__dict__, "azure_tenant_id": new_tenant}),
    )
    # The token verified against the old tenant dies, and the old tenant's assertions are refused.
    assert scim_get(token).status_code == 401
    assert exchange(assertion(fake_issuer, organisation, iss=f"{fake_issuer.url}/6f9c1b2e-4d3a-4c8b-9e7f-1a2b3c4d5e6f/v2.0", tid="6f9c1b2e-4d3a-4c8b-9e7f-1a2b3c4d5e6f")).status_code == 401
    organisation.refresh_from_db()
    assert exchange(assertion(fake_issuer, organisation)).status_code == 200


def test_changing_or_ending_federation_ends_its_tokens(federated, fake_issuer, organisation):
    token = exchange(assertion(fake_issuer, organisation)).json()["access_token"]
    oauth_actions.oauth_client_settings_save(
        acting=SYSTEM, organisation=organisation, wanted=oauth_actions.ClientSettings(None, None)
    )
    assert scim_get(token).status_code == 401
    assert exchange(assertion(fake_issuer, organisation)).status_code == 401


def test_one_application_federates_one_organisation(federated, fake_issuer):
    other = provisioned_organisation(name="Fabrikam")
    with pytest.raises(ValidationError) as refused:
        oauth_actions.oauth_client_settings_save(
            acting=SYSTEM,
            organisation=other,
            wanted=oauth_actions.ClientSettings(application_id=APPLICATION_ID, object_id=OBJECT_ID),
        )
    assert "object_id" in refused.value.message_dict


def test_another_organisations_client_id_cannot_be_borrowed(federated, fake_issuer, organisation):
    # Fabrikam has its own client; an assertion for Contoso's application names Fabrikam's client.
    other = provisioned_organisation(name="Fabrikam")
    secret, _ = oauth_actions.oauth_client_secret_issue(acting=SYSTEM, organisation=other)
    response = exchange(assertion(fake_issuer, organisation), client_id=secret.client.client_id)
    assert response.status_code == 401
    assert not OAuthAccessToken.objects.exists()


def test_federation_needs_the_tenancy_id(organisation, fake_issuer):
    with pytest.raises(ValidationError) as refused:
        oauth_actions.oauth_client_settings_save(
            acting=SYSTEM,
            organisation=_without_tenant(organisation),
            wanted=oauth_actions.ClientSettings(application_id=APPLICATION_ID, object_id=OBJECT_ID),
        )
    assert "application_id" in refused.value.message_dict


def _without_tenant(organisation):
    from organisations.models import Organisation

    Organisation.objects.filter(pk=organisation.pk).update(azure_tenant_id=None, azure_sso_enabled=False)
    return Organisation.objects.get(pk=organisation.pk)


def test_a_secret_and_federation_work_side_by_side(federated, fake_issuer, organisation):
    secret, plaintext = oauth_actions.oauth_client_secret_issue(acting=SYSTEM, organisation=organisation)
    by_secret = request_token(grant_type="client_credentials", client_id=federated.client_id, client_secret=plaintext)
    by_assertion = exchange(assertion(fake_issuer, organisation))
    assert by_secret.status_code == by_assertion.status_code == 200
    assert {t.secret_id for t in OAuthAccessToken.objects.all()} == {secret.pk, None}


def test_the_assertion_type_must_be_jwt_bearer(federated, fake_issuer, organisation):
    response = request_token(
        grant_type="client_credentials",
        client_assertion_type=JWT_BEARER.replace("jwt", "saml2"),
        client_assertion=assertion(fake_issuer, organisation),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
