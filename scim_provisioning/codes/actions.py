"""Writes for SCIM provisioning, shared by the admin, the SCIM API and management commands."""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Value
from django.db.models.functions import Lower
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from organisations.models import Organisation, User
from organisations.services import user_deactivate, user_reactivate

from . import mapping, tokens
from .activity_writer import activity_writer
from .code_cache import code_cache_forget
from .models import ProvisioningCode, ProvisioningCodeReveal, ScimRequest, ScimUser
from .protocol.constants import ENTERPRISE_USER_URN
from .protocol.errors import InvalidValueError, UniquenessError
from .protocol.patch import apply_patch, normalise_patch
from .protocol.resource import normalise_user
from .selectors import scim_user_get

logger = logging.getLogger(__name__)

# last_used_at is informational: writing it on every request would double a lookup's cost.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ProvisioningNotEnabledError(Exception):
    """Codes are issued only for organisations with automated user provisioning enabled."""


@sensitive_variables("plaintext")
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
    code_cache_forget(organisation_id=organisation.pk)
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
    revoked = active.exclude(pk=newest.pk).update(revoked_at=timezone.now())
    code_cache_forget(organisation_id=organisation.pk)
    return revoked


def provisioning_code_revoke_all(*, organisation: Organisation) -> int:
    """Revoke every active code of the organisation; return how many were revoked."""
    revoked = ProvisioningCode.objects.filter(tokens.active_codes_q(), organisation=organisation).update(
        revoked_at=timezone.now()
    )
    code_cache_forget(organisation_id=organisation.pk)
    return revoked


@sensitive_variables("plaintext")
def provisioning_code_reveal(*, code: ProvisioningCode, revealed_by: User) -> str:
    """Return a code's plaintext and record who revealed it."""
    plaintext = tokens.decrypt_code(code.encrypted)
    ProvisioningCodeReveal.objects.create(code=code, revealed_by=revealed_by)
    return plaintext


def provisioning_code_reencrypt_all() -> tuple[int, list[int]]:
    """Re-encrypt every stored copy with the newest key; return (how many, ids no key can read).

    Digests are untouched, so every code keeps authenticating; afterwards the older keys can be
    removed from ``PROVISIONING_CODE_KEYS``. Revoked codes are included: no row is left that
    only an old key can read.
    """
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
    """Note that a code authenticated a request; its first use ends older codes' grace period."""
    now = timezone.now()
    if code.last_used_at is not None and now - code.last_used_at < LAST_USED_RESOLUTION:
        return
    first_use = code.last_used_at is None
    ProvisioningCode.objects.filter(pk=code.pk).update(last_used_at=now)
    code.last_used_at = now
    if first_use:
        # The newer code is in use, so Entra has the new one: older ones need not wait any longer.
        revoked = ProvisioningCode.objects.filter(
            tokens.active_codes_q(now), organisation_id=code.organisation_id, created_at__lt=code.created_at
        ).update(revoked_at=now)
        if revoked:
            code_cache_forget(organisation_id=code.organisation_id)


# --- SCIM users ------------------------------------------------------------------------------
# Entra ID's view of an organisation's people. Every write runs in one transaction and leaves
# nothing half-written; userName uniqueness is the database's case-insensitive constraint.


@dataclass(frozen=True)
class ScimUserWrite:
    """The outcome of a SCIM write, for the response and the request record."""

    scim_user: ScimUser
    action: str
    changes: dict
    ignored: tuple[str, ...] = ()


def _user_name_taken(user_name: str) -> UniquenessError:
    # Never say whose it is: the other user may belong to another organisation.
    return UniquenessError(f"userName {user_name[:256]!r} is already in use.")


def _users_named(user_name: str):
    """Users whose username equals ``user_name`` under the unique constraint's own expression."""
    return User.objects.alias(username_lower=Lower("username")).filter(username_lower=Lower(Value(user_name)))


def _manager_id(*, organisation: Organisation, resource: dict, scim_user: ScimUser | None) -> uuid.UUID | None:
    """Resolve the enterprise manager to a visible ScimUser of the organisation."""
    manager = (resource.get(ENTERPRISE_USER_URN) or {}).get("manager")
    if not manager:
        return None
    try:
        manager_id = uuid.UUID(manager["value"])
    except ValueError:
        raise InvalidValueError(f"manager {manager['value'][:64]!r} is not the id of a User.") from None
    if scim_user is not None:
        if manager_id == scim_user.manager_id:
            return manager_id  # unchanged: no need to look it up again
        if manager_id == scim_user.pk:
            raise InvalidValueError("A user cannot be their own manager.")
    if not ScimUser.objects.filter(organisation=organisation, pk=manager_id, deleted_at__isnull=True).exists():
        raise InvalidValueError(f"manager {str(manager_id)!r} is not a User of this organisation.")
    return manager_id


def _derived_values(resource: dict) -> dict[str, str]:
    try:
        return mapping.derived_values(resource)
    except ValueError as exc:
        raise InvalidValueError(str(exc)) from None


def _set_fields(instance, values: dict[str, object]) -> list[str]:
    """Assign values to an instance; return the names of the fields that changed."""
    changed = []
    for name, value in values.items():
        if getattr(instance, name) != value:
            setattr(instance, name, value)
            changed.append(name)
    return changed


def _write_resource(
    *, organisation: Organisation, scim_user: ScimUser, resource: dict, active_default: bool | None
) -> tuple[dict, str]:
    """Store a canonical resource on a ScimUser (new only when adopting) and its user.

    Return ``(changes, action)`` for the request record.

    ``active_default`` is the state to give the user when the resource does not assign
    ``active`` (None leaves it as it is).
    """
    old = mapping.canonical_resource(scim_user)
    values = _derived_values(resource)
    user = scim_user.user
    if values["user.username"].lower() != user.username.lower() and (
        _users_named(values["user.username"]).exclude(pk=user.pk).exists()
    ):
        raise _user_name_taken(values["user.username"])
    manager_id = _manager_id(organisation=organisation, resource=resource, scim_user=scim_user)

    user_changed = _set_fields(user, {k.removeprefix("user."): v for k, v in values.items() if k.startswith("user.")})
    wanted_active = resource.get("active", active_default)
    action = ""
    # A change of state saves the user's other changed fields in its own UPDATE.
    if wanted_active is False and user.is_active:
        user_deactivate(user=user, update_fields=user_changed)
        action = ScimRequest.Action.DEACTIVATED
    elif wanted_active is True and not user.is_active:
        user_reactivate(user=user, update_fields=user_changed)
        action = ScimRequest.Action.REACTIVATED
    elif user_changed:
        user.save(update_fields=user_changed)
    scim_changed = _set_fields(
        scim_user,
        {
            **{k.removeprefix("scim."): v for k, v in values.items() if k.startswith("scim.")},
            "attributes": mapping.stored_attributes(resource),
            "manager_id": manager_id,
            "deleted_at": None,
        },
    )
    if scim_user._state.adding:
        scim_user.save()  # a hand-made user being adopted gets its ScimUser now
    elif scim_changed or user_changed or action:
        # auto_now sets last_modified on save; naming it keeps the UPDATE to what changed.
        scim_user.save(update_fields=[*scim_changed, "last_modified"])
    changes = mapping.changes_between(old, mapping.canonical_resource(scim_user))
    if not action and changes:
        action = ScimRequest.Action.UPDATED
    return changes, action


def scim_user_create(*, organisation: Organisation, body: object) -> ScimUserWrite:
    """Create a user from a POST body, or bring back the organisation's own user of that name.

    A userName that belongs to a user this organisation's Entra ID deleted restores that same
    person; one that belongs to a user of the organisation made by hand is adopted, so the
    lookup Entra made before posting and the uniqueness rule agree. Any other holder of the
    name (another organisation's included) is a 409 that reveals and changes nothing.
    """
    normalised = normalise_user(body)
    resource = normalised.resource
    values = _derived_values(resource)
    user_name = values["user.username"]
    try:
        # Entra posts only names its lookup did not find, so the INSERT is tried first: the
        # unique constraint, not a query of our own, tells when the name is taken after all.
        with transaction.atomic():
            scim_user = _scim_user_new(organisation=organisation, resource=resource, values=values)
        changes = mapping.changes_between(None, mapping.canonical_resource(scim_user))
    except IntegrityError:
        scim_user, changes = _scim_user_take_back(organisation=organisation, resource=resource, user_name=user_name)
    return ScimUserWrite(scim_user, ScimRequest.Action.CREATED, changes, normalised.ignored)


def _scim_user_take_back(*, organisation: Organisation, resource: dict, user_name: str) -> tuple[ScimUser, dict]:
    """Restore or adopt the organisation's own user holding ``user_name``, or raise 409."""
    try:
        with transaction.atomic():
            # The ScimUser is read by its own query once the user is locked: joined to the
            # locking one, PostgreSQL would return it as it was before a concurrent POST that
            # held the lock restored or adopted the user, and both would answer 201.
            existing = _users_named(user_name).select_for_update().first()
            if existing is None:  # renamed meanwhile: Entra's retry will find the name free
                raise _user_name_taken(user_name)
            scim_user = _scim_user_claim(organisation=organisation, user=existing, user_name=user_name)
            changes, _ = _write_resource(
                organisation=organisation, scim_user=scim_user, resource=resource, active_default=True
            )
    except IntegrityError:
        # A concurrent request changed the holder of the name while we restored or adopted it.
        raise _user_name_taken(user_name) from None
    return scim_user, changes


def _scim_user_new(*, organisation: Organisation, resource: dict, values: dict[str, str]) -> ScimUser:
    manager_id = _manager_id(organisation=organisation, resource=resource, scim_user=None)
    user = User(
        username=values["user.username"],
        first_name=values["user.first_name"],
        last_name=values["user.last_name"],
        email=values["user.email"],
        is_active=resource.get("active", True),
        organisation=organisation,
        department_id=organisation.default_department_id,
        section_id=organisation.default_section_id,
    )
    # They sign in with Microsoft; a password could only ever be a way around that.
    user.set_unusable_password()
    user.save()
    return ScimUser.objects.create(
        user=user,
        organisation=organisation,
        attributes=mapping.stored_attributes(resource),
        external_id=values["scim.external_id"],
        email=values["scim.email"],
        employee_number=values["scim.employee_number"],
        manager_id=manager_id,
    )


def _scim_user_claim(*, organisation: Organisation, user: User, user_name: str) -> ScimUser:
    """Return the ScimUser a POST may take over for an existing user, or raise 409."""
    if user.organisation_id != organisation.pk:
        raise _user_name_taken(user_name)
    try:
        scim_user = user.scim
    except ScimUser.DoesNotExist:
        logger.info("SCIM adopts the existing user %s of organisation %s", user.pk, organisation.slug)
        return ScimUser(user=user, organisation=organisation)
    if scim_user.organisation_id != organisation.pk or scim_user.deleted_at is None:
        raise _user_name_taken(user_name)
    logger.info("SCIM restores the deleted user %s of organisation %s", user.pk, organisation.slug)
    return scim_user


def scim_user_replace(*, organisation: Organisation, scim_id: object, body: object) -> ScimUserWrite:
    """Replace a user's attributes with a PUT body (RFC 7644 §3.5.1)."""
    normalised = normalise_user(body)
    try:
        with transaction.atomic():
            scim_user = scim_user_get(organisation=organisation, scim_id=scim_id, for_update=True)
            changes, action = _write_resource(
                organisation=organisation, scim_user=scim_user, resource=normalised.resource, active_default=None
            )
    except IntegrityError:
        raise _user_name_taken(normalised.resource["userName"]) from None
    return ScimUserWrite(scim_user, action, changes, normalised.ignored)


def scim_user_patch(*, organisation: Organisation, scim_id: object, body: object) -> ScimUserWrite:
    """Apply a PatchOp body (RFC 7644 §3.5.2) atomically: every operation or none."""
    operations = normalise_patch(body)
    user_name = ""
    try:
        with transaction.atomic():
            scim_user = scim_user_get(organisation=organisation, scim_id=scim_id, for_update=True)
            patched = apply_patch(mapping.canonical_resource(scim_user), operations)
            normalised = normalise_user(patched.resource)
            user_name = normalised.resource["userName"]
            changes, action = _write_resource(
                organisation=organisation, scim_user=scim_user, resource=normalised.resource, active_default=None
            )
    except IntegrityError:
        raise _user_name_taken(user_name) from None
    return ScimUserWrite(scim_user, action, changes, patched.ignored + normalised.ignored)


@transaction.atomic
def scim_user_delete(*, organisation: Organisation, scim_id: object) -> ScimUserWrite:
    """Hide a user from SCIM and deactivate them, keeping their Prompt data (RFC 7644 §3.6)."""
    scim_user = scim_user_get(organisation=organisation, scim_id=scim_id, for_update=True)
    user_deactivate(user=scim_user.user)
    scim_user.deleted_at = timezone.now()
    scim_user.save(update_fields=["deleted_at", "last_modified"])
    # The deleted user's reports would otherwise name a manager every request answers 404 for.
    ScimUser.objects.filter(manager=scim_user).update(manager=None)
    return ScimUserWrite(scim_user, ScimRequest.Action.DELETED, {})


def _storable(text: str) -> str:
    """Return request text a database column can hold: no NUL, no lone surrogates."""
    # The path, and the ignored attribute names in the detail, are whatever the caller sent.
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def scim_request_record(
    *,
    organisation: Organisation,
    method: str,
    path: str,
    status: int,
    duration_ms: int,
    scim_type: str = "",
    detail: str = "",
    action: str = "",
    scim_user: ScimUser | None = None,
    changes: dict | None = None,
) -> ScimRequest:
    """Record one SCIM request for the organisation's provisioning activity.

    Written through ``SCIM_ACTIVITY_DATABASE``, which on PostgreSQL does not wait for the disk:
    queued for the process's background writer when ``SCIM_ACTIVITY_QUEUED``, else one INSERT now.
    """
    record = ScimRequest(
        # Ids only: a queued record keeps no model instances alive.
        organisation_id=organisation.pk,
        created_at=timezone.now(),
        method=_storable(method)[:8],
        path=_storable(path)[:255],
        status=status,
        scim_type=_storable(scim_type)[:32],
        detail=_storable(detail)[:500],
        action=action,
        scim_user_id=scim_user.pk if scim_user else None,
        changes=changes or None,
        duration_ms=max(0, duration_ms),
    )
    if settings.SCIM_ACTIVITY_QUEUED:
        activity_writer(settings.SCIM_ACTIVITY_DATABASE).put(record)
    else:
        record.save(using=settings.SCIM_ACTIVITY_DATABASE, force_insert=True)
    return record
