"""Writes for SCIM groups: Entra ID's creates, PATCHes and deletes.

Every action takes ``acting=`` (for SCIM, the organisation's provisioning credential) and asks
the reach rule before it writes: a group belongs to the credential's organisation, and its
members must be that organisation's people in the credential's reach. An unknown or foreign
member id refuses the whole request, naming the id, before anything is written.

A membership change costs linear time in the number of members the request names: the ids
are checked with one query per few hundred, the rows are inserted and deleted in batches, and
the group's member count is kept as a column rather than counted. Placement is recomputed for
the people whose membership changed, when a rule names the group.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import F

from organisations import roles
from organisations.access import Actor, reach
from organisations.audit import audit_record

from ..models import PlacementRule, ScimGroup, ScimGroupMember, ScimRequest, ScimUser
from ..placement.actions import placement_refresh
from ..protocol.errors import InvalidValueError, UniquenessError
from ..protocol.groups import GroupChanges, group_changes, name_key, normalise_group
from ..protocol.patch import normalise_patch
from .selectors import scim_group_get

_CHUNK = 500
# How many unknown member ids an error names before it says "and N more".
_NAMED = 5


@dataclass(frozen=True)
class ScimGroupWrite:
    """The outcome of a group write, for the response and the request record."""

    group: ScimGroup
    action: str
    changes: dict
    ignored: tuple[str, ...] = ()


def _allowed(acting: Actor, action: str) -> None:
    if not reach(acting).allows(roles.GROUP, action):
        raise PermissionDenied("You cannot change Entra ID groups.")


def _name_taken(display_name: str) -> UniquenessError:
    return UniquenessError(f"displayName {display_name[:256]!r} is already the name of a group of this organisation.")


def _members_in_reach(*, acting: Actor, ids: tuple[str, ...], include_deleted: bool) -> list[uuid.UUID]:
    """Return the SCIM user ids the request names, or raise invalidValue naming those that are not members' ids.

    Only the organisation's people in ``acting``'s reach can be members; a person Entra ID
    deleted may still be named by a remove (Entra sends it when it deletes a member).
    """
    parsed: dict[str, uuid.UUID | None] = {}
    for raw in ids:
        try:
            parsed[raw] = uuid.UUID(raw)
        except ValueError:
            parsed[raw] = None
    wanted = [identifier for identifier in parsed.values() if identifier is not None]
    found: set[uuid.UUID] = set()
    people = ScimUser.objects.filter(reach(acting).people_q("user__"))
    if not include_deleted:
        people = people.filter(deleted_at__isnull=True)
    for start in range(0, len(wanted), _CHUNK):
        found.update(people.filter(pk__in=wanted[start : start + _CHUNK]).values_list("pk", flat=True))
    unknown = [raw for raw, identifier in parsed.items() if identifier not in found]
    if unknown:
        named = ", ".join(repr(raw[:64]) for raw in unknown[:_NAMED])
        more = f" and {len(unknown) - _NAMED} more" if len(unknown) > _NAMED else ""
        noun = "is not the id of a User" if len(unknown) == 1 else "are not ids of Users"
        raise InvalidValueError(f"members: {named}{more} {noun} of this organisation; nothing was changed.")
    return [parsed[raw] for raw in ids]


def _refresh_placement(*, acting: Actor, group: ScimGroup, scim_user_ids: list) -> None:
    if scim_user_ids and PlacementRule.objects.filter(group=group).exists():
        placement_refresh(acting=acting, organisation=group.organisation, scim_user_ids=scim_user_ids)


def _insert_members(group: ScimGroup, scim_user_ids: list) -> int:
    """Add these people to the group; return how many were not members yet."""
    added = 0
    for start in range(0, len(scim_user_ids), _CHUNK):
        chunk = scim_user_ids[start : start + _CHUNK]
        present = set(ScimGroupMember.objects.filter(group=group, scim_user_id__in=chunk).values_list("scim_user_id", flat=True))
        new = [ScimGroupMember(group=group, scim_user_id=pk) for pk in chunk if pk not in present]
        ScimGroupMember.objects.bulk_create(new)
        added += len(new)
    return added


def _delete_members(group: ScimGroup, scim_user_ids: list) -> int:
    removed = 0
    for start in range(0, len(scim_user_ids), _CHUNK):
        removed += ScimGroupMember.objects.filter(group=group, scim_user_id__in=scim_user_ids[start : start + _CHUNK]).delete()[0]
    return removed


def scim_group_create(*, acting: Actor, body: object) -> ScimGroupWrite:
    """Create a group from a POST body, with its members (RFC 7644 §3.3)."""
    _allowed(acting, roles.ADD)
    group_input = normalise_group(body)
    try:
        with transaction.atomic():
            members = _members_in_reach(acting=acting, ids=group_input.members, include_deleted=False)
            group = ScimGroup.objects.create(
                organisation=acting.organisation,
                display_name=group_input.display_name,
                display_name_key=name_key(group_input.display_name),
                external_id=group_input.external_id,
                member_count=len(members),
            )
            ScimGroupMember.objects.bulk_create(
                [ScimGroupMember(group=group, scim_user_id=pk) for pk in members], batch_size=_CHUNK
            )
            changes = {"displayName": [None, group.display_name], "members": [0, len(members)]}
            audit_record(
                acting=acting,
                action="group.created",
                organisation_id=group.organisation_id,
                target_label=f"Group {group.display_name}",
                changes=changes,
            )
    except IntegrityError:
        # The unique name key: Entra matches groups by displayName, so two of one name cannot be.
        raise _name_taken(group_input.display_name) from None
    return ScimGroupWrite(group, ScimRequest.Action.CREATED, changes, group_input.ignored)


def scim_group_patch(*, acting: Actor, scim_id: object, body: object) -> ScimGroupWrite:
    """Apply a PatchOp body to a group (RFC 7644 §3.5.2) atomically: every operation or none."""
    _allowed(acting, roles.CHANGE)
    operations = normalise_patch(body)
    wanted: GroupChanges = group_changes(operations, group_id=str(scim_id))
    try:
        with transaction.atomic():
            group = scim_group_get(acting=acting, scim_id=scim_id, for_update=True)
            changes = _apply(acting=acting, group=group, wanted=wanted)
    except IntegrityError:
        raise _name_taken(wanted.display_name or "") from None
    return ScimGroupWrite(group, ScimRequest.Action.UPDATED if changes else "", changes, wanted.ignored)


def _apply(*, acting: Actor, group: ScimGroup, wanted: GroupChanges) -> dict:
    """Write one change-set on a locked group; return what changed."""
    added = _members_in_reach(acting=acting, ids=wanted.replace_members or wanted.add_members, include_deleted=False)
    removed = _members_in_reach(acting=acting, ids=wanted.remove_members, include_deleted=True)
    changes: dict = {}
    fields = []
    if wanted.display_name is not None and wanted.display_name != group.display_name:
        changes["displayName"] = [group.display_name, wanted.display_name]
        group.display_name, group.display_name_key = wanted.display_name, name_key(wanted.display_name)
        fields += ["display_name", "display_name_key"]
    if wanted.external_id is not None and wanted.external_id != group.external_id:
        changes["externalId"] = [group.external_id, wanted.external_id]
        group.external_id = wanted.external_id
        fields.append("external_id")
    touched: list = []
    count_before = group.member_count
    if wanted.replace_members is not None:
        # A whole new list: linear in the group's size, which the client sent as well.
        current = list(ScimGroupMember.objects.filter(group=group).values_list("scim_user_id", flat=True))
        keep = set(added)
        leaving = [pk for pk in current if pk not in keep]
        net_removed = _delete_members(group, leaving)
        net_added = _insert_members(group, added)
        touched = [*leaving, *added]
    else:
        net_removed = _delete_members(group, removed)
        net_added = _insert_members(group, added)
        touched = [*removed, *added]
    if net_added or net_removed:
        group.member_count = count_before + net_added - net_removed
        changes["members"] = [count_before, group.member_count]
        fields.append("member_count")
    if fields:
        # auto_now sets last_modified on save; naming it keeps the UPDATE to what changed.
        group.save(update_fields=[*fields, "last_modified"])
        audit_record(
            acting=acting,
            action="group.updated",
            organisation_id=group.organisation_id,
            target_label=f"Group {group.display_name}",
            changes=changes,
            note=f"{net_added} member(s) added, {net_removed} removed." if "members" in changes else "",
        )
    if net_added or net_removed:
        _refresh_placement(acting=acting, group=group, scim_user_ids=touched)
    return changes


@transaction.atomic
def scim_group_delete(*, acting: Actor, scim_id: object) -> ScimGroupWrite:
    """Delete a group and its memberships (RFC 7644 §3.6); the people themselves stay.

    A rule naming the group keeps its name and matches nobody from now on, so its members are
    placed again.
    """
    _allowed(acting, roles.DELETE)
    group = scim_group_get(acting=acting, scim_id=scim_id, for_update=True)
    used = PlacementRule.objects.filter(group=group).exists()
    members = list(ScimGroupMember.objects.filter(group=group).values_list("scim_user_id", flat=True)) if used else []
    audit_record(
        acting=acting,
        action="group.deleted",
        organisation_id=group.organisation_id,
        target_label=f"Group {group.display_name}",
        changes={"members": [group.member_count, 0]},
    )
    organisation = group.organisation
    group.delete()
    if members:
        placement_refresh(acting=acting, organisation=organisation, scim_user_ids=members)
    return ScimGroupWrite(group, ScimRequest.Action.DELETED, {})


def scim_groups_leave(*, scim_user: ScimUser) -> int:
    """Take a person out of every group (Entra ID deleted them, or they left its management).

    Called inside the action that removes the person; their groups' counts follow.
    """
    group_ids = list(ScimGroupMember.objects.filter(scim_user=scim_user).values_list("group_id", flat=True))
    if group_ids:
        ScimGroupMember.objects.filter(scim_user=scim_user).delete()
        ScimGroup.objects.filter(pk__in=group_ids).update(member_count=F("member_count") - 1)
    return len(group_ids)

