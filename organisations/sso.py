"""Sign-in with Microsoft: OpenID Connect against each organisation's Entra ID tenant.

One multi-tenant app registration serves the whole site; the organisation's Tenancy ID picks the
tenant. The flow is the authorization-code flow with PKCE (S256), ``state`` and ``nonce``.
Authlib's OAuth2 client builds the authorization request and redeems the code; joserfc (Authlib's
JOSE library) verifies the ID token. Nothing is ever created here: provisioning creates users.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core.cache import cache
from django.db.models import Q
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet

from . import roles
from .access import Actor, reach
from .domains import domain_owner
from .models import Organisation, User
from .usernames import address_key, domain_of

logger = logging.getLogger(__name__)

SCOPE = "openid profile email"
# Entra ID signs ID tokens with RS256; accepting nothing else rules out "none" and HMAC tricks.
ALGORITHMS = ["RS256"]
# Clock skew tolerated on exp, nbf and iat.
LEEWAY_SECONDS = 120
# How long the metadata of a tenant is trusted before it is fetched again.
METADATA_CACHE_SECONDS = 24 * 60 * 60
HTTP_TIMEOUT_SECONDS = 10
# A sign-in not completed within this time must start again.
FLOW_MAX_AGE_SECONDS = 10 * 60
# Sign-ins started in other tabs of the same browser, kept so each can complete.
FLOW_MAX_PENDING = 5
SESSION_KEY = "sso_flows"
BACKEND = "django.contrib.auth.backends.ModelBackend"


class SignInError(Exception):
    """A refused sign-in: ``reason`` is logged, ``message`` is shown to the person."""

    status = 403
    reason = "refused"
    default_message = "You could not be signed in."
    # Whether the refusal page may name the organisation (and link to its own sign-in page).
    shows_organisation = True

    def __init__(self, message: str | None = None, *, organisation: Organisation | None = None, detail: str = ""):
        self.message = message or self.default_message
        self.organisation = organisation
        self.detail = detail
        super().__init__(self.message)


class NotConfiguredError(SignInError):
    status = 503
    reason = "not_configured"
    default_message = "Sign-in with Microsoft is not set up on this site yet. Please contact your administrator."


class AddressNotRoutedError(SignInError):
    """/signin/ found no organisation to send an address to; the same answer whatever the reason."""

    status = 404
    reason = "address_not_routed"
    shows_organisation = False
    default_message = (
        "We could not start sign-in with Microsoft for that address. Check the address, or use the "
        "sign-in link your organisation gave you."
    )


class SsoNotEnabledError(SignInError):
    reason = "sso_not_enabled"
    default_message = "Sign-in with Microsoft is not enabled for your organisation. Please contact your administrator."


class ProviderUnavailableError(SignInError):
    status = 502
    reason = "provider_unavailable"
    default_message = "Microsoft could not be reached to sign you in. Please try again in a few minutes."


class InvalidCallbackError(SignInError):
    status = 400
    reason = "invalid_callback"
    default_message = (
        "This sign-in link has expired or has already been used. Please start again from the sign-in page."
    )


class ProviderRefusedError(SignInError):
    status = 400
    reason = "provider_refused"
    default_message = "Microsoft did not complete the sign-in. Please start again from the sign-in page."


class InvalidTokenError(SignInError):
    reason = "invalid_token"
    default_message = "Microsoft's answer could not be verified, so you have not been signed in."


class WrongTenantError(SignInError):
    reason = "wrong_tenant"
    default_message = (
        "You signed in with a Microsoft account from a different organisation. Sign in with your work "
        "account for this organisation."
    )


class UnknownUserError(SignInError):
    """No person this tenant may sign in matches the token: unknown, or a Prompt or Agency Admin."""

    reason = "unknown_user"
    default_message = (
        "Your Microsoft account cannot sign in to Prompt for this organisation. Accounts are created by "
        "your organisation's user provisioning; please contact your administrator. Prompt Admins and "
        "Agency Admins sign in with their password at /admin/."
    )


class InactiveUserError(SignInError):
    reason = "inactive_user"
    default_message = "Your Prompt account has been deactivated. Please contact your administrator."


@dataclass(frozen=True)
class ProviderMetadata:
    """The endpoints and issuer of one tenant, from its discovery document."""

    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    issuer: str


# --- Configuration ---------------------------------------------------------------------------


def _client_credentials() -> tuple[str, str]:
    client_id = settings.AZURE_CLIENT_ID
    client_secret = settings.AZURE_CLIENT_SECRET
    if not client_id or not client_secret:
        raise NotConfiguredError(detail="AZURE_CLIENT_ID or AZURE_CLIENT_SECRET is not set")
    return client_id, client_secret


def organisation_tenant(*, organisation: Organisation) -> str:
    """Return the Tenancy ID sign-in uses for ``organisation``, or refuse if SSO is off."""
    if not organisation.azure_sso_enabled or not organisation.azure_tenant_id:
        raise SsoNotEnabledError(
            f"Sign-in with Microsoft is not enabled for {organisation.name}. Please contact your administrator.",
            organisation=organisation,
            detail="disabled" if not organisation.azure_sso_enabled else "no Tenancy ID",
        )
    return str(organisation.azure_tenant_id).lower()


# --- Tenant metadata and keys (cached) -------------------------------------------------------


def _cache_key(kind: str, value: str) -> str:
    # Hashed so that any URL makes a key every cache backend accepts.
    return f"sso:{kind}:{hashlib.sha256(value.encode()).hexdigest()}"


def _get_json(url: str, *, organisation: Organisation) -> dict[str, Any]:
    try:
        response = requests.get(url, timeout=HTTP_TIMEOUT_SECONDS)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as error:
        raise ProviderUnavailableError(organisation=organisation, detail=f"{url}: {type(error).__name__}") from error
    if not isinstance(document, dict):
        raise ProviderUnavailableError(organisation=organisation, detail=f"{url}: not a JSON object")
    return document


def provider_metadata(*, organisation: Organisation) -> ProviderMetadata:
    """Return the tenant's OpenID configuration, from the cache or its discovery document."""
    tenant = organisation_tenant(organisation=organisation)
    authority = settings.AZURE_AUTHORITY.rstrip("/")
    url = f"{authority}/{tenant}/v2.0/.well-known/openid-configuration"
    key = _cache_key("discovery", url)
    document = cache.get(key)
    if document is None:
        document = _get_json(url, organisation=organisation)
        fields = ("authorization_endpoint", "token_endpoint", "jwks_uri", "issuer")
        if not all(isinstance(document.get(name), str) and document[name] for name in fields):
            raise ProviderUnavailableError(organisation=organisation, detail=f"{url}: incomplete discovery document")
        document = {name: document[name] for name in fields}
        cache.set(key, document, METADATA_CACHE_SECONDS)
    # Multi-tenant discovery documents publish "{tenantid}" in the issuer; the token of this
    # organisation must come from its own tenant, so the placeholder becomes that tenant.
    return ProviderMetadata(
        authorization_endpoint=document["authorization_endpoint"],
        token_endpoint=document["token_endpoint"],
        jwks_uri=document["jwks_uri"],
        issuer=document["issuer"].replace("{tenantid}", tenant),
    )


def _signing_keys(jwks_uri: str, *, organisation: Organisation, refresh: bool = False) -> KeySet:
    key = _cache_key("jwks", jwks_uri)
    document = None if refresh else cache.get(key)
    if document is None:
        document = _get_json(jwks_uri, organisation=organisation)
        try:
            keys = KeySet.import_key_set(document)
        except (JoseError, KeyError, TypeError, ValueError) as error:
            raise ProviderUnavailableError(organisation=organisation, detail=f"{jwks_uri}: unusable JWKS") from error
        cache.set(key, document, METADATA_CACHE_SECONDS)
        return keys
    return KeySet.import_key_set(document)


# --- The flow --------------------------------------------------------------------------------


def _pending_flows(session: SessionBase) -> dict[str, dict[str, Any]]:
    now = time.time()
    flows = session.get(SESSION_KEY, {})
    return {state: flow for state, flow in flows.items() if now - flow["started"] < FLOW_MAX_AGE_SECONDS}


def signin_begin(*, organisation: Organisation, session: SessionBase, redirect_uri: str, login_hint: str = "") -> str:
    """Remember a new sign-in in the session and return the tenant's authorization URL."""
    client_id, _ = _client_credentials()
    metadata = provider_metadata(organisation=organisation)
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    code_verifier = secrets.token_urlsafe(64)

    flows = _pending_flows(session)
    while len(flows) >= FLOW_MAX_PENDING:
        del flows[min(flows, key=lambda pending: flows[pending]["started"])]
    flows[state] = {
        "organisation": organisation.pk,
        "nonce": nonce,
        "code_verifier": code_verifier,
        "redirect_uri": redirect_uri,
        "started": time.time(),
    }
    session[SESSION_KEY] = flows

    extra = {"login_hint": login_hint} if login_hint else {}
    with OAuth2Session(client_id, scope=SCOPE, redirect_uri=redirect_uri, code_challenge_method="S256") as client:
        url, _ = client.create_authorization_url(
            metadata.authorization_endpoint,
            state=state,
            code_verifier=code_verifier,
            nonce=nonce,
            response_mode="query",
            **extra,
        )
    return url


def signin_complete(*, session: SessionBase, params: dict[str, str]) -> User:
    """Verify the provider's answer to a sign-in started in this session and return the user.

    The pending sign-in is removed from the session before anything else, so a callback, its
    state and its nonce work once only.
    """
    state = params.get("state", "")
    flows = _pending_flows(session)
    flow = flows.pop(state, None) if state else None
    session[SESSION_KEY] = flows
    if flow is None:
        raise InvalidCallbackError(detail="unknown, expired or already used state")

    organisation = Organisation.objects.filter(pk=flow["organisation"]).first()
    if organisation is None:
        raise InvalidCallbackError(detail="organisation no longer exists")
    # Re-checked: SSO may have been switched off since the sign-in started.
    tenant = organisation_tenant(organisation=organisation)

    if params.get("error"):
        raise ProviderRefusedError(
            organisation=organisation, detail=f"{params['error'][:50]!r}: {params.get('error_description', '')[:200]!r}"
        )
    code = params.get("code", "")
    if not code:
        raise InvalidCallbackError(organisation=organisation, detail="no code")

    id_token = _redeem_code(organisation=organisation, code=code, flow=flow)
    claims = _verified_claims(organisation=organisation, id_token=id_token, nonce=flow["nonce"], tenant=tenant)
    return _user_for_claims(organisation=organisation, claims=claims)


def _redeem_code(*, organisation: Organisation, code: str, flow: dict[str, Any]) -> str:
    client_id, client_secret = _client_credentials()
    metadata = provider_metadata(organisation=organisation)
    # Entra ID documents the client secret in the form body (client_secret_post).
    client = OAuth2Session(
        client_id,
        client_secret,
        token_endpoint_auth_method="client_secret_post",
        redirect_uri=flow["redirect_uri"],
    )
    try:
        with client:
            token = client.fetch_token(
                metadata.token_endpoint,
                grant_type="authorization_code",
                code=code,
                code_verifier=flow["code_verifier"],
                timeout=HTTP_TIMEOUT_SECONDS,
            )
    except OAuthError as error:
        raise ProviderRefusedError(organisation=organisation, detail=f"token endpoint: {error.error!r}") from error
    except (requests.RequestException, ValueError) as error:
        raise ProviderUnavailableError(
            organisation=organisation, detail=f"token endpoint: {type(error).__name__}"
        ) from error
    id_token = token.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise InvalidTokenError(organisation=organisation, detail="no id_token in the token response")
    return id_token


def _verified_claims(*, organisation: Organisation, id_token: str, nonce: str, tenant: str) -> dict[str, Any]:
    client_id, _ = _client_credentials()
    metadata = provider_metadata(organisation=organisation)
    keys = _signing_keys(metadata.jwks_uri, organisation=organisation)
    try:
        try:
            token = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
        except InvalidKeyIdError:
            # The tenant rolled its keys since they were cached: fetch them again, once.
            keys = _signing_keys(metadata.jwks_uri, organisation=organisation, refresh=True)
            token = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
    except InvalidKeyIdError as error:
        raise InvalidTokenError(organisation=organisation, detail="signed with an unknown key") from error
    except BadSignatureError as error:
        raise InvalidTokenError(organisation=organisation, detail="bad signature") from error
    except (JoseError, ValueError) as error:
        raise InvalidTokenError(organisation=organisation, detail=f"malformed: {type(error).__name__}") from error

    registry = jwt.JWTClaimsRegistry(
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": metadata.issuer},
        aud={"essential": True, "value": client_id},
        exp={"essential": True},
        iat={"essential": True},
        tid={"essential": True},
        nonce={"essential": True},
    )
    claims = token.claims
    try:
        registry.validate(claims)
    except ExpiredTokenError as error:
        raise InvalidTokenError(organisation=organisation, detail="expired") from error
    except (InvalidClaimError, MissingClaimError) as error:
        raise InvalidTokenError(organisation=organisation, detail=f"claim {error.claim}: {error.error}") from error
    # Compared in constant time and outside the registry so a mismatch names itself in the log.
    if not isinstance(claims["nonce"], str) or not hmac.compare_digest(claims["nonce"], nonce):
        raise InvalidTokenError(organisation=organisation, detail="nonce does not match this sign-in")
    if not isinstance(claims["tid"], str) or claims["tid"].lower() != tenant:
        raise WrongTenantError(organisation=organisation, detail="tid is not the organisation's Tenancy ID")
    return claims


def _user_for_claims(*, organisation: Organisation, claims: dict[str, Any]) -> User:
    # The tenant's administrator controls these claims, so only the people its organisation's
    # own Admin could manage are candidates (organisations.access): never a Prompt Admin or an
    # Agency Admin, never anyone of another organisation.
    username = claims.get("preferred_username") if isinstance(claims.get("preferred_username"), str) else ""
    email = claims.get("email") if isinstance(claims.get("email"), str) else ""
    users = reach(Actor.tenant(organisation=organisation)).people()
    user = users.filter(username_key=address_key(username)).first() if address_key(username) else None
    email_key = address_key(email)
    if user is None and email_key:
        # Fallback when the sign-in name differs from the provisioned userName, and only when the
        # address names exactly one such person.
        matches = list(users.filter(Q(username_key=email_key) | Q(email_key=email_key))[:2])
        user = matches[0] if len(matches) == 1 else None
    if user is None:
        raise UnknownUserError(organisation=organisation, detail="no person of the organisation matches the token")
    if not user.is_active:
        raise InactiveUserError(organisation=organisation, detail=f"user {user.username!r} is inactive")
    return user


# --- Finding the organisation from an email address ------------------------------------------


def organisation_for_email(*, email: str) -> Organisation:
    """Return the organisation to sign in an address with, deterministically, or refuse.

    In order: the organisation of the person whose sign-in name it is; of the only active person
    with that email address; the organisation that claimed its domain. Only people who may sign
    in with Microsoft count, and an organisation without Azure SSO is refused the same way as an
    unknown address, so the answer tells nobody who exists.
    """
    key = address_key(email)
    # A deactivated person is still sent to their tenant: Microsoft's answer tells them, and
    # only them, why they cannot sign in.
    can_sign_in = User.objects.filter(
        organisation__isnull=False, role__in=roles.CAPABILITIES[roles.TENANT].reached_roles
    ).select_related("organisation")
    holder = can_sign_in.filter(username_key=key).first() if key else None
    organisation = holder.organisation if holder else None
    if organisation is None and key:
        holders = list(User.objects.filter(email_key=key, is_active=True).values_list("pk", flat=True)[:2])
        if len(holders) == 1:
            holder = can_sign_in.filter(pk=holders[0], is_active=True).first()
            organisation = holder.organisation if holder else None
    if organisation is None:
        organisation = domain_owner(domain=domain_of(email))
    if organisation is None:
        raise AddressNotRoutedError(detail="no person, email or claimed domain for the address")
    try:
        organisation_tenant(organisation=organisation)
    except SsoNotEnabledError as error:
        raise AddressNotRoutedError(organisation=organisation, detail=f"routed, but {error.detail}") from None
    return organisation


def signin_refusal_log(*, error: SignInError, organisation: Organisation | None = None) -> None:
    """Record a refused sign-in (never with tokens, codes or secrets)."""
    organisation = error.organisation or organisation
    logger.warning(
        "Sign-in with Microsoft refused: reason=%s organisation=%s detail=%s",
        error.reason,
        organisation.slug if organisation else "-",
        error.detail or "-",
    )
