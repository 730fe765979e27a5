"""Reads of groups: every selector sees only the groups of the organisations its actor reaches."""
from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.db.models import Q, QuerySet

from organisations.access import Actor, reach

from ..models import ScimGroup, ScimGroupMember
from ..protocol.errors import NotFoundError
from ..protocol.filters import Expr
from ..protocol.groups import group_filter_conditions, name_key


def _not_found(scim_id: object) -> NotFoundError:
    return NotFoundError(f"Group {str(scim_id)[:64]!r} not found.")


def scim_groups_reached(*, acting: Actor) -> QuerySet[ScimGroup]:
    """The groups of the organisations ``acting`` reaches (for a credential: its own)."""
    return ScimGroup.objects.filter(reach(acting).organisations_q("organisation__"))


def scim_group_get(*, acting: Actor, scim_id: object, for_update: bool = False) -> ScimGroup:
    """Return the group with this id in ``acting``'s reach; 404 for any other id, as for a missing one."""
    try:
        identifier = uuid.UUID(str(scim_id))
    except ValueError:
        raise _not_found(scim_id) from None
    queryset = scim_groups_reached(acting=acting)
    if for_update:
        queryset = queryset.select_for_update()
    group = queryset.filter(pk=identifier).first()
    if group is None:
        raise _not_found(scim_id)
    return group


def _condition_q(attribute: str, value: str) -> Q:
    if attribute == "displayName":
        return Q(display_name_key=name_key(value))
    if attribute == "externalId":
        return Q(external_id=value)
    try:
        identifier = uuid.UUID(value)
    except ValueError:
        return Q(pk__in=[])  # not the id of any resource: matches nothing
    if attribute == "id":
        return Q(pk=identifier)
    return Q(pk__in=ScimGroupMember.objects.filter(scim_user_id=identifier).values("group_id"))


def scim_group_list(
    *, acting: Actor, filter_expr: Expr | None, start_index: int, count: int
) -> tuple[list[ScimGroup], int]:
    """Return one page of the groups in reach matching a filter (in name order), and the total."""
    queryset = scim_groups_reached(acting=acting)
    if filter_expr is not None:
        for condition in group_filter_conditions(filter_expr):
            queryset = queryset.filter(_condition_q(condition.attribute, condition.value))
    total = queryset.count()
    if count == 0 or total < start_index:
        return [], total
    # The (organisation, name key) unique index serves this order.
    page = list(queryset.order_by("display_name_key")[start_index - 1 : start_index - 1 + count])
    return page, total


def scim_group_member_ids(*, groups: Iterable[ScimGroup]) -> dict[object, list]:
    """``{group id: [member SCIM user ids, in the order they joined]}`` in one query."""
    members: dict[object, list] = {group.pk: [] for group in groups}
    if not members:
        return members
    rows = ScimGroupMember.objects.filter(group_id__in=list(members)).order_by("group_id", "pk")
    for group_id, scim_user_id in rows.values_list("group_id", "scim_user_id").iterator(chunk_size=5000):
        members[group_id].append(scim_user_id)
    return members
