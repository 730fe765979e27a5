"""Writes on organisations and their people, shared by the admin, SCIM, sign-in and commands.

Every action takes ``acting=`` (see ``organisations.access``) and asks the reach rule before it
writes; it owns its transaction, and records one audit event in it (``organisations.audit``).
Rules that forms show next to fields are functions here too (``user_errors``,
``structure_errors``), so the admin and the action can never disagree.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction

from . import roles
from .access import Actor, NotInReachError, access_organisation_to_change, access_user, reach
from .audit import HIDDEN, audit_event, audit_record
from .azure_ad import AzureADSettings, azure_ad_settings_errors
from .domains import claimed_domain_conflict, domain_claim_errors
from .models import Agency, AuditEvent, Department, Organisation, Section, SignInDomain, User
from .usernames import user_name_problem

# Error codes the SCIM API answers with its own status (409 uniqueness for both).
DOMAIN_CLAIMED = "domain_claimed"
USERNAME_TAKEN = "username_taken"

# What an action compares, records and checks of a person (foreign keys by their ids).
USER_FIELDS = (
    "username",
    "first_name",
    "last_name",
    "email",
    "organisation_id",
    "department_id",
    "section_id",
    "role",
    "agency_id",
    "is_active",
)
_RELATED = {"organisation_id": "organisation", "department_id": "department", "section_id": "section", "agency_id": "agency"}


def user_snapshot(user: User) -> dict[str, object]:
    """Return the fields of a person an action compares before and after a change."""
    return {name: getattr(user, name) for name in USER_FIELDS}


# --- rules ------------------------------------------------------------------------------------


def user_errors(*, acting: Actor, before: dict | None, user: User) -> dict[str, list[str]]:
    """Return why ``acting`` may not save ``user`` as it is now, by field (empty when it may).

    ``before`` is the stored state (``user_snapshot``), ``None`` for a new person.
    """
    actor_reach = reach(acting)
    errors: dict[str, list[str]] = {}

    def add(name: str, message: str, code: str = "invalid") -> None:
        errors.setdefault(name, []).append(ValidationError(message, code=code))

    def changed(name: str) -> bool:
        return before is None or before[name] != getattr(user, name)

    if changed("username"):
        problem = user_name_problem(user.username)
        if problem:
            add("username", f"The username {problem}.")
    if changed("role") and not actor_reach.may_assign(user.role):
        add("role", "You cannot give this role.")
    elif not actor_reach.includes_person(user):
        # After the change the person would be out of the actor's reach: a move, or an agency.
        field = "organisation" if changed("organisation_id") else "agency" if changed("agency_id") else "role"
        add(field, "This would put the person outside what you administer.")
    if any(changed(name) for name in ("organisation_id", "department_id", "section_id", "role", "agency_id")):
        for name, message in user.shape_errors().items():
            add(name, message)
    names = [getattr(user, name) for name in ("username", "email") if changed(name)]
    if changed("organisation_id"):
        names = [user.username, user.email]
    domain = claimed_domain_conflict(organisation_id=user.organisation_id, names=names)
    if domain:
        field = "username" if changed("username") or changed("organisation_id") else "email"
        add(field, f"{domain} is a sign-in domain of another organisation.", DOMAIN_CLAIMED)
    return errors


def _refuse(errors: dict) -> None:
    if errors:
        raise ValidationError(errors)


def _changes(before: dict | None, user: User) -> dict[str, list]:
    """Return ``{field: [old, new]}`` for the person's changed fields, related objects by name."""
    after = user_snapshot(user)
    changes = {}
    for name in USER_FIELDS:
        old = None if before is None else before[name]
        new = after[name]
        if old == new or (before is None and new in ("", None, False) and name != "is_active"):
            continue
        label = _RELATED.get(name, name)
        if name in _RELATED:
            model = User._meta.get_field(label).related_model
            names = dict(model.objects.filter(pk__in=[v for v in (old, new) if v]).values_list("pk", "name"))
            old, new = names.get(old, old), names.get(new, new)
        changes[label] = [old, new]
    return changes


# --- people -----------------------------------------------------------------------------------


@transaction.atomic(savepoint=False)
def user_create(*, acting: Actor, user: User, details: dict | None = None, note: str = "") -> User:
    """Create a person; ``details`` replaces the recorded field changes (SCIM's attributes)."""
    if not reach(acting).allows("user", roles.ADD):
        raise PermissionDenied("You cannot add people.")
    _refuse(user_errors(acting=acting, before=None, user=user))
    user.save()
    audit_record(
        acting=acting,
        action="user.created",
        organisation_id=user.organisation_id,
        target_user=user,
        changes=details if details is not None else _changes(None, user),
        note=note,
    )
    return user


@transaction.atomic(savepoint=False)
def user_update(
    *,
    acting: Actor,
    user: User,
    before: dict | None = None,
    details: dict | None = None,
    note: str = "",
    action: str | None = None,
) -> dict:
    """Save the changes made to ``user`` in memory; return what changed (empty when nothing did).

    ``before`` may be given only by a caller that read the person through ``reach(acting)``
    and locked them; otherwise the stored state is read, locked, through the reach rule
    (NotInReachError when out of reach). Deactivation and any role change end the person's
    sessions. ``details`` replaces the recorded field changes (SCIM's attribute changes), and
    ``action`` names the event when the caller knows better (SCIM's "user.adopted").
    """
    actor_reach = reach(acting)
    if not actor_reach.allows("user", roles.CHANGE):
        raise PermissionDenied("You cannot change people.")
    if before is None:
        before = user_snapshot(access_user(acting=acting, user_id=user.pk, for_update=True))
    _refuse(user_errors(acting=acting, before=before, user=user))
    after = user_snapshot(user)
    changed = [name for name in USER_FIELDS if before[name] != after[name]]
    if not changed and not details and action is None:
        return {}
    update_fields = [User._meta.get_field(_RELATED.get(name, name)).attname for name in changed]
    if "role" in changed or (before["is_active"] and not user.is_active):
        # A new session_version changes the session hash, so existing sessions stop validating.
        user.session_version = uuid.uuid4()
        update_fields.append("session_version")
    if update_fields:
        user.save(update_fields=update_fields)
    if action is None and "is_active" in changed:
        action = "user.reactivated" if user.is_active else "user.deactivated"
    action = action or "user.updated"
    changes = details if details is not None else _changes(before, user)
    audit_record(
        acting=acting, action=action, organisation_id=user.organisation_id, target_user=user, changes=changes, note=note
    )
    return changes


def user_deactivate(*, acting: Actor, user: User, note: str = "") -> bool:
    """Deactivate a person and end every open session; return whether anything changed."""
    if not user.is_active:
        return False
    user.is_active = False
    return bool(user_update(acting=acting, user=user, note=note))


def user_reactivate(*, acting: Actor, user: User, note: str = "") -> bool:
    """Reactivate a person; sessions ended at deactivation stay ended. Return whether it changed."""
    if user.is_active:
        return False
    user.is_active = True
    return bool(user_update(acting=acting, user=user, note=note))


@transaction.atomic(savepoint=False)
def user_set_password(*, acting: Actor, user: User, password: str | None) -> None:
    """Set (or, with ``None``, disable) a person's password; their other sessions end with it."""
    if not reach(acting).allows("user", roles.CHANGE):
        raise PermissionDenied("You cannot change people.")
    stored = access_user(acting=acting, user_id=user.pk, for_update=True)
    if password is None:
        stored.set_unusable_password()
    else:
        stored.set_password(password)
    stored.save(update_fields=["password"])
    user.password = stored.password
    audit_record(
        acting=acting,
        action="user.password_changed",
        organisation_id=stored.organisation_id,
        target_user=stored,
        changes={"password": [HIDDEN, HIDDEN]},
        note="Password-based sign-in disabled." if password is None else "Password changed.",
    )


@transaction.atomic
def user_sign_in(*, acting: Actor, user: User) -> None:
    """Record that ``acting`` (a tenant) signs ``user`` in; refuse a person out of its reach."""
    actor_reach = reach(acting)
    if not actor_reach.allows("user", roles.SIGN_IN) or not actor_reach.includes_person(user) or not user.is_active:
        raise NotInReachError("This person cannot be signed in this way.")
    audit_record(
        acting=acting, action="user.signed_in", organisation_id=user.organisation_id, target_user=user, note="Signed in with Microsoft."
    )


@dataclass(frozen=True)
class Placement:
    """Where one person goes: a department and section of their own organisation, and why."""

    user_id: int
    department_id: int
    section_id: int
    note: str


# Rows per query when an action names many people: well below every database's parameter limit.
_CHUNK = 500


@transaction.atomic
def users_place(*, acting: Actor, placements: list[Placement]) -> int:
    """Put people into other departments and sections of their organisation; return how many moved.

    One UPDATE per destination and one INSERT of audit events for the lot, so that placing an
    organisation's people costs linear time in their number. Everyone must be in ``acting``'s
    reach (NotInReachError otherwise) and each destination in their organisation, with the
    section in the department (ValidationError otherwise); then all move, or none.
    """
    if not placements:
        return 0
    actor_reach = reach(acting)
    if not actor_reach.allows("user", roles.CHANGE):
        raise PermissionDenied("You cannot change people.")
    wanted = {placement.user_id: placement for placement in placements}
    people: dict[int, tuple[int | None, int | None, int | None, str]] = {}
    ids = list(wanted)
    for start in range(0, len(ids), _CHUNK):
        rows = (
            actor_reach.people()
            .filter(pk__in=ids[start : start + _CHUNK])
            .select_for_update(of=("self",))
            .values_list("pk", "organisation_id", "department_id", "section_id", "username")
        )
        people.update({pk: rest for pk, *rest in rows})
    missing = set(ids) - set(people)
    if missing:
        raise NotInReachError(f"No user {sorted(missing)[0]!r}.")
    department_ids = {p.department_id for p in placements} | {d for _, d, _, _ in people.values() if d}
    section_ids = {p.section_id for p in placements} | {s for _, _, s, _ in people.values() if s}
    departments = {pk: (org, name) for pk, org, name in Department.objects.filter(pk__in=department_ids).values_list("pk", "organisation_id", "name")}
    sections = {pk: (dep, name) for pk, dep, name in Section.objects.filter(pk__in=section_ids).values_list("pk", "department_id", "name")}
    moves: dict[tuple[int, int], list[int]] = {}
    events = []
    for user_id, placement in wanted.items():
        organisation_id, department_id, section_id, username = people[user_id]
        department, section = departments.get(placement.department_id), sections.get(placement.section_id)
        if department is None or department[0] != organisation_id:
            raise ValidationError({"department": "The department must belong to the user's organisation."})
        if section is None or section[0] != placement.department_id:
            raise ValidationError({"section": "The section must belong to the user's department."})
        if (department_id, section_id) == (placement.department_id, placement.section_id):
            continue
        moves.setdefault((placement.department_id, placement.section_id), []).append(user_id)
        changes = {}
        if department_id != placement.department_id:
            changes["department"] = [departments.get(department_id, (None, None))[1], department[1]]
        if section_id != placement.section_id:
            changes["section"] = [sections.get(section_id, (None, None))[1], section[1]]
        event = audit_event(
            acting=acting, action="user.placed", organisation_id=organisation_id, changes=changes, note=placement.note
        )
        event.target_user_id, event.target_label = user_id, username[:300]
        events.append(event)
    for (department_id, section_id), user_ids in moves.items():
        for start in range(0, len(user_ids), _CHUNK):
            User.objects.filter(pk__in=user_ids[start : start + _CHUNK]).update(
                department_id=department_id, section_id=section_id
            )
    AuditEvent.objects.bulk_create(events, batch_size=_CHUNK)
    return len(events)


# --- an organisation's Azure AD settings --------------------------------------------------------


@dataclass(frozen=True)
class AzureADUpdate:
    """What saving the Azure AD settings did: the labels of the changed fields."""

    organisation: Organisation
    changed_fields: list[str]


_AZURE_AD_FIELDS = ["azure_sso_enabled", "azure_tenant_id", "provisioning_enabled", "default_department", "default_section"]
SIGN_IN_DOMAINS_LABEL = "Sign-in domains"


def azure_ad_errors(*, acting: Actor, organisation: Organisation, settings: AzureADSettings) -> dict[str, list[str]]:
    """Return why ``acting`` may not give the organisation these settings, by field."""
    errors = azure_ad_settings_errors(organisation=organisation, settings=settings)
    domain_errors = domain_claim_errors(acting=acting, organisation=organisation, domains=settings.sign_in_domains)
    if domain_errors:
        errors.setdefault("sign_in_domains", []).extend(domain_errors)
    return errors


@transaction.atomic
def organisation_update_azure_ad(*, acting: Actor, organisation: Organisation, settings: AzureADSettings) -> AzureADUpdate:
    """Store an organisation's Azure AD settings and sign-in domains, or raise ValidationError."""
    # Locked so two admins saving at once cannot both decide from the same state.
    locked = access_organisation_to_change(acting=acting, organisation_id=organisation.pk, for_update=True)
    _refuse(azure_ad_errors(acting=acting, organisation=locked, settings=settings))
    changes = {}
    for name in _AZURE_AD_FIELDS:
        old, new = getattr(locked, name), getattr(settings, name)
        if old != new:
            changes[str(Organisation._meta.get_field(name).verbose_name)] = [_shown(old), _shown(new)]
        setattr(locked, name, new)
    locked.save(update_fields=_AZURE_AD_FIELDS)
    held = set(locked.sign_in_domains.values_list("domain", flat=True))
    wanted = set(settings.sign_in_domains)
    if held != wanted:
        SignInDomain.objects.filter(organisation=locked).exclude(domain__in=wanted).delete()
        # Reassigning a domain moves its claim: checked above against the actor's reach.
        SignInDomain.objects.filter(domain__in=wanted - held).delete()
        SignInDomain.objects.bulk_create([SignInDomain(organisation=locked, domain=d) for d in sorted(wanted - held)])
        changes[SIGN_IN_DOMAINS_LABEL] = [", ".join(sorted(held)), ", ".join(sorted(wanted))]
    for name in _AZURE_AD_FIELDS:
        setattr(organisation, name, getattr(locked, name))
    if changes:
        audit_record(
            acting=acting,
            action="azure_ad.updated",
            organisation_id=locked.pk,
            target_label="Azure AD settings",
            changes=changes,
        )
    return AzureADUpdate(organisation=locked, changed_fields=list(changes))


def _shown(value: object) -> object:
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


# --- agencies, organisations, departments and sections -----------------------------------------

# The field that ties each model to its organisation, which may never change once it exists:
# moving a department or section would carry its people and an organisation's defaults along.
_FIXED_PARENT = {Department: "organisation", Section: "department"}


def _organisation_of(obj) -> Organisation | None:
    if isinstance(obj, Organisation):
        return obj
    if isinstance(obj, Department):
        return obj.organisation if obj.organisation_id else None
    if isinstance(obj, Section):
        return obj.department.organisation if obj.department_id else None
    return None


def _stored(model, pk):
    return model._default_manager.filter(pk=pk).first() if pk else None


def structure_errors(*, acting: Actor, obj) -> dict[str, list[str]]:
    """Return why ``acting`` may not save this agency, organisation, department or section as it is."""
    actor_reach = reach(acting)
    errors: dict[str, list[str]] = {}
    stored = _stored(type(obj), obj.pk)
    parent = _FIXED_PARENT.get(type(obj))
    if stored is not None and parent and getattr(stored, f"{parent}_id") != getattr(obj, f"{parent}_id"):
        errors[parent] = [f"A {obj._meta.verbose_name} cannot move to another {parent} once it exists."]
    if isinstance(obj, Organisation):
        if stored is not None and stored.agency_id != obj.agency_id and not actor_reach.is_everything:
            errors["agency"] = ["Only a Prompt Admin moves an organisation to another agency."]
        elif not actor_reach.is_everything and not actor_reach.includes_organisation(obj):
            errors["agency"] = ["Choose your own agency."]
    elif isinstance(obj, Agency):
        if not actor_reach.is_everything:
            errors["__all__"] = ["Only a Prompt Admin manages agencies."]
    elif not actor_reach.includes_organisation(_organisation_of(obj)):
        errors[parent] = ["Choose one of the organisations you administer."]
    return errors


def _structure_reached(acting: Actor, obj):
    """Lock and return the stored object through the reach rule (NotInReachError otherwise)."""
    model = type(obj)
    found = reach(acting).restrict(model._default_manager.all()).select_for_update().filter(pk=obj.pk).first()
    if found is None:
        raise NotInReachError(f"No {model._meta.verbose_name} {obj.pk!r}.")
    return found


def _structure_fields(obj) -> dict[str, object]:
    return {
        field.name: _shown(getattr(obj, field.name))
        for field in obj._meta.concrete_fields
        if not field.primary_key and field.name not in ("default_department", "default_section")
        and not field.name.startswith(("azure_", "provisioning_"))
    }


@transaction.atomic
def structure_save(*, acting: Actor, obj) -> None:
    """Create or change an agency, organisation, department or section."""
    model_name = obj._meta.model_name
    creating = obj.pk is None
    if not reach(acting).allows(model_name, roles.ADD if creating else roles.CHANGE):
        raise PermissionDenied(f"You cannot {'add' if creating else 'change'} {obj._meta.verbose_name_plural}.")
    before = None if creating else _structure_fields(_structure_reached(acting, obj))
    _refuse(structure_errors(acting=acting, obj=obj))
    obj.save()
    after = _structure_fields(obj)
    changes = {name: [None if before is None else before[name], value] for name, value in after.items()}
    changes = {name: values for name, values in changes.items() if values[0] != values[1]}
    if changes or creating:
        audit_record(
            acting=acting,
            action=f"{model_name}.{'created' if creating else 'updated'}",
            organisation_id=getattr(_organisation_of(obj), "pk", None),
            target_label=f"{obj._meta.verbose_name.capitalize()} {obj}",
            changes=changes,
        )


@transaction.atomic
def structure_delete(*, acting: Actor, obj) -> None:
    """Delete an agency, organisation, department or section (what it protects stops it)."""
    model_name = obj._meta.model_name
    if not reach(acting).allows(model_name, roles.DELETE):
        raise PermissionDenied(f"You cannot delete {obj._meta.verbose_name_plural}.")
    stored = _structure_reached(acting, obj)
    organisation = _organisation_of(stored)
    label = f"{obj._meta.verbose_name.capitalize()} {stored}"
    audit_record(
        acting=acting,
        action=f"{model_name}.deleted",
        organisation_id=None if isinstance(stored, Organisation) or organisation is None else organisation.pk,
        target_label=label,
    )
    stored.delete()
