"""What each role may do in the admin: one declarative table, read by every admin class.

A role grants two things: a *scope* (which organisations its holder administers) and, per model,
the admin actions allowed inside that scope. Nothing else grants admin rights: ``is_staff`` is
kept equal to "has an admin role" by ``User.save`` so Django's own staff checks agree with the
role, and ``is_superuser`` and model permissions are not consulted at all.
"""
from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.db.models import QuerySet

from .models import Agency, Organisation, Role

VIEW, ADD, CHANGE, DELETE = "view", "add", "change", "delete"
_ALL = frozenset({VIEW, ADD, CHANGE, DELETE})
# No role deletes users: a person leaves by deactivation, which keeps their records and ends
# their sessions, and Entra ID may bring them back.
_USERS = frozenset({VIEW, ADD, CHANGE})


class Scope(enum.Enum):
    EVERYTHING = "everything"
    AGENCY = "agency"
    ORGANISATION = "organisation"
    NOTHING = "nothing"


@dataclass(frozen=True)
class Capability:
    scope: Scope
    # model_name -> admin actions allowed on objects inside the scope
    actions: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # Roles its holder may give (and users holding them they may edit): never above their own.
    assignable_roles: frozenset[str] = frozenset()


CAPABILITIES: Mapping[str, Capability] = {
    Role.PROMPT_ADMIN: Capability(
        scope=Scope.EVERYTHING,
        actions={"agency": _ALL, "organisation": _ALL, "department": _ALL, "section": _ALL, "user": _USERS},
        assignable_roles=frozenset(Role.values),
    ),
    Role.AGENCY_ADMIN: Capability(
        scope=Scope.AGENCY,
        actions={
            "agency": frozenset({VIEW}),
            # Deleting an organisation removes everyone in it: left to Prompt Admins.
            "organisation": frozenset({VIEW, ADD, CHANGE}),
            "department": _ALL,
            "section": _ALL,
            "user": _USERS,
        },
        assignable_roles=frozenset({Role.AGENCY_ADMIN, Role.ADMIN, Role.NONE}),
    ),
    Role.ADMIN: Capability(
        scope=Scope.ORGANISATION,
        actions={
            "organisation": frozenset({VIEW, CHANGE}),
            "department": _ALL,
            "section": _ALL,
            "user": _USERS,
        },
        assignable_roles=frozenset({Role.ADMIN, Role.NONE}),
    ),
}

NO_CAPABILITY = Capability(scope=Scope.NOTHING)


def capability_for(user) -> Capability:
    """Return the capability of a (possibly anonymous or inactive) user."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return NO_CAPABILITY
    return CAPABILITIES.get(user.role, NO_CAPABILITY)


def can_use_admin(user) -> bool:
    """Return whether the user may sign in to the admin at all."""
    return capability_for(user).scope is not Scope.NOTHING


def is_allowed(user, model_name: str, action: str) -> bool:
    """Return whether the user's role allows an admin action on a model, within its scope."""
    return action in capability_for(user).actions.get(model_name, frozenset())


def organisations_for(user) -> QuerySet[Organisation]:
    """Return the organisations the user administers."""
    scope = capability_for(user).scope
    if scope is Scope.EVERYTHING:
        return Organisation.objects.all()
    if scope is Scope.AGENCY and user.agency_id:
        return Organisation.objects.filter(agency_id=user.agency_id)
    if scope is Scope.ORGANISATION and user.organisation_id:
        return Organisation.objects.filter(pk=user.organisation_id)
    return Organisation.objects.none()


def agencies_for(user) -> QuerySet[Agency]:
    """Return the agencies the user may see."""
    scope = capability_for(user).scope
    if scope is Scope.EVERYTHING:
        return Agency.objects.all()
    if scope is Scope.AGENCY and user.agency_id:
        return Agency.objects.filter(pk=user.agency_id)
    return Agency.objects.none()


# How each administered model reaches its organisation; a model missing here is never scoped open.
ORGANISATION_PATHS: dict[str, str] = {
    "organisation": "pk",
    "department": "organisation",
    "section": "department__organisation",
    "user": "organisation",
}


def restrict(user, queryset: QuerySet) -> QuerySet:
    """Limit a queryset of an administered model to the rows the user administers."""
    capability = capability_for(user)
    if capability.scope is Scope.EVERYTHING:
        return queryset
    name = queryset.model._meta.model_name
    if name == "agency":
        return queryset.filter(pk__in=agencies_for(user))
    path = ORGANISATION_PATHS.get(name)
    if path is None:
        return queryset.none()
    queryset = queryset.filter(**{f"{path}__in": organisations_for(user)})
    if name == "user":
        # Users holding a role above one's own are out of reach, even in one's organisation.
        queryset = queryset.filter(role__in=capability.assignable_roles)
    return queryset


def assignable_roles(user) -> list[tuple[str, str]]:
    """Return the role choices the user may give, in the table's order."""
    allowed = capability_for(user).assignable_roles
    return [(value, label) for value, label in Role.choices if value in allowed]
