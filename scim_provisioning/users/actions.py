"""Writes for SCIM users: Entra ID's creates, updates and deletes, and the admin's detach.

Every action takes ``acting=``: for SCIM, the organisation's provisioning credential, which
reaches only that organisation's people whose role is Admin or none (``organisations.access``).
The Prompt user's own fields are written through ``organisations.actions``, which checks the
reach rule, ends sessions on deactivation and records the audit event, all in the transaction
of the SCIM write. userName uniqueness is the database's unique index on the name key.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from organisations import roles
from organisations.access import Actor, access_user, reach
from organisations.actions import (
    DOMAIN_CLAIMED,
    user_create,
    user_set_password,
    user_snapshot,
    user_update,
)
from organisations.audit import audit_record
from organisations.models import User
from organisations.usernames import name_key, user_name_problem

from ..brake.actions import DeactivationHeldError, brake_admit, brake_hold
from ..groups.actions import scim_groups_leave
from ..models import ScimRequest, ScimUser
from ..placement.actions import placement_department_changed, placement_mark_by_hand, placement_refresh
from ..protocol.constants import ENTERPRISE_USER_URN
from ..protocol.errors import InvalidValueError, ScimError, UniquenessError
from ..protocol.patch import apply_patch, normalise_patch
from ..protocol.resource import normalise_user
from . import mapping
from .selectors import scim_user_get, scim_users_reached

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScimUserWrite:
    """The outcome of a SCIM write, for the response and the request record."""

    scim_user: ScimUser
    action: str
    changes: dict
    ignored: tuple[str, ...] = ()


def _user_name_taken(user_name: str) -> UniquenessError:
    return UniquenessError(f"userName {user_name[:256]!r} is already in use.")


def _managed_in_prompt(user_name: str) -> UniquenessError:
    # The same answer for a person of another organisation and for a Prompt or Agency Admin
    # of this one: the name belongs to someone this organisation's Entra ID does not manage.
    return UniquenessError(
        f"userName {user_name[:256]!r} belongs to an account managed in Prompt, not by this "
        "organisation's Entra ID; it cannot be created or taken over."
    )


def _as_scim_error(exc: ValidationError) -> ScimError:
    """Answer a refusal of ``organisations.actions`` in SCIM's terms."""
    errors = exc.error_dict if hasattr(exc, "error_dict") else {"__all__": exc.error_list}
    problems = [error for field_errors in errors.values() for error in field_errors]
    detail = " ".join(message for error in problems for message in error.messages)
    if any(error.code == DOMAIN_CLAIMED for error in problems):
        return UniquenessError(f"{detail} Names in it cannot be created or given here.")
    return InvalidValueError(detail)


def _manager_id(*, acting: Actor, resource: dict, scim_user: ScimUser | None) -> uuid.UUID | None:
    """Resolve the enterprise manager to a visible ScimUser in the credential's reach."""
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
    if not scim_users_reached(acting=acting).filter(pk=manager_id, deleted_at__isnull=True).exists():
        raise InvalidValueError(f"manager {str(manager_id)!r} is not a User of this organisation.")
    return manager_id


def _derived_values(resource: dict) -> dict[str, str]:
    try:
        values = mapping.derived_values(resource)
    except ValueError as exc:
        raise InvalidValueError(str(exc)) from None
    problem = user_name_problem(values["user.username"])
    if problem:
        raise InvalidValueError(f"userName {problem}.")
    return values


def _set_fields(instance, values: dict[str, object]) -> list[str]:
    """Assign values to an instance; return the names of the fields that changed."""
    changed = []
    for name, value in values.items():
        if getattr(instance, name) != value:
            setattr(instance, name, value)
            changed.append(name)
    return changed


def _user_values(values: dict[str, str]) -> dict[str, str]:
    return {key.removeprefix("user."): value for key, value in values.items() if key.startswith("user.")}


def _scim_values(values: dict[str, str]) -> dict[str, str]:
    return {key.removeprefix("scim."): value for key, value in values.items() if key.startswith("scim.")}


def _write_resource(
    *, acting: Actor, scim_user: ScimUser, resource: dict, active_default: bool | None, action: str | None = None
) -> tuple[dict, str]:
    """Store a canonical resource on a ScimUser (new only when adopting) and its user.

    The user was read through the credential's reach and locked. Return ``(changes, action)``
    for the request record. ``active_default`` is the state to give the user when the
    resource does not assign ``active`` (None leaves it as it is).
    """
    old = None if scim_user._state.adding else mapping.canonical_resource(scim_user)
    values = _derived_values(resource)
    user = scim_user.user
    before = user_snapshot(user)
    if name_key(values["user.username"]) != user.username_key and (
        User.objects.filter(username_key=name_key(values["user.username"])).exclude(pk=user.pk).exists()
    ):
        raise _user_name_taken(values["user.username"])
    manager_id = _manager_id(acting=acting, resource=resource, scim_user=scim_user)
    _set_fields(user, _user_values(values))
    wanted_active = resource.get("active", active_default)
    if wanted_active is not None:
        user.is_active = wanted_active
    scim_changed = _set_fields(
        scim_user,
        {**_scim_values(values), "attributes": mapping.stored_attributes(resource), "manager_id": manager_id, "deleted_at": None},
    )
    user_changed = user_snapshot(user) != before
    if scim_user._state.adding:
        scim_user.save()  # a hand-made user being adopted gets its ScimUser now
    elif scim_changed or user_changed:
        # auto_now sets last_modified on save; naming it keeps the UPDATE to what changed.
        scim_user.save(update_fields=[*scim_changed, "last_modified"])
    new = mapping.canonical_resource(scim_user)
    changes = mapping.changes_between(old, new)
    try:
        user_update(acting=acting, user=user, before=before, details=changes, action=action)
    except ValidationError as exc:
        raise _as_scim_error(exc) from None
    if placement_department_changed(old, new):
        placement_refresh(acting=acting, organisation=acting.organisation, scim_user_ids=[scim_user.pk])
    if before["is_active"] != user.is_active:
        request_action = ScimRequest.Action.REACTIVATED if user.is_active else ScimRequest.Action.DEACTIVATED
    else:
        request_action = ScimRequest.Action.UPDATED if changes else ""
    return changes, request_action


def _deactivates(scim_user: ScimUser, resource: dict) -> bool:
    """Whether writing ``resource`` deactivates the person: what the mass-deactivation brake counts.

    Anything else (creates, updates, reactivations) is never held. A held request is held whole,
    so a PATCH stays all or nothing.
    """
    return scim_user.user.is_active and resource.get("active") is False


def scim_user_create(*, acting: Actor, body: object) -> ScimUserWrite:
    """Create a user from a POST body, or bring back the organisation's own user of that name.

    A userName that belongs to a user this organisation's Entra ID deleted restores that same
    person; one that belongs to a person of the organisation made by hand (role Admin or none)
    is adopted, so the lookup Entra made before posting and the uniqueness rule agree. Any
    other holder of the name (another organisation's person, a Prompt or Agency Admin) is a
    409 that reveals and changes nothing.
    """
    normalised = normalise_user(body)
    resource = normalised.resource
    values = _derived_values(resource)
    user_name = values["user.username"]
    try:
        # Entra posts only names its lookup did not find, so the INSERT is tried first: the
        # unique index, not a query of our own, tells when the name is taken after all.
        with transaction.atomic():
            scim_user, changes = _scim_user_new(acting=acting, resource=resource, values=values)
    except IntegrityError:
        scim_user, changes = _scim_user_take_back(acting=acting, resource=resource, user_name=user_name)
    return ScimUserWrite(scim_user, ScimRequest.Action.CREATED, changes, normalised.ignored)


def _scim_user_new(*, acting: Actor, resource: dict, values: dict[str, str]) -> tuple[ScimUser, dict]:
    organisation = acting.organisation
    manager_id = _manager_id(acting=acting, resource=resource, scim_user=None)
    user = User(
        **_user_values(values),
        is_active=resource.get("active", True),
        organisation=organisation,
        department_id=organisation.default_department_id,
        section_id=organisation.default_section_id,
    )
    # They sign in with Microsoft; a password could only ever be a way around that.
    user.set_unusable_password()
    scim_user = ScimUser(
        user=user,
        attributes=mapping.stored_attributes(resource),
        **_scim_values(values),
        manager_id=manager_id,
    )
    changes = mapping.changes_between(None, mapping.canonical_resource(scim_user))
    try:
        user_create(acting=acting, user=user, details=changes)
    except ValidationError as exc:
        raise _as_scim_error(exc) from None
    scim_user.user = user
    scim_user.save(force_insert=True)
    placement_refresh(acting=acting, organisation=organisation, scim_user_ids=[scim_user.pk])
    return scim_user, changes


def _scim_user_take_back(*, acting: Actor, resource: dict, user_name: str) -> tuple[ScimUser, dict]:
    """Restore or adopt the organisation's own person holding ``user_name``, or raise 409."""
    try:
        with transaction.atomic():
            # The ScimUser is read by its own query once the user is locked: joined to the
            # locking one, PostgreSQL would return it as it was before a concurrent POST that
            # held the lock restored or adopted the user, and both would answer 201.
            holder = User.objects.select_for_update().filter(username_key=name_key(user_name)).first()
            if holder is None:  # renamed meanwhile: Entra's retry will find the name free
                raise _user_name_taken(user_name)
            if not reach(acting).includes_person(holder):
                raise _managed_in_prompt(user_name)
            scim_user = ScimUser.objects.filter(user=holder).first()
            if scim_user is None:
                logger.info("SCIM adopts the existing user %s of organisation %s", holder.pk, acting.organisation.slug)
                scim_user, action = ScimUser(user=holder), "user.adopted"
                organisation = acting.organisation
                if (holder.department_id, holder.section_id) != (
                    organisation.default_department_id,
                    organisation.default_section_id,
                ):
                    # Whoever put the person there did so by hand; the rules leave them there.
                    scim_user.placement = ScimUser.Placement.BY_HAND
            elif scim_user.deleted_at is not None:
                logger.info("SCIM restores the deleted user %s of organisation %s", holder.pk, acting.organisation.slug)
                scim_user.user, action = holder, "user.restored"
            else:
                raise _user_name_taken(user_name)
            changes, _ = _write_resource(
                acting=acting, scim_user=scim_user, resource=resource, active_default=True, action=action
            )
            if action == "user.adopted" and holder.has_usable_password():
                # From now on Entra ID manages the person, who signs in with Microsoft only.
                user_set_password(acting=acting, user=holder, password=None)
    except IntegrityError:
        # A concurrent request changed the holder of the name while we restored or adopted it.
        raise _user_name_taken(user_name) from None
    return scim_user, changes


def scim_user_replace(*, acting: Actor, scim_id: object, body: object) -> ScimUserWrite:
    """Replace a user's attributes with a PUT body (RFC 7644 §3.5.1)."""
    normalised = normalise_user(body)
    try:
        with transaction.atomic():
            scim_user = scim_user_get(acting=acting, scim_id=scim_id, for_update=True)
            deactivates = _deactivates(scim_user, normalised.resource)
            changes, action = _write_resource(
                acting=acting, scim_user=scim_user, resource=normalised.resource, active_default=None
            )
            if deactivates:
                brake_admit(acting=acting, scim_user=scim_user, method="PUT")
    except IntegrityError:
        raise _user_name_taken(normalised.resource["userName"]) from None
    except DeactivationHeldError as held:
        brake_hold(acting=acting, held=held)
        raise
    return ScimUserWrite(scim_user, action, changes, normalised.ignored)


def scim_user_patch(*, acting: Actor, scim_id: object, body: object) -> ScimUserWrite:
    """Apply a PatchOp body (RFC 7644 §3.5.2) atomically: every operation or none."""
    operations = normalise_patch(body)
    user_name = ""
    try:
        with transaction.atomic():
            scim_user = scim_user_get(acting=acting, scim_id=scim_id, for_update=True)
            patched = apply_patch(mapping.canonical_resource(scim_user), operations)
            normalised = normalise_user(patched.resource)
            user_name = normalised.resource["userName"]
            deactivates = _deactivates(scim_user, normalised.resource)
            changes, action = _write_resource(
                acting=acting, scim_user=scim_user, resource=normalised.resource, active_default=None
            )
            if deactivates:
                brake_admit(acting=acting, scim_user=scim_user, method="PATCH")
    except IntegrityError:
        raise _user_name_taken(user_name) from None
    except DeactivationHeldError as held:
        brake_hold(acting=acting, held=held)
        raise
    return ScimUserWrite(scim_user, action, changes, patched.ignored + normalised.ignored)


def scim_user_delete(*, acting: Actor, scim_id: object) -> ScimUserWrite:
    """Hide a user from SCIM and deactivate them, keeping their Prompt data (RFC 7644 §3.6)."""
    try:
        with transaction.atomic():
            scim_user = scim_user_get(acting=acting, scim_id=scim_id, for_update=True)
            user = scim_user.user
            before = user_snapshot(user)
            user.is_active = False
            scim_user.deleted_at = timezone.now()
            scim_user.save(update_fields=["deleted_at", "last_modified"])
            # The deleted user's reports would otherwise name a manager every request answers 404 for.
            ScimUser.objects.filter(manager=scim_user).update(manager=None)
            scim_groups_leave(scim_user=scim_user)
            user_update(acting=acting, user=user, before=before, details={}, action="user.deleted")
            # Every DELETE counts, as Entra's own accidental-deletions prevention counts deletes:
            # one that hides an already inactive person is still one Entra cannot take back.
            brake_admit(acting=acting, scim_user=scim_user, method="DELETE", was_active=before["is_active"])
    except DeactivationHeldError as held:
        brake_hold(acting=acting, held=held)
        raise
    return ScimUserWrite(scim_user, ScimRequest.Action.DELETED, {})


def scim_user_is_managed(user: User) -> bool:
    """Whether Entra ID manages this person (their ScimUser exists, deleted by Entra or not)."""
    return ScimUser.objects.filter(user=user).exists()


@transaction.atomic
def scim_user_detach(*, acting: Actor, user: User) -> bool:
    """Take a person out of Entra ID's management; return whether they were managed.

    Afterwards the organisation's Entra ID no longer finds them, and their fields are edited
    in Prompt; Entra ID would adopt them again only by creating the same userName anew.
    """
    if not reach(acting).allows("user", roles.CHANGE):
        raise PermissionDenied("You cannot change people.")
    person = access_user(acting=acting, user_id=user.pk, for_update=True)
    scim_user = ScimUser.objects.filter(user=person).first()
    if scim_user is None:
        return False
    ScimUser.objects.filter(manager=scim_user).update(manager=None)
    scim_groups_leave(scim_user=scim_user)
    scim_id = scim_user.pk
    scim_user.delete()
    audit_record(
        acting=acting,
        action="user.detached",
        organisation_id=person.organisation_id,
        target_user=person,
        note=f"SCIM id {scim_id} removed; the person is now managed in Prompt.",
    )
    return True


# --- the admin's edits of people Entra ID manages ------------------------------------------------


def managed_user_errors(*, before: dict, user: User) -> dict[str, list[str]]:
    """Return why the admin may not save these changes to a person Entra ID manages."""
    errors: dict[str, list[str]] = {}
    for name in mapping.prompt_fields_owned():
        if before[name] != getattr(user, name):
            errors.setdefault(name, []).append("Entra ID manages this field: change it in Entra ID.")
    if before["organisation_id"] != user.organisation_id:
        errors.setdefault("organisation", []).append(
            "This person is managed by Entra ID: detach them from Entra ID before moving them to another organisation."
        )
    if before["role"] != user.role and not reach(Actor.tenant(organisation=user.organisation)).includes_person(user):
        errors.setdefault("role", []).append(
            "A person Entra ID manages cannot be a Prompt Admin or an Agency Admin: detach them from Entra ID first."
        )
    if not before["is_active"] and user.is_active:
        # Entra ID no longer manages a person it has unassigned, so it would never undo this.
        errors.setdefault("is_active", []).append(
            "Entra ID deactivated this person: assign them to the application in Entra ID again to reactivate them."
        )
    return errors


@transaction.atomic
def managed_user_update(*, acting: Actor, user: User) -> dict:
    """Save a person edited in the admin, keeping to Entra ID's fields if it manages them."""
    stored = access_user(acting=acting, user_id=user.pk, for_update=True)
    before = user_snapshot(stored)
    managed = scim_user_is_managed(stored)
    if managed:
        errors = managed_user_errors(before=before, user=user)
        if errors:
            raise ValidationError(errors)
    changes = user_update(acting=acting, user=user, before=before)
    if managed and (before["department_id"], before["section_id"]) != (user.department_id, user.section_id):
        # Moved by hand: placement rules leave the person here until an admin lets Entra ID place them.
        placement_mark_by_hand(user=user)
    return changes
