"""Reads for the SCIM API; every selector is scoped to one organisation."""
from __future__ import annotations

import uuid

from django.db.models import Count, Window

from organisations.models import Organisation

from .filters_django import filter_q, matches_at_most_one
from .models import ScimUser
from .protocol.errors import NotFoundError
from .protocol.filters import Expr


def _not_found(scim_id: object) -> NotFoundError:
    return NotFoundError(f"User {str(scim_id)[:64]!r} not found.")


def scim_user_identifier(scim_id: object) -> uuid.UUID:
    """Return the UUID a path segment names; anything else names no resource (404)."""
    try:
        return uuid.UUID(str(scim_id))
    except ValueError:
        raise _not_found(scim_id) from None


def scim_user_get(*, organisation: Organisation, scim_id: object, for_update: bool = False) -> ScimUser:
    """Return the organisation's visible (not deleted) ScimUser with its Prompt user, or 404."""
    queryset = ScimUser.objects.select_related("user")
    if for_update:
        queryset = queryset.select_for_update()
    try:
        return queryset.get(organisation=organisation, pk=scim_user_identifier(scim_id), deleted_at__isnull=True)
    except ScimUser.DoesNotExist:
        raise _not_found(scim_id) from None


def scim_user_list(
    *, organisation: Organisation, filter_expr: Expr | None, start_index: int, count: int
) -> tuple[list[ScimUser], int]:
    """Return one page of the organisation's visible ScimUsers matching a filter, and the total.

    The total is counted by the database in the same query as the page (a window count), so
    a page costs one query; only an empty page past the first needs a second.
    """
    queryset = ScimUser.objects.filter(organisation=organisation, deleted_at__isnull=True)
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
        .order_by("created", "pk")[offset : offset + count]
    )
    if page:
        return page, page[0].total_results
    return [], 0 if offset == 0 else queryset.count()
