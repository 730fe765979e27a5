"""Sign-in with Microsoft, end to end against the fake provider over real HTTP."""
from __future__ import annotations

import base64
import hashlib
import logging
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from organisations.models import Role, SignInDomain
from tests.factories import OrganisationFactory, UserFactory, provisioned_organisation

from .fake_idp import SigningKey
from .fixtures import CLIENT_ID, OTHER_TENANT, provider_callback, sign_in

pytestmark = pytest.mark.django_db

TENANT = "6f9c1b2e-4d3a-4c8b-9e7f-1a2b3c4d5e6f"  # provisioned_organisation()'s Tenancy ID


@pytest.fixture
def person(organisation):
    return UserFactory(
        organisation=organisation,
        username="Ada.Lovelace@contoso.example",
        email="ada@contoso.example",
        first_name="Ada",
        last_name="Lovelace",
        department=organisation.default_department,
        section=organisation.default_section,
    )


@pytest.fixture
def idp(fake_idp, person):
    # Entra sends the sign-in name in its own case; matching ignores case.
    fake_idp.identity = {"preferred_username": "ada.lovelace@CONTOSO.example", "name": "Ada Lovelace"}
    return fake_idp


def signed_in_user_id(client: Client):
    return client.session.get("_auth_user_id")


def message_of(response) -> str:
    match = re.search(r'<p class="message">(.*?)</p>', response.content.decode(), re.S)
    assert match, response.content.decode()
    return match.group(1)


UNKNOWN_USER = (
    "Your Microsoft account cannot sign in to Prompt for this organisation. Accounts are created by "
    "your organisation&#x27;s user provisioning; please contact your administrator. Prompt Admins and "
    "Agency Admins sign in with their password at /admin/."
)
NOT_ROUTED = (
    "We could not start sign-in with Microsoft for that address. Check the address, or use the "
    "sign-in link your organisation gave you."
)


def refusals(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "organisations.sso" and r.levelno == logging.WARNING]


# --- Success ---------------------------------------------------------------------------------


def test_sign_in_by_email_lands_on_home_page(client, idp, person, organisation):
    response = sign_in(client, email="ADA.LOVELACE@contoso.example")

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert signed_in_user_id(client) == str(person.pk)
    home = client.get("/")
    assert home.status_code == 200
    # Personal details are not kept by the browser's cache for the back button after sign-out.
    assert "no-store" in home["Cache-Control"]
    body = home.content.decode()
    assert re.search(r"<dt>Name</dt><dd>Ada Lovelace</dd>", body)
    assert f"<dt>Organisation</dt><dd>{organisation.name}</dd>" in body
    assert "<dt>Department</dt><dd>Operations</dd>" in body
    assert "<dt>Section</dt><dd>Onboarding</dd>" in body
    assert 'action="/signout/"' in body
    assert "/admin/" not in body


def test_authorization_request_uses_pkce_state_nonce_and_tenant(client, idp, person):
    start = client.post("/signin/", {"email": "ada.lovelace@contoso.example"})

    url = urlsplit(start["Location"])
    assert f"{url.scheme}://{url.netloc}" == idp.url
    assert url.path == f"/{TENANT}/oauth2/v2.0/authorize"
    params = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert set(params) == {
        "response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
        "code_challenge", "code_challenge_method", "response_mode", "login_hint",
    }
    assert params["response_type"] == "code"
    assert params["client_id"] == CLIENT_ID
    assert params["redirect_uri"] == "http://testserver/signin/microsoft/callback/"
    assert params["scope"] == "openid profile email"
    assert params["code_challenge_method"] == "S256"
    assert params["response_mode"] == "query"
    assert params["login_hint"] == "ada.lovelace@contoso.example"
    assert len(params["state"]) >= 43 and len(params["nonce"]) >= 43

    client.get(provider_callback(start))
    token_request = idp.token_params[-1]
    # The verifier sent to the token endpoint is the one behind the challenge, and the secret travels in the body.
    digest = hashlib.sha256(token_request["code_verifier"].encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == params["code_challenge"]
    assert token_request["client_secret"] == "fake-idp-client-secret"
    assert signed_in_user_id(client) is not None


def test_sign_in_from_organisation_link(client, idp, person, organisation):
    page = client.get(f"/signin/{organisation.slug}/")
    assert page.status_code == 200
    assert organisation.name in page.content.decode()
    assert f'action="/signin/{organisation.slug}/"' in page.content.decode()

    response = sign_in(client, organisation=organisation)

    assert response.status_code == 302 and response["Location"] == "/"
    assert signed_in_user_id(client) == str(person.pk)
    assert "login_hint" not in idp.authorize_params[-1]


def test_falls_back_to_email_claim_when_sign_in_name_differs(client, idp, person):
    idp.identity = {"preferred_username": "alovelace@contoso.onmicrosoft.example", "email": "Ada@Contoso.example"}

    response = sign_in(client, email="ada.lovelace@contoso.example")

    assert response.status_code == 302
    assert signed_in_user_id(client) == str(person.pk)


def test_unknown_address_of_a_claimed_domain_goes_to_its_owner(client, idp, person, organisation):
    # The address typed need not be the sign-in name: Microsoft's answer decides who signs in.
    SignInDomain.objects.create(organisation=organisation, domain="contoso.example")

    start = client.post("/signin/", {"email": "ada.alias@contoso.example"})

    assert start.status_code == 302
    assert urlsplit(start["Location"]).path == f"/{TENANT}/oauth2/v2.0/authorize"
    response = client.get(provider_callback(start))
    assert response.status_code == 302
    assert signed_in_user_id(client) == str(person.pk)


def test_admin_role_sees_the_admin_link(client, idp, person):
    person.role = Role.ADMIN
    person.save()

    sign_in(client, email=person.username)

    assert '<a class="button" href="/admin/">Administration</a>' in client.get("/").content.decode()


def test_discovery_is_fetched_once_per_tenant(client, idp, person):
    sign_in(client, email=person.username)
    sign_in(Client(), email=person.username)

    assert idp.requests["discovery"] == 1
    assert idp.requests["jwks"] == 1
    assert idp.requests["token"] == 2


def test_anonymous_home_redirects_to_sign_in(client, db):
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/signin/"
    page = client.get("/signin/")
    assert page.status_code == 200
    assert '<input type="email" name="email"' in page.content.decode()


def test_sign_out_is_a_post_and_ends_the_session(client, idp, person):
    sign_in(client, email=person.username)

    assert client.get("/signout/").status_code == 405
    assert signed_in_user_id(client) is not None
    response = client.post("/signout/")

    assert response.status_code == 200
    assert "You have signed out" in response.content.decode()
    assert client.get("/")["Location"] == "/signin/"


# --- Refusals from the ID token ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "detail"),
    [
        (lambda now: {"aud": "another-application"}, "claim aud"),
        (lambda now: {"exp": now - 600, "iat": now - 4200, "nbf": now - 4200}, "expired"),
        (lambda now: {"iat": now + 3600}, "claim iat"),
        (lambda now: {"nbf": now + 3600}, "claim nbf"),
        (lambda now: {"iss": f"https://login.microsoftonline.com/{OTHER_TENANT}/v2.0"}, "claim iss"),
        (lambda now: {"nonce": None}, "claim nonce"),
        (lambda now: {"tid": None}, "claim tid"),
        (lambda now: {"nonce": "a-nonce-from-another-sign-in"}, "nonce does not match"),
    ],
    ids=["wrong-audience", "expired", "issued-in-future", "not-yet-valid", "wrong-issuer", "no-nonce", "no-tid", "wrong-nonce"],
)
def test_token_with_bad_claims_is_refused(client, idp, person, organisation, caplog, overrides, detail):
    idp.claim_overrides = overrides(int(time.time()))

    response = sign_in(client, email=person.username)

    assert response.status_code == 403
    assert message_of(response) == "Microsoft&#x27;s answer could not be verified, so you have not been signed in."
    assert signed_in_user_id(client) is None
    [record] = refusals(caplog)
    assert record.startswith(f"Sign-in with Microsoft refused: reason=invalid_token organisation={organisation.slug} detail=")
    assert detail in record


def test_small_clock_skew_is_tolerated(client, idp, person):
    idp.claim_overrides = {"iat": int(time.time()) + 30, "nbf": int(time.time()) + 30}

    assert sign_in(client, email=person.username).status_code == 302
    assert signed_in_user_id(client) == str(person.pk)


def test_wrong_tenant_is_refused(client, idp, person, organisation, caplog):
    idp.claim_overrides = {"tid": OTHER_TENANT}

    response = sign_in(client, email=person.username)

    assert response.status_code == 403
    assert message_of(response) == (
        "You signed in with a Microsoft account from a different organisation. Sign in with your work "
        "account for this organisation."
    )
    assert signed_in_user_id(client) is None
    assert refusals(caplog) == [
        f"Sign-in with Microsoft refused: reason=wrong_tenant organisation={organisation.slug} "
        "detail=tid is not the organisation's Tenancy ID"
    ]


def test_bad_signature_is_refused(client, idp, person, organisation, caplog):
    idp.forged_key = SigningKey()

    response = sign_in(client, email=person.username)

    assert response.status_code == 403
    assert signed_in_user_id(client) is None
    assert refusals(caplog) == [
        f"Sign-in with Microsoft refused: reason=invalid_token organisation={organisation.slug} detail=bad signature"
    ]


def test_refusal_log_holds_no_code_or_token(client, idp, person, caplog):
    idp.claim_overrides = {"aud": "another-application"}
    start = client.post("/signin/", {"email": person.username})
    callback = provider_callback(start)
    code = parse_qs(urlsplit(callback).query)["code"][0]

    client.get(callback)

    [id_token] = idp.issued_id_tokens
    assert refusals(caplog)
    assert code not in caplog.text
    for segment in id_token.split("."):
        assert segment not in caplog.text
    assert "fake-idp-client-secret" not in caplog.text


# --- Replay ----------------------------------------------------------------------------------


def test_replayed_callback_is_refused(client, idp, person, organisation, caplog):
    start = client.post("/signin/", {"email": person.username})
    callback = provider_callback(start)
    assert client.get(callback).status_code == 302

    replay = client.get(callback)

    assert replay.status_code == 400
    assert message_of(replay) == (
        "This sign-in link has expired or has already been used. Please start again from the sign-in page."
    )
    # Refused before the code reaches Microsoft again.
    assert idp.requests["token"] == 1
    assert refusals(caplog)[-1] == (
        "Sign-in with Microsoft refused: reason=invalid_callback organisation=- "
        "detail=unknown, expired or already used state"
    )


def test_callback_in_another_browser_is_refused(client, idp, person):
    callback = provider_callback(client.post("/signin/", {"email": person.username}))

    response = Client().get(callback)

    assert response.status_code == 400
    assert idp.requests["token"] == 0


def test_callback_after_the_flow_expired_is_refused(client, idp, person):
    callback = provider_callback(client.post("/signin/", {"email": person.username}))
    session = client.session
    for flow in session["sso_flows"].values():
        flow["started"] -= 11 * 60
    session.save()

    assert client.get(callback).status_code == 400
    assert signed_in_user_id(client) is None


def test_callback_without_state_is_refused(client, idp):
    assert client.get("/signin/microsoft/callback/?code=abc").status_code == 400


# --- Refusals for the person -----------------------------------------------------------------


def test_unknown_user_is_refused_and_nothing_is_created(client, idp, person, organisation, caplog):
    from organisations.models import User

    idp.identity = {"preferred_username": "grace.hopper@contoso.example", "email": "grace@contoso.example"}
    users_before = User.objects.count()

    response = sign_in(client, email=person.username)

    assert response.status_code == 403
    assert message_of(response) == UNKNOWN_USER
    assert User.objects.count() == users_before
    assert signed_in_user_id(client) is None
    assert refusals(caplog) == [
        f"Sign-in with Microsoft refused: reason=unknown_user organisation={organisation.slug} "
        "detail=no person of the organisation matches the token"
    ]


def test_user_of_another_organisation_in_the_same_tenant_is_refused(client, idp, person, organisation):
    other = provisioned_organisation()
    stranger = UserFactory(organisation=other, username="grace.hopper@contoso.example")
    idp.identity = {"preferred_username": stranger.username}

    response = sign_in(client, organisation=organisation)

    assert response.status_code == 403
    assert signed_in_user_id(client) is None


def test_inactive_user_is_refused(client, idp, person, organisation, caplog):
    person.is_active = False
    person.save()

    response = sign_in(client, email=person.username)

    assert response.status_code == 403
    assert message_of(response) == "Your Prompt account has been deactivated. Please contact your administrator."
    assert signed_in_user_id(client) is None
    assert refusals(caplog) == [
        f"Sign-in with Microsoft refused: reason=inactive_user organisation={organisation.slug} "
        "detail=user 'Ada.Lovelace@contoso.example' is inactive"
    ]


def test_person_who_cancels_at_microsoft_is_refused(client, idp, person, organisation, caplog):
    idp.authorize_error = "access_denied"

    response = sign_in(client, email=person.username)

    assert response.status_code == 400
    assert message_of(response) == "Microsoft did not complete the sign-in. Please start again from the sign-in page."
    assert idp.requests["token"] == 0
    assert refusals(caplog) == [
        f"Sign-in with Microsoft refused: reason=provider_refused organisation={organisation.slug} "
        "detail='access_denied': 'The user cancelled.'"
    ]


# --- Organisations without sign-in with Microsoft ----------------------------------------------


def test_sso_disabled_is_refused_before_microsoft(client, fake_idp, caplog):
    organisation = OrganisationFactory(name="Fabrikam", azure_sso_enabled=False, azure_tenant_id=TENANT)
    UserFactory(organisation=organisation, username="sam@fabrikam.example")

    by_email = client.post("/signin/", {"email": "sam@fabrikam.example"})
    by_link = client.get(f"/signin/{organisation.slug}/")
    by_link_post = client.post(f"/signin/{organisation.slug}/")

    # The address route answers as for an unknown address; the organisation's own link may say why.
    assert (by_email.status_code, message_of(by_email)) == (404, NOT_ROUTED)
    assert organisation.slug not in by_email.content.decode()
    for response in (by_link, by_link_post):
        assert response.status_code == 403
        assert message_of(response) == (
            "Sign-in with Microsoft is not enabled for Fabrikam. Please contact your administrator."
        )
    assert sum(fake_idp.requests.values()) == 0
    assert refusals(caplog) == [
        f"Sign-in with Microsoft refused: reason=address_not_routed organisation={organisation.slug} "
        "detail=routed, but disabled",
        *[f"Sign-in with Microsoft refused: reason=sso_not_enabled organisation={organisation.slug} detail=disabled"] * 2,
    ]


def test_sso_without_tenancy_id_is_refused(client, fake_idp):
    organisation = OrganisationFactory(name="Fabrikam", azure_sso_enabled=True, azure_tenant_id=None)

    response = client.post(f"/signin/{organisation.slug}/")

    assert response.status_code == 403
    assert sum(fake_idp.requests.values()) == 0


def test_sso_disabled_during_sign_in_is_refused(client, idp, person, organisation):
    callback = provider_callback(client.post("/signin/", {"email": person.username}))
    organisation.azure_sso_enabled = False
    organisation.save()

    response = client.get(callback)

    assert response.status_code == 403
    assert idp.requests["token"] == 0
    assert signed_in_user_id(client) is None


def test_unknown_organisation_link_is_not_found(client, fake_idp, db):
    assert client.get("/signin/no-such-organisation/").status_code == 404


def test_unknown_domain_is_refused_with_a_clear_message(client, fake_idp, person, caplog):
    response = client.post("/signin/", {"email": "someone@elsewhere.example"})

    assert response.status_code == 404
    assert message_of(response) == NOT_ROUTED
    assert refusals(caplog) == [
        "Sign-in with Microsoft refused: reason=address_not_routed organisation=- "
        "detail=no person, email or claimed domain for the address"
    ]


def test_domain_shared_by_two_organisations_is_refused(client, fake_idp, person):
    UserFactory(organisation=provisioned_organisation(), username="bob@contoso.example")

    response = client.post("/signin/", {"email": "someone.new@contoso.example"})

    assert response.status_code == 404
    assert sum(fake_idp.requests.values()) == 0


def test_invalid_email_shows_the_form_again(client, db):
    response = client.post("/signin/", {"email": "not an address"})

    assert response.status_code == 400
    assert "Enter a valid email address." in response.content.decode()


# --- Site and provider problems ---------------------------------------------------------------


def test_site_without_client_credentials_refuses(client, fake_idp, person, settings):
    settings.AZURE_CLIENT_ID = ""

    response = client.post("/signin/", {"email": person.username})

    assert response.status_code == 503
    assert message_of(response) == (
        "Sign-in with Microsoft is not set up on this site yet. Please contact your administrator."
    )


def test_unreachable_provider_is_a_clear_error(client, fake_idp, person, settings):
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings.AZURE_AUTHORITY = f"http://127.0.0.1:{port}"

    response = client.post("/signin/", {"email": person.username})

    assert response.status_code == 502
    assert message_of(response) == "Microsoft could not be reached to sign you in. Please try again in a few minutes."


# --- Key rotation ------------------------------------------------------------------------------


def test_new_signing_key_refetches_the_keys_once(client, idp, person):
    assert sign_in(client, email=person.username).status_code == 302
    assert idp.requests["jwks"] == 1
    client.post("/signout/")

    idp.rotate_keys()
    response = sign_in(client, email=person.username)

    assert response.status_code == 302
    assert signed_in_user_id(client) == str(person.pk)
    assert idp.requests["jwks"] == 2

    # The refreshed keys are cached again: the next sign-in fetches nothing.
    client.post("/signout/")
    assert sign_in(client, email=person.username).status_code == 302
    assert idp.requests["jwks"] == 2


def test_key_unknown_even_after_refetch_is_refused(client, idp, person, organisation, caplog):
    assert sign_in(client, email=person.username).status_code == 302
    client.post("/signout/")
    idp.unpublished_key = SigningKey()

    response = sign_in(client, email=person.username)

    assert response.status_code == 403
    assert idp.requests["jwks"] == 2
    assert refusals(caplog) == [
        f"Sign-in with Microsoft refused: reason=invalid_token organisation={organisation.slug} "
        "detail=signed with an unknown key"
    ]


def test_code_refused_by_the_token_endpoint_is_refused(client, idp, person, organisation, settings, caplog):
    callback = provider_callback(client.post("/signin/", {"email": person.username}))
    settings.AZURE_CLIENT_SECRET = "a-revoked-secret"

    response = client.get(callback)

    assert response.status_code == 400
    assert message_of(response) == "Microsoft did not complete the sign-in. Please start again from the sign-in page."
    assert signed_in_user_id(client) is None
    assert refusals(caplog) == [
        f"Sign-in with Microsoft refused: reason=provider_refused organisation={organisation.slug} "
        "detail=token endpoint: 'invalid_client'"
    ]
    assert "a-revoked-secret" not in caplog.text
