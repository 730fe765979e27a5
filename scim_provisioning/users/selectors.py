"""Reads for the SCIM API: every selector sees only the people its actor reaches."""
from __future__ import annotations

import uuid

from django.db.models import Count, QuerySet, Window

from organisations.access import Actor, reach

from ..models import ScimUser
from ..protocol.errors import NotFoundError
from ..protocol.filters import Expr
from .filters import filter_q, matches_at_most_one


def _not_found(scim_id: object) -> NotFoundError:
    return NotFoundError(f"User {str(scim_id)[:64]!r} not found.")


def scim_user_identifier(scim_id: object) -> uuid.UUID:
    """Return the UUID a path segment names; anything else names no resource (404)."""
    try:
        return uuid.UUID(str(scim_id))
    except ValueError:
        raise _not_found(scim_id) from None


def scim_users_reached(*, acting: Actor) -> QuerySet[ScimUser]:
    """The SCIM users of the people ``acting`` reaches (for a credential: its organisation's
    people whose role is Admin or none), including SCIM-deleted ones."""
    return ScimUser.objects.filter(reach(acting).people_q("user__"))


def scim_user_get(*, acting: Actor, scim_id: object, for_update: bool = False) -> ScimUser:
    """Return a visible (not deleted) ScimUser in reach, with its Prompt user; 404 otherwise."""
    queryset = scim_users_reached(acting=acting).select_related("user")
    if for_update:
        queryset = queryset.select_for_update()
    try:
        return queryset.get(pk=scim_user_identifier(scim_id), deleted_at__isnull=True)
    except ScimUser.DoesNotExist:
        raise _not_found(scim_id) from None


def scim_user_list(
    *, acting: Actor, filter_expr: Expr | None, start_index: int, count: int
) -> tuple[list[ScimUser], int]:
    """Return one page of the visible ScimUsers in reach matching a filter, and the total.

    The total is counted by the database in the same query as the page (a window count), so
    a page costs one query; only an empty page past the first needs a second.
    """
    queryset = scim_users_reached(acting=acting).filter(deleted_at__isnull=True)
    if filter_expr is not None:
        queryset = queryset.filter(filter_q(filter_expr))
    if count == 0:
        return [], queryset.count()
    if start_index == 1 and filter_expr is not None and matches_at_most_one(filter_expr):
        # Entra's lookup by userName: the rows found are the whole result, so neither a window
        # count nor an order is needed; two would show a broken constraint rather than hide it.
        found = list(queryset.select_related("user")[:2])
        return found[:count], len(found)
    offset = start_index - 1
    page = list(
        queryset.select_related("user")
        .annotate(total_results=Window(Count("pk")))
        # The people's own order, which the (organisation, id) index of users serves.
        .order_by("user_id")[offset : offset + count]
    )
    if page:
        return page, page[0].total_results
    return [], 0 if offset == 0 else queryset.count()
