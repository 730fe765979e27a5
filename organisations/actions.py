"""Writes on organisations and their people, shared by the admin, SCIM and commands."""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction

from .azure_ad import AzureADSettings, azure_ad_settings_errors
from .models import Organisation, User

if TYPE_CHECKING:
    from scim_provisioning.models import ProvisioningCode


# No savepoint: inside a caller's transaction this is one UPDATE that commits or rolls back with it.
@transaction.atomic(savepoint=False)
def user_deactivate(*, user: User, update_fields: Iterable[str] = ()) -> bool:
    """Deactivate a user and end every open session; return whether anything changed.

    ``update_fields`` names other fields the caller has changed, saved in the same UPDATE.
    """
    if not user.is_active:
        return False
    user.is_active = False
    # A new session_version changes the session hash, so existing sessions stop validating.
    user.session_version = uuid.uuid4()
    user.save(update_fields=["is_active", "session_version", *update_fields])
    return True


# No savepoint: inside a caller's transaction this is one UPDATE that commits or rolls back with it.
@transaction.atomic(savepoint=False)
def user_reactivate(*, user: User, update_fields: Iterable[str] = ()) -> bool:
    """Reactivate a user; sessions ended at deactivation stay ended. Return whether it changed.

    ``update_fields`` names other fields the caller has changed, saved in the same UPDATE.
    """
    if user.is_active:
        return False
    user.is_active = True
    user.save(update_fields=["is_active", *update_fields])
    return True


_AZURE_AD_FIELDS = [
    "azure_sso_enabled",
    "azure_tenant_id",
    "provisioning_enabled",
    "default_department",
    "default_section",
]


@dataclass(frozen=True)
class AzureADUpdate:
    """What saving the Azure AD settings did: labels of changed fields and any code issued."""

    changed_fields: list[str]
    issued_code: ProvisioningCode | None


@transaction.atomic
def organisation_update_azure_ad(
    *, organisation: Organisation, settings: AzureADSettings, updated_by: User | None
) -> AzureADUpdate:
    """Store an organisation's Azure AD settings; issue its first code when provisioning starts.

    Raise ValidationError, storing nothing, when the settings break a rule of ``azure_ad``.
    """
    # Imported here because scim_provisioning's services build on this module.
    from scim_provisioning import services as provisioning_services
    from scim_provisioning.tokens import active_codes_q

    # Locked so two admins saving at once cannot both issue a "first" code.
    locked = Organisation.objects.select_for_update().get(pk=organisation.pk)
    errors = azure_ad_settings_errors(organisation=locked, settings=settings)
    if errors:
        raise ValidationError(errors)
    changed = [
        Organisation._meta.get_field(name).verbose_name
        for name in _AZURE_AD_FIELDS
        if getattr(locked, name) != getattr(settings, name)
    ]
    for name in _AZURE_AD_FIELDS:
        setattr(locked, name, getattr(settings, name))
    locked.save(update_fields=_AZURE_AD_FIELDS)
    for name in _AZURE_AD_FIELDS:
        setattr(organisation, name, getattr(locked, name))

    issued = None
    if locked.provisioning_enabled and not locked.provisioning_codes.filter(active_codes_q()).exists():
        issued, _ = provisioning_services.provisioning_code_issue(organisation=locked, issued_by=updated_by)
    return AzureADUpdate(changed_fields=changed, issued_code=issued)
