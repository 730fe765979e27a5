"""What each kind of actor may do: one declarative table, read by ``organisations.access``.

An actor is a person (by their role), a provisioning credential, a sign-in through an
organisation's Microsoft tenant, or the system. Each row grants a *scope* (which organisations
its holder acts in), the people of that scope it reaches (by their role), the roles it may give,
and per model the actions allowed inside the scope. Nothing else grants rights: ``is_staff`` is
kept equal to "has an admin role" by ``User.save`` so Django's own staff checks agree with the
role, and ``is_superuser`` and model permissions are not consulted at all.
"""
from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from .models import Role

VIEW, ADD, CHANGE, DELETE, SIGN_IN = "view", "add", "change", "delete", "sign_in"
_ALL = frozenset({VIEW, ADD, CHANGE, DELETE})
# No role deletes users: a person leaves by deactivation, which keeps their records and ends
# their sessions, and Entra ID may bring them back.
_USERS = frozenset({VIEW, ADD, CHANGE})
_EVERYONE = frozenset(Role.values)
# Groups are Entra ID's: provisioned by the credential, listed read-only in the admin.
_GROUPS_READ = frozenset({VIEW})
GROUP = "scimgroup"
# The people an organisation's own Admin, its Entra ID and its tenant may touch.
_ORGANISATION_PEOPLE = frozenset({Role.ADMIN, Role.NONE})

CREDENTIAL = "credential"
TENANT = "tenant"
SYSTEM = "system"


class Scope(enum.Enum):
    EVERYTHING = "everything"
    AGENCY = "agency"
    ORGANISATION = "organisation"
    NOTHING = "nothing"


@dataclass(frozen=True)
class Capability:
    scope: Scope
    # model_name -> actions allowed on objects inside the scope
    actions: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # Roles of the people inside the scope this holder reaches; under the agency scope an
    # Agency Admin is reached only when it is an Agency Admin of the same agency.
    reached_roles: frozenset[str] = frozenset()
    # Roles its holder may give: never one that would put the person out of its reach.
    assignable_roles: frozenset[str] = frozenset()
    uses_admin: bool = False


CAPABILITIES: Mapping[str, Capability] = {
    Role.PROMPT_ADMIN: Capability(
        scope=Scope.EVERYTHING,
        actions={
            "agency": _ALL, "organisation": _ALL, "department": _ALL, "section": _ALL, "user": _USERS,
            GROUP: _GROUPS_READ,
        },
        reached_roles=_EVERYONE,
        assignable_roles=_EVERYONE,
        uses_admin=True,
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
            GROUP: _GROUPS_READ,
        },
        reached_roles=frozenset({Role.AGENCY_ADMIN, Role.ADMIN, Role.NONE}),
        assignable_roles=frozenset({Role.AGENCY_ADMIN, Role.ADMIN, Role.NONE}),
        uses_admin=True,
    ),
    Role.ADMIN: Capability(
        scope=Scope.ORGANISATION,
        actions={
            "organisation": frozenset({VIEW, CHANGE}),
            "department": _ALL,
            "section": _ALL,
            "user": _USERS,
            GROUP: _GROUPS_READ,
        },
        reached_roles=_ORGANISATION_PEOPLE,
        assignable_roles=_ORGANISATION_PEOPLE,
        uses_admin=True,
    ),
    # A Provisioning Authentication Code, or any credential that replaces it: an organisation
    # Admin's reach over people, and less (no roles, no moves, no reference data).
    CREDENTIAL: Capability(
        scope=Scope.ORGANISATION,
        actions={"user": _USERS, GROUP: _ALL},
        reached_roles=_ORGANISATION_PEOPLE,
        # The people it creates have no role; it never gives or takes one.
        assignable_roles=frozenset({Role.NONE}),
    ),
    # Sign-in with Microsoft through the organisation's tenant: its tenant's administrator
    # controls the claims, so it reaches no more than the organisation's own Admin does.
    TENANT: Capability(
        scope=Scope.ORGANISATION,
        actions={"user": frozenset({SIGN_IN})},
        reached_roles=_ORGANISATION_PEOPLE,
    ),
    # Management commands and the demo seed, run by whoever operates the site.
    SYSTEM: Capability(
        scope=Scope.EVERYTHING,
        actions={
            "agency": _ALL, "organisation": _ALL, "department": _ALL, "section": _ALL, "user": _USERS, GROUP: _ALL,
        },
        reached_roles=_EVERYONE,
        assignable_roles=_EVERYONE,
    ),
}

NO_CAPABILITY = Capability(scope=Scope.NOTHING)
