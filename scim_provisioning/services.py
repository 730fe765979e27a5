"""Writes for SCIM provisioning, shared by the admin, the SCIM API and management commands."""
from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from organisations.models import Organisation, User

from . import tokens
from .models import ProvisioningCode, ProvisioningCodeReveal

logger = logging.getLogger(__name__)

# last_used_at is informational: writing it on every request would double a lookup's cost.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ProvisioningNotEnabledError(Exception):
    """Codes are issued only for organisations with automated user provisioning enabled."""


@transaction.atomic
def provisioning_code_issue(
    *, organisation: Organisation, issued_by: User | None = None, revoke_previous: bool = False
) -> tuple[ProvisioningCode, str]:
    """Issue a new code; earlier codes keep working for the grace period unless revoked now."""
    if not organisation.provisioning_enabled:
        raise ProvisioningNotEnabledError(f"Automated User Provisioning is not enabled for {organisation}.")
    now = timezone.now()
    previous = ProvisioningCode.objects.filter(tokens.active_codes_q(now), organisation=organisation)
    if revoke_previous:
        previous.update(revoked_at=now)
    else:
        grace_end = now + timedelta(hours=settings.PROVISIONING_CODE_GRACE_HOURS)
        previous.filter(expires_at__isnull=True).update(expires_at=grace_end)
    plaintext = tokens.generate_code()
    code = ProvisioningCode.objects.create(
        organisation=organisation,
        digest=tokens.code_digest(plaintext),
        encrypted=tokens.encrypt_code(plaintext),
        last_characters=plaintext[-tokens.LAST_CHARACTERS :],
        created_by=issued_by,
    )
    logger.info("Issued provisioning code …%s for organisation %s", code.last_characters, organisation.slug)
    return code, plaintext


def provisioning_code_revoke_previous(*, organisation: Organisation) -> int:
    """End every active code but the newest at once; return how many were revoked."""
    active = ProvisioningCode.objects.filter(tokens.active_codes_q(), organisation=organisation)
    newest = active.order_by("-created_at", "-id").first()
    if newest is None:
        return 0
    return active.exclude(pk=newest.pk).update(revoked_at=timezone.now())


def provisioning_code_revoke_all(*, organisation: Organisation) -> int:
    """Revoke every active code of the organisation; return how many were revoked."""
    return ProvisioningCode.objects.filter(tokens.active_codes_q(), organisation=organisation).update(
        revoked_at=timezone.now()
    )


def provisioning_code_reveal(*, code: ProvisioningCode, revealed_by: User) -> str:
    """Return a code's plaintext and record who revealed it."""
    plaintext = tokens.decrypt_code(code.encrypted)
    ProvisioningCodeReveal.objects.create(code=code, revealed_by=revealed_by)
    return plaintext


def provisioning_code_mark_used(*, code: ProvisioningCode) -> None:
    """Note that a code authenticated a request; its first use ends older codes' grace period."""
    now = timezone.now()
    if code.last_used_at is not None and now - code.last_used_at < LAST_USED_RESOLUTION:
        return
    first_use = code.last_used_at is None
    ProvisioningCode.objects.filter(pk=code.pk).update(last_used_at=now)
    code.last_used_at = now
    if first_use:
        # The newer code is in use, so Entra has the new one: older ones need not wait any longer.
        ProvisioningCode.objects.filter(
            tokens.active_codes_q(now), organisation_id=code.organisation_id, created_at__lt=code.created_at
        ).update(revoked_at=now)
