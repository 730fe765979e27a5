"""Who may touch whom: the actor behind every write, and the one rule of reach.

Every action takes ``acting=`` (an ``Actor``) and asks ``reach(acting)`` before it writes; the
admin's querysets and choices and the SCIM selectors are limited by the same rule. Whatever is
out of reach raises ``NotInReachError``, which the admin and SCIM both answer as a 404, exactly
like something that does not exist. The capabilities themselves are the table in ``roles``.

The rule, by scope:

* everything (Prompt Admins, the system): every organisation and person;
* agency (Agency Admins): the agency's organisations, and their people except Prompt Admins
  and Agency Admins of another agency;
* organisation (an Admin, a provisioning credential, a sign-in through the tenant): the
  organisation, and its people whose role is Admin or none.

A write must find its target in reach before it changes it and leave it in reach afterwards,
so nobody can move a person, or give a role, beyond their own reach.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Q, QuerySet

from . import roles
from .models import Agency, AuditEvent, Department, Organisation, Role, Section, User
from .roles import Capability, Scope


class NotInReachError(Exception):
    """The target does not exist for this actor: answered 404 by every channel."""


@dataclass(frozen=True)
class Actor:
    """Who is acting: a person, a provisioning credential, a sign-in through a tenant, or the system."""

    kind: str
    user: User | None = None
    # The organisation a credential or tenant acts for.
    organisation: Organisation | None = None
    # How a credential or the system reads in the audit trail.
    label: str = ""

    @classmethod
    def person(cls, user: User) -> Actor:
        return cls(AuditEvent.ActorKind.PERSON, user=user)

    @classmethod
    def credential(cls, *, organisation: Organisation, label: str) -> Actor:
        """An organisation's provisioning credential, ``label`` naming it without its secret."""
        return cls(AuditEvent.ActorKind.CREDENTIAL, organisation=organisation, label=label)

    @classmethod
    def tenant(cls, *, organisation: Organisation) -> Actor:
        """Sign-in with Microsoft through the organisation's Entra ID tenant."""
        return cls(AuditEvent.ActorKind.TENANT, organisation=organisation, label="Microsoft sign-in")

    @classmethod
    def system(cls, reason: str) -> Actor:
        """The site itself, for ``reason`` (a management command, the demo seed)."""
        return cls(AuditEvent.ActorKind.SYSTEM, label=reason)

    @property
    def capability(self) -> Capability:
        if self.kind == AuditEvent.ActorKind.PERSON:
            user = self.user
            if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
                return roles.NO_CAPABILITY
            return roles.CAPABILITIES.get(user.role, roles.NO_CAPABILITY)
        key = {
            AuditEvent.ActorKind.CREDENTIAL: roles.CREDENTIAL,
            AuditEvent.ActorKind.TENANT: roles.TENANT,
            AuditEvent.ActorKind.SYSTEM: roles.SYSTEM,
        }[self.kind]
        return roles.CAPABILITIES[key]

    def __str__(self) -> str:
        if self.kind == AuditEvent.ActorKind.PERSON and self.user is not None:
            name = self.user.get_full_name()
            return f"{name} ({self.user.username})" if name else self.user.username
        return self.label


@dataclass(frozen=True)
class Reach:
    """What one actor reaches: organisations, people and the actions allowed on them."""

    capability: Capability
    agency_id: int | None = None
    organisation_id: int | None = None

    @property
    def scope(self) -> Scope:
        return self.capability.scope

    @property
    def is_everything(self) -> bool:
        return self.scope is Scope.EVERYTHING

    def allows(self, model_name: str, action: str) -> bool:
        """Whether the actor may take ``action`` on ``model_name`` objects inside its scope."""
        return action in self.capability.actions.get(model_name, frozenset())

    # --- organisations -----------------------------------------------------------------------

    def organisations_q(self, prefix: str = "") -> Q:
        """The organisations in reach, as a filter on ``prefix`` + the organisation's fields."""
        if self.scope is Scope.EVERYTHING:
            return Q()
        if self.scope is Scope.AGENCY and self.agency_id is not None:
            return Q(**{f"{prefix}agency_id": self.agency_id})
        if self.scope is Scope.ORGANISATION and self.organisation_id is not None:
            return Q(**{f"{prefix}pk": self.organisation_id})
        return Q(pk__in=[])

    def organisations(self) -> QuerySet[Organisation]:
        return Organisation.objects.filter(self.organisations_q())

    def includes_organisation(self, organisation: Organisation | None) -> bool:
        if organisation is None:
            return self.scope is Scope.EVERYTHING
        if self.scope is Scope.EVERYTHING:
            return True
        if self.scope is Scope.AGENCY:
            return self.agency_id is not None and organisation.agency_id == self.agency_id
        if self.scope is Scope.ORGANISATION:
            return self.organisation_id is not None and organisation.pk == self.organisation_id
        return False

    def agencies(self) -> QuerySet[Agency]:
        if self.scope is Scope.EVERYTHING:
            return Agency.objects.all()
        if self.scope is Scope.AGENCY and self.agency_id is not None:
            return Agency.objects.filter(pk=self.agency_id)
        return Agency.objects.none()

    # --- people ------------------------------------------------------------------------------

    def people_q(self, prefix: str = "") -> Q:
        """The people in reach, as a filter on ``prefix`` + the user's fields (e.g. ``"user__"``)."""
        if self.scope is Scope.EVERYTHING:
            return Q()
        if self.scope is Scope.NOTHING:
            return Q(pk__in=[])
        reached = self.capability.reached_roles
        query = self.organisations_q(f"{prefix}organisation__") & Q(**{f"{prefix}organisation__isnull": False})
        query &= Q(**{f"{prefix}role__in": [role for role in reached if role != Role.AGENCY_ADMIN]})
        if Role.AGENCY_ADMIN in reached and self.scope is Scope.AGENCY:
            # An Agency Admin reaches fellow Agency Admins of its own agency only.
            query |= self.organisations_q(f"{prefix}organisation__") & Q(
                **{f"{prefix}role": Role.AGENCY_ADMIN, f"{prefix}agency_id": self.agency_id}
            )
        return query

    def people_sql(self, alias: str) -> tuple[str, list]:
        """``people_q`` as SQL on the user table ``alias``, for SCIM's few hand-written queries.

        The same rule, written once more for the requests that cannot afford to build it with
        the ORM; a test compares the two for every kind of actor.
        """
        quote = connection.ops.quote_name
        column = {name: f"{alias}.{quote(name)}" for name in ("organisation_id", "role", "agency_id")}
        if self.scope is Scope.EVERYTHING:
            return "1 = 1", []
        if self.scope is Scope.NOTHING:
            return "1 = 0", []
        roles = sorted(role for role in self.capability.reached_roles if role != Role.AGENCY_ADMIN)
        in_roles = f"{column['role']} IN ({', '.join(['%s'] * len(roles))})"
        if self.scope is Scope.ORGANISATION:
            if self.organisation_id is None:
                return "1 = 0", []
            return f"{column['organisation_id']} = %s AND {in_roles}", [self.organisation_id, *roles]
        if self.agency_id is None:
            return "1 = 0", []
        organisations = (
            f"{column['organisation_id']} IN (SELECT {quote('id')} FROM {quote(Organisation._meta.db_table)} "
            f"WHERE {quote('agency_id')} = %s)"
        )
        fellow = f"({column['role']} = %s AND {column['agency_id']} = %s)"
        return (
            f"{organisations} AND ({in_roles} OR {fellow})",
            [self.agency_id, *roles, Role.AGENCY_ADMIN, self.agency_id],
        )

    def people(self, queryset: QuerySet[User] | None = None) -> QuerySet[User]:
        queryset = User.objects.all() if queryset is None else queryset
        return queryset.filter(self.people_q())

    def includes_person(self, user: User) -> bool:
        """Whether ``user``, as it is in memory (possibly about to be saved), is in reach."""
        if self.scope is Scope.EVERYTHING:
            return True
        if self.scope is Scope.NOTHING or user.organisation_id is None:
            return False
        if self.scope is Scope.ORGANISATION:
            if user.organisation_id != self.organisation_id:
                return False
        elif not self.includes_organisation(user.organisation):
            return False
        if user.role == Role.AGENCY_ADMIN:
            return self.scope is Scope.AGENCY and user.agency_id == self.agency_id
        return user.role in self.capability.reached_roles

    def may_assign(self, role: str) -> bool:
        return role in self.capability.assignable_roles

    def assignable_roles(self) -> list[tuple[str, str]]:
        """The role choices the actor may give, in the table's order."""
        return [(value, label) for value, label in Role.choices if self.may_assign(value)]

    # --- any administered model ----------------------------------------------------------------

    def restrict(self, queryset: QuerySet) -> QuerySet:
        """Limit a queryset of an administered model to the rows in reach."""
        model = queryset.model
        if model is User:
            return self.people(queryset)
        if model is Agency:
            return queryset.filter(pk__in=self.agencies().values("pk"))
        path = _ORGANISATION_PATHS.get(model)
        if path is None:
            return queryset if self.is_everything else queryset.none()
        return queryset.filter(self.organisations_q(path))


# How each administered model reaches its organisation; a model missing here is never scoped open.
_ORGANISATION_PATHS = {Organisation: "", Department: "organisation__", Section: "department__organisation__"}


def reach(actor: Actor) -> Reach:
    """Return what ``actor`` reaches."""
    capability = actor.capability
    if capability.scope is Scope.AGENCY:
        return Reach(capability, agency_id=actor.user.agency_id if actor.user else None)
    if capability.scope is Scope.ORGANISATION:
        organisation = actor.organisation if actor.kind != AuditEvent.ActorKind.PERSON else None
        organisation_id = organisation.pk if organisation else (actor.user.organisation_id if actor.user else None)
        return Reach(capability, organisation_id=organisation_id)
    return Reach(capability)


def access_user(*, acting: Actor, user_id: object, for_update: bool = False) -> User:
    """Return the user with this id if ``acting`` reaches them; raise NotInReachError otherwise."""
    queryset = reach(acting).people().select_related("organisation")
    if for_update:
        queryset = queryset.select_for_update(of=("self",))
    try:
        return queryset.get(pk=user_id)
    except (User.DoesNotExist, ValueError, TypeError):
        raise NotInReachError(f"No user {str(user_id)[:64]!r}.") from None


def access_organisation(*, acting: Actor, organisation_id: object, for_update: bool = False) -> Organisation:
    """Return the organisation if ``acting`` reaches it; raise NotInReachError otherwise."""
    queryset = reach(acting).organisations()
    if for_update:
        queryset = queryset.select_for_update()
    try:
        return queryset.get(pk=organisation_id)
    except (Organisation.DoesNotExist, ValueError, TypeError):
        raise NotInReachError(f"No organisation {str(organisation_id)[:64]!r}.") from None


def access_organisation_to_change(*, acting: Actor, organisation_id: object, for_update: bool = False) -> Organisation:
    """Return the organisation if ``acting`` may change it (its settings, codes, rules, brake).

    PermissionDenied for an actor without the right to change organisations at all (a
    credential, a person with no role); NotInReachError for one out of its reach.
    """
    if not reach(acting).allows("organisation", roles.CHANGE):
        raise PermissionDenied("You cannot change organisations.")
    return access_organisation(acting=acting, organisation_id=organisation_id, for_update=for_update)


def can_use_admin(user) -> bool:
    """Whether a (possibly anonymous or inactive) user may sign in to the admin at all."""
    return Actor.person(user).capability.uses_admin
