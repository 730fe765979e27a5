"""Writes on Provisioning Authentication Codes, shared by the Azure AD page and the commands.

Each action takes ``acting=``, reaches the organisation through ``organisations.access``, owns
its transaction and records one audit event. Codes are looked up in the database on every
request (``tokens.code_for_bearer``), so whatever an action here commits is what the very next
SCIM request in every process sees: there is no cache to clear.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from organisations.access import Actor, access_organisation_to_change, reach
from organisations.actions import AzureADUpdate, organisation_update_azure_ad
from organisations.audit import audit_record
from organisations.azure_ad import AzureADSettings
from organisations.models import Organisation

from ..models import ProvisioningCode, ProvisioningCodeReveal
from . import tokens

logger = logging.getLogger(__name__)

# last_used_at is informational: writing it on every request would double a lookup's cost.
LAST_USED_RESOLUTION = timedelta(minutes=1)
CODE_NAME = "Provisioning Authentication Code"


class ProvisioningNotEnabledError(Exception):
    """Codes are issued only for organisations with automated user provisioning enabled."""


@sensitive_variables("plaintext")
@transaction.atomic
def provisioning_code_issue(
    *, acting: Actor, organisation: Organisation, revoke_previous: bool = False
) -> tuple[ProvisioningCode, str]:
    """Issue a new code; earlier codes keep working for the grace period unless revoked now."""
    locked = access_organisation_to_change(acting=acting, organisation_id=organisation.pk, for_update=True)
    if not locked.provisioning_enabled:
        raise ProvisioningNotEnabledError(f"Automated User Provisioning is not enabled for {locked}.")
    now = timezone.now()
    previous = ProvisioningCode.objects.filter(tokens.active_codes_q(now), organisation=locked)
    revoked = []
    if revoke_previous:
        revoked = list(previous.values_list("last_characters", flat=True))
        previous.update(revoked_at=now)
    else:
        grace_end = now + timedelta(hours=settings.PROVISIONING_CODE_GRACE_HOURS)
        previous.filter(expires_at__isnull=True).update(expires_at=grace_end)
    plaintext = tokens.generate_code()
    code = ProvisioningCode.objects.create(
        organisation=locked,
        digest=tokens.code_digest(plaintext),
        encrypted=tokens.encrypt_code(plaintext),
        last_characters=plaintext[-tokens.LAST_CHARACTERS :],
        created_by=acting.user,
    )
    note = f"Revoked at once: {', '.join(f'…{c}' for c in revoked)}." if revoked else ""
    audit_record(
        acting=acting,
        action="code.issued",
        organisation_id=locked.pk,
        target_label=f"{CODE_NAME} {code}",
        note=note,
    )
    logger.info("Issued provisioning code …%s for organisation %s", code.last_characters, locked.slug)
    return code, plaintext


@transaction.atomic
def provisioning_code_revoke_previous(*, acting: Actor, organisation: Organisation) -> int:
    """End every active code but the newest at once; return how many were revoked."""
    locked = access_organisation_to_change(acting=acting, organisation_id=organisation.pk, for_update=True)
    active = ProvisioningCode.objects.filter(tokens.active_codes_q(), organisation=locked)
    newest = active.order_by("-created_at", "-id").first()
    if newest is None:
        return 0
    return _revoke(acting, locked, active.exclude(pk=newest.pk), note="Previous codes revoked; the newest stays.")


@transaction.atomic
def provisioning_code_revoke_all(*, acting: Actor, organisation: Organisation) -> int:
    """Revoke every active code of the organisation; return how many were revoked."""
    locked = access_organisation_to_change(acting=acting, organisation_id=organisation.pk, for_update=True)
    active = ProvisioningCode.objects.filter(tokens.active_codes_q(), organisation=locked)
    return _revoke(acting, locked, active, note="Every code revoked.")


def _revoke(acting: Actor, organisation: Organisation, codes, *, note: str) -> int:
    endings = list(codes.values_list("last_characters", flat=True))
    revoked = codes.update(revoked_at=timezone.now())
    if revoked:
        audit_record(
            acting=acting,
            action="code.revoked",
            organisation_id=organisation.pk,
            target_label=", ".join(f"{CODE_NAME} …{ending}" for ending in endings),
            note=note,
        )
    return revoked


@sensitive_variables("plaintext")
@transaction.atomic
def provisioning_code_reveal(*, acting: Actor, code: ProvisioningCode) -> str:
    """Return a code's plaintext and record who revealed it."""
    organisation = access_organisation_to_change(acting=acting, organisation_id=code.organisation_id, for_update=True)
    plaintext = tokens.decrypt_code(code.encrypted)
    ProvisioningCodeReveal.objects.create(code=code, revealed_by=acting.user)
    audit_record(acting=acting, action="code.revealed", organisation_id=organisation.pk, target_label=f"{CODE_NAME} {code}")
    return plaintext


def provisioning_code_reencrypt_all(*, acting: Actor) -> tuple[int, list[int]]:
    """Re-encrypt every stored copy with the newest key; return (how many, ids no key can read).

    Digests are untouched, so every code keeps authenticating; afterwards the older keys can be
    removed from ``PROVISIONING_CODE_KEYS``. Revoked codes are included: no row is left that
    only an old key can read. Only the system re-encrypts (a key rotation is an operator's job).
    """
    if not reach(acting).is_everything:
        raise PermissionDenied("Only the system re-encrypts codes.")
    reencrypted = 0
    unreadable: list[int] = []
    for pk, encrypted in ProvisioningCode.objects.order_by("pk").values_list("pk", "encrypted").iterator():
        try:
            fresh = tokens.reencrypt_code(encrypted)
        except tokens.CodeDecryptionError:
            unreadable.append(pk)
            continue
        # Conditional on the copy read, so a concurrent change is never overwritten.
        reencrypted += ProvisioningCode.objects.filter(pk=pk, encrypted=encrypted).update(encrypted=fresh)
    return reencrypted, unreadable


def provisioning_code_mark_used(*, code: ProvisioningCode) -> None:
    """Note that a code authenticated a request; its first use ends older codes' grace period.

    Bookkeeping of the code itself, not a change to the organisation or its people: the code
    that authenticated is the actor, and nothing here reaches beyond its own organisation.
    """
    now = timezone.now()
    if code.last_used_at is not None and now - code.last_used_at < LAST_USED_RESOLUTION:
        return
    first_use = code.last_used_at is None
    with transaction.atomic():
        ProvisioningCode.objects.filter(pk=code.pk).update(last_used_at=now)
        if first_use:
            # The newer code is in use, so Entra has the new one: older ones need not wait any longer.
            older = ProvisioningCode.objects.filter(
                tokens.active_codes_q(now), organisation_id=code.organisation_id, created_at__lt=code.created_at
            )
            acting = Actor.credential(organisation=code.organisation, label=credential_label(code))
            _revoke(acting, code.organisation, older, note="The newer code was used for the first time.")
    code.last_used_at = now


def credential_name(credential) -> str:
    """A code or access token as the activity names it: never more of it than its last characters."""
    if isinstance(credential, ProvisioningCode):
        return f"code …{credential.last_characters}"
    return getattr(credential, "label", "")


def credential_label(credential) -> str:
    """How a code or an access token reads as an actor, such as "Entra ID (code …abcd)"."""
    return f"Entra ID ({credential_name(credential)})"


@transaction.atomic
def azure_ad_settings_save(*, acting: Actor, organisation: Organisation, settings: AzureADSettings) -> tuple[AzureADUpdate, ProvisioningCode | None]:
    """Store an organisation's Azure AD settings, issuing its first code when provisioning starts.

    Raise ValidationError, storing nothing, when the settings break a rule of ``azure_ad``.
    """
    update = organisation_update_azure_ad(acting=acting, organisation=organisation, settings=settings)
    locked = update.organisation
    issued = None
    if locked.provisioning_enabled and not locked.provisioning_codes.filter(tokens.active_codes_q()).exists():
        issued, _ = provisioning_code_issue(acting=acting, organisation=locked)
    return update, issued
