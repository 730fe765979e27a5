"""Writes on OAuth clients, their secrets and access tokens; shared by the page, the commands and the endpoint.

Managing a client is an Admin's (or above, or the system's) change to the organisation, like
managing its codes. Granting a token is the credential itself acting: a client secret or a
federated assertion exchanged for a token of the same organisation, never beyond it. Each
action owns its transaction; revocations update the rows every SCIM request reads, so they
take effect with the very next request in every process.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from organisations.access import Actor, NotInReachError, access_organisation, access_organisation_to_change
from organisations.audit import audit_record
from organisations.models import Organisation

from ..codes.actions import ProvisioningNotEnabledError
from ..models import OAuthAccessToken, OAuthAssertionUse, OAuthClient, OAuthClientSecret
from ..protocol import oauth as protocol
from . import federation, tokens

logger = logging.getLogger(__name__)

MAX_ACTIVE_SECRETS = 2
# Live tokens kept per client: Entra holds one at a time, and a leaked secret cannot grow the table.
MAX_LIVE_TOKENS = 20
LAST_USED_RESOLUTION = timedelta(minutes=1)
SECRET_NAME = "OAuth client secret"


class TooManySecretsError(Exception):
    """Two secrets are active already: one must be revoked before another is generated."""


def token_lifetime_seconds() -> int:
    """``PROVISIONING_ACCESS_TOKEN_SECONDS``, kept within Entra's accepted 60 to 360 minutes."""
    return min(max(int(settings.PROVISIONING_ACCESS_TOKEN_SECONDS), 3600), 21600)


def _client_for(organisation: Organisation) -> OAuthClient:
    client, _ = OAuthClient.objects.get_or_create(
        organisation=organisation, defaults={"client_id": tokens.generate_client_id()}
    )
    return client


def _revoke_tokens(tokens_qs, now) -> int:
    return tokens_qs.filter(revoked_at__isnull=True, expires_at__gt=now).update(revoked_at=now)


# --- managing the client (Admins and above, the system) --------------------------------------


@sensitive_variables("plaintext")
@transaction.atomic
def oauth_client_secret_issue(*, acting: Actor, organisation: Organisation) -> tuple[OAuthClientSecret, str]:
    """Generate a client secret (creating the client if needed); return it and its plaintext, shown once."""
    locked = access_organisation_to_change(acting=acting, organisation_id=organisation.pk, for_update=True)
    if not locked.provisioning_enabled:
        raise ProvisioningNotEnabledError(f"Automated User Provisioning is not enabled for {locked}.")
    client = _client_for(locked)
    now = timezone.now()
    if client.secrets.filter(tokens.active_secrets_q(now)).count() >= MAX_ACTIVE_SECRETS:
        raise TooManySecretsError(
            f"{locked} has {MAX_ACTIVE_SECRETS} active client secrets already: revoke the older one first."
        )
    plaintext = tokens.generate_secret()
    secret = OAuthClientSecret.objects.create(
        client=client,
        digest=tokens.secret_digest(plaintext),
        last_characters=plaintext[-tokens.LAST_CHARACTERS :],
        created_by=acting.user,
        expires_at=now + timedelta(days=settings.PROVISIONING_CLIENT_SECRET_DAYS),
    )
    audit_record(
        acting=acting,
        action="client.secret_issued",
        organisation_id=locked.pk,
        target_label=f"{SECRET_NAME} {secret}",
        note=f"Expires {secret.expires_at:%Y-%m-%d}.",
    )
    logger.info("Issued OAuth client secret …%s for organisation %s", secret.last_characters, locked.slug)
    return secret, plaintext


@transaction.atomic
def oauth_client_secret_revoke(*, acting: Actor, organisation: Organisation, secret_id: object) -> OAuthClientSecret:
    """Revoke one secret and every token granted for it; NotInReachError if it is not this organisation's."""
    locked = access_organisation_to_change(acting=acting, organisation_id=organisation.pk, for_update=True)
    now = timezone.now()
    secret = (
        OAuthClientSecret.objects.select_for_update()
        .filter(tokens.active_secrets_q(now), client__organisation=locked, pk=secret_id)
        .first()
    )
    if secret is None:
        raise NotInReachError("No such active client secret.")
    secret.revoked_at = now
    secret.save(update_fields=["revoked_at"])
    ended = _revoke_tokens(secret.access_tokens, now)
    audit_record(
        acting=acting,
        action="client.secret_revoked",
        organisation_id=locked.pk,
        target_label=f"{SECRET_NAME} {secret}",
        note=f"{ended} access token(s) ended with it." if ended else "",
    )
    return secret


@dataclass(frozen=True)
class ClientRevocation:
    secrets: int
    tokens: int
    federation: bool

    @property
    def anything(self) -> bool:
        return bool(self.secrets or self.tokens or self.federation)


@transaction.atomic
def oauth_client_revoke(*, acting: Actor, organisation: Organisation) -> ClientRevocation:
    """Revoke every secret and token of the organisation's client and end its federation."""
    locked = access_organisation_to_change(acting=acting, organisation_id=organisation.pk, for_update=True)
    client = OAuthClient.objects.select_for_update().filter(organisation=locked).first()
    if client is None:
        return ClientRevocation(0, 0, False)
    now = timezone.now()
    secrets = client.secrets.filter(tokens.active_secrets_q(now)).update(revoked_at=now)
    ended = _revoke_tokens(client.access_tokens, now)
    federated = client.federated
    if federated:
        client.application_id = client.object_id = None
    # Codes work again: with no OAuth credential left, refusing them would lock Entra out.
    client.accepts_code = True
    client.save(update_fields=["application_id", "object_id", "accepts_code"])
    revocation = ClientRevocation(secrets, ended, federated)
    if revocation.anything:
        audit_record(
            acting=acting,
            action="client.revoked",
            organisation_id=locked.pk,
            target_label=f"OAuth client {client.client_id}",
            note=f"{secrets} secret(s) and {ended} access token(s) revoked"
            + ("; workload identity federation ended." if federated else "."),
        )
    return revocation


@dataclass(frozen=True)
class ClientSettings:
    application_id: uuid.UUID | None
    object_id: uuid.UUID | None
    accepts_code: bool = True


def oauth_client_settings_errors(*, organisation: Organisation, client: OAuthClient | None, wanted: ClientSettings) -> dict[str, list[str]]:
    """Errors, by field, that make these client settings invalid for the organisation."""
    errors: dict[str, list[str]] = {}
    if (wanted.application_id is None) != (wanted.object_id is None):
        missing = "application_id" if wanted.application_id is None else "object_id"
        errors[missing] = ["Enter both the Application (client) ID and the Object ID, or neither."]
    federated = wanted.application_id is not None and wanted.object_id is not None
    if federated and organisation.azure_tenant_id is None:
        errors["application_id"] = ["Enter the Tenancy ID above first: assertions must come from that tenant."]
    if federated:
        taken = OAuthClient.objects.filter(application_id=wanted.application_id, object_id=wanted.object_id)
        if client is not None:
            taken = taken.exclude(pk=client.pk)
        if taken.exists():
            errors["object_id"] = ["This Entra application already provisions another organisation."]
    if not wanted.accepts_code:
        has_secret = client is not None and client.secrets.filter(tokens.active_secrets_q()).exists()
        if not (federated or has_secret):
            errors["accepts_code"] = [
                "Keep accepting the code until Entra ID uses OAuth: generate a client secret or set up "
                "workload identity federation first."
            ]
    return errors


@transaction.atomic
def oauth_client_settings_save(*, acting: Actor, organisation: Organisation, wanted: ClientSettings) -> OAuthClient:
    """Store federation and the code switch, or raise ValidationError (by field), storing nothing."""
    locked = access_organisation_to_change(acting=acting, organisation_id=organisation.pk, for_update=True)
    client = OAuthClient.objects.select_for_update().filter(organisation=locked).first()
    errors = oauth_client_settings_errors(organisation=locked, client=client, wanted=wanted)
    if errors:
        raise ValidationError(errors)
    client = client or _client_for(locked)
    before = {"application_id": client.application_id, "object_id": client.object_id, "accepts_code": client.accepts_code}
    after = {"application_id": wanted.application_id, "object_id": wanted.object_id, "accepts_code": wanted.accepts_code}
    changes = {
        str(OAuthClient._meta.get_field(name).verbose_name): [_shown(before[name]), _shown(after[name])]
        for name in before
        if before[name] != after[name]
    }
    if not changes:
        return client
    for name, value in after.items():
        setattr(client, name, value)
    try:
        with transaction.atomic():
            client.save(update_fields=list(after))
    except IntegrityError:
        # Another organisation took the application between the check and the write.
        raise ValidationError({"object_id": ["This Entra application already provisions another organisation."]}) from None
    note = ""
    if (before["application_id"], before["object_id"]) != (after["application_id"], after["object_id"]):
        # Tokens granted for the old application's assertions end with it.
        ended = _revoke_tokens(client.access_tokens.filter(secret__isnull=True), timezone.now())
        note = f"{ended} federated access token(s) ended." if ended else ""
    audit_record(
        acting=acting,
        action="client.updated",
        organisation_id=locked.pk,
        target_label=f"OAuth client {client.client_id}",
        changes=changes,
        note=note,
    )
    return client


def _shown(value):
    return str(value) if isinstance(value, uuid.UUID) else value


# --- the token endpoint (the credential itself) -----------------------------------------------


@dataclass(frozen=True)
class Grant:
    access_token: str
    expires_in: int
    organisation: Organisation
    label: str

    def __repr__(self) -> str:
        return f"Grant(label={self.label!r}, expires_in={self.expires_in})"


class ClientRefusedError(protocol.OAuthError):
    """invalid_client, with the organisation when the client is known (for its activity log)."""

    def __init__(self, description: str, *, basic: bool = False, organisation: Organisation | None = None, reason: str = ""):
        super().__init__("invalid_client", description, status=401, basic_challenge=basic)
        self.organisation = organisation
        self.reason = reason or description


def _client_with_organisation(**lookup) -> OAuthClient | None:
    return (
        OAuthClient.objects.select_related("organisation")
        .filter(organisation__provisioning_enabled=True, **lookup)
        .first()
    )


@sensitive_variables()
def _secret_client(authentication: protocol.ClientAuthentication, now) -> tuple[OAuthClient, OAuthClientSecret]:
    basic = authentication.method == protocol.BASIC
    client = _client_with_organisation(client_id=authentication.client_id)
    secret = None
    if client is not None:
        # Looked up by digest, so the time taken says nothing about how much of a secret is right.
        secret = (
            client.secrets.filter(tokens.active_secrets_q(now), digest=tokens.secret_digest(authentication.secret))
            .select_for_update()
            .first()
        )
    if secret is None:
        raise ClientRefusedError(
            "The client credentials are not valid, or automated user provisioning is not enabled for the client's organisation.",
            basic=basic,
            organisation=client.organisation if client else None,
            reason="wrong, expired or revoked client secret",
        )
    return client, secret


def _federated_client(authentication: protocol.ClientAuthentication, now) -> tuple[OAuthClient, dict]:
    refused = "The client assertion is not valid for any client whose organisation provisions users."
    try:
        if authentication.client_id:
            client = _client_with_organisation(client_id=authentication.client_id)
        else:
            # Only to choose the client: nothing from the assertion is trusted before it is verified.
            claims = federation.unverified_claims(authentication.assertion)
            client = _client_for_claims(claims)
    except federation.AssertionRefusedError as error:
        raise ClientRefusedError(refused, reason=error.reason) from None
    if client is None or not client.federated or client.organisation.azure_tenant_id is None:
        raise ClientRefusedError(
            refused, organisation=client.organisation if client else None, reason="no federation for this client"
        )
    setup = federation.Federation(
        tenant_id=client.organisation.azure_tenant_id,
        application_id=client.application_id,
        object_id=client.object_id,
    )
    try:
        claims = federation.verified_claims(authentication.assertion, setup, now=now.timestamp())
    except federation.AssertionRefusedError as error:
        raise ClientRefusedError(refused, organisation=client.organisation, reason=error.reason) from None
    try:
        with transaction.atomic():
            OAuthAssertionUse.objects.create(
                digest=federation.replay_digest(setup.tenant_id, claims["jti"]),
                organisation=client.organisation,
                expires_at=now + timedelta(seconds=max(0, claims["exp"] - now.timestamp()) + federation.LEEWAY_SECONDS),
            )
    except IntegrityError:
        raise ClientRefusedError(refused, organisation=client.organisation, reason="jti already used") from None
    return client, claims


def _client_for_claims(claims: dict) -> OAuthClient | None:
    audiences = claims.get("aud")
    audiences = audiences if isinstance(audiences, list) else [audiences]
    try:
        object_id = uuid.UUID(str(claims.get("sub")))
        application_ids = [uuid.UUID(str(audience)) for audience in audiences[:5] if isinstance(audience, str)]
    except ValueError:
        raise federation.AssertionRefusedError("sub or aud is not a GUID") from None
    if not application_ids:
        raise federation.AssertionRefusedError("no aud")
    return _client_with_organisation(object_id=object_id, application_id__in=application_ids)


@sensitive_variables("plaintext")
@transaction.atomic
def oauth_token_grant(*, authentication: protocol.ClientAuthentication) -> Grant:
    """Exchange a client secret or a federated assertion for an access token, or raise ClientRefusedError.

    Raises ``federation.KeysUnavailableError`` when the tenant's keys cannot be had at all.
    """
    now = timezone.now()
    if authentication.method == protocol.ASSERTION:
        client, _ = _federated_client(authentication, now)
        secret = None
        label = f"OAuth client …{client.client_id[-tokens.LAST_CHARACTERS:]} (federated)"
        tenant_id = client.organisation.azure_tenant_id
    else:
        client, secret = _secret_client(authentication, now)
        label = f"OAuth client …{secret.last_characters}"
        tenant_id = None
    acting = Actor.credential(organisation=client.organisation, label=f"Entra ID ({label})")
    # The credential acts for its own organisation, and the token it gets reaches no further.
    organisation = access_organisation(acting=acting, organisation_id=client.organisation_id)
    lifetime = token_lifetime_seconds()
    plaintext = tokens.generate_access_token()
    OAuthAccessToken.objects.create(
        organisation=organisation,
        client=client,
        secret=secret,
        digest=tokens.secret_digest(plaintext),
        label=label,
        tenant_id=tenant_id,
        expires_at=now + timedelta(seconds=lifetime),
    )
    if secret is not None and (secret.last_used_at is None or now - secret.last_used_at >= LAST_USED_RESOLUTION):
        OAuthClientSecret.objects.filter(pk=secret.pk).update(last_used_at=now)
    live = client.access_tokens.filter(tokens.live_tokens_q(now)).order_by("-created_at", "-id")
    surplus = list(live.values_list("pk", flat=True)[MAX_LIVE_TOKENS:])
    if surplus:
        OAuthAccessToken.objects.filter(pk__in=surplus).update(revoked_at=now)
    return Grant(access_token=plaintext, expires_in=lifetime, organisation=organisation, label=label)


def oauth_access_token_mark_used(*, token: OAuthAccessToken) -> None:
    """Note that a token authenticated a request (once a minute at most, like codes)."""
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    OAuthAccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now


def oauth_housekeeping(*, acting: Actor, now=None) -> tuple[int, int]:
    """Delete access tokens and assertion records past their expiry; return (tokens, assertions)."""
    from organisations.access import reach

    if not reach(acting).is_everything:
        raise NotInReachError("Only the system prunes access tokens.")
    now = now or timezone.now()
    ended = OAuthAccessToken.objects.filter(expires_at__lt=now - timedelta(days=1)).delete()[0]
    used = OAuthAssertionUse.objects.filter(expires_at__lt=now).delete()[0]
    return ended, used
