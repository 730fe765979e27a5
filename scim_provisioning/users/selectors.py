"""Reads for the SCIM API: every selector sees only the people its actor reaches."""
from __future__ import annotations

import functools
import uuid

from django.db import connection
from django.db.models import Count, QuerySet, Window

from organisations.access import Actor, reach
from organisations.models import User
from organisations.usernames import name_key

from ..models import ScimUser
from ..rows import columns_of, instance_from_row, select_list
from ..protocol.errors import NotFoundError
from ..protocol.filters import Expr
from .filters import filter_q, matches_at_most_one


_SCIM_COLUMNS = columns_of(ScimUser)
_USER_COLUMNS = columns_of(User)


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


@functools.cache
def _select_from(vendor: str) -> str:
    """``SELECT <SCIM user and user columns> FROM … JOIN …``, built once per database vendor."""
    quote = connection.ops.quote_name
    return (
        f"SELECT {select_list(ScimUser, 's', connection, _SCIM_COLUMNS)}, {select_list(User, 'u', connection, _USER_COLUMNS)} "
        f"FROM {quote(ScimUser._meta.db_table)} s INNER JOIN {quote(User._meta.db_table)} u "
        f"ON u.{quote('id')} = s.{quote('user_id')}"
    )


def _visible_in_reach(*, acting: Actor, where: str, params: list, limit: int, for_update: bool = False) -> list[ScimUser]:
    """Visible ScimUsers in reach, with their users, matching ``where`` on ``s`` (SCIM user) or ``u`` (user).

    Written out rather than built with the ORM: Entra's lookups, reads and PATCHes run this
    on nearly every request, and building it costs several times what answering it does.
    """
    reached, reach_params = reach(acting).people_sql("u")
    sql = (
        f"{_select_from(connection.vendor)} "
        f"WHERE {where} AND s.{connection.ops.quote_name('deleted_at')} IS NULL AND {reached} LIMIT {int(limit)}"
    )
    if for_update and connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *reach_params])
        rows = cursor.fetchall()
    found = []
    for row in rows:
        scim_user = instance_from_row(ScimUser, _SCIM_COLUMNS, row[: len(_SCIM_COLUMNS)], connection)
        scim_user.user = instance_from_row(User, _USER_COLUMNS, row[len(_SCIM_COLUMNS) :], connection)
        found.append(scim_user)
    return found


def scim_user_get(*, acting: Actor, scim_id: object, for_update: bool = False) -> ScimUser:
    """Return a visible (not deleted) ScimUser in reach, with its Prompt user; 404 otherwise."""
    identifier = ScimUser._meta.pk.get_db_prep_value(scim_user_identifier(scim_id), connection)
    found = _visible_in_reach(
        acting=acting, where=f"s.{connection.ops.quote_name('id')} = %s", params=[identifier], limit=1, for_update=for_update
    )
    if not found:
        raise _not_found(scim_id)
    return found[0]


def scim_user_named(*, acting: Actor, user_name: str) -> list[ScimUser]:
    """The visible ScimUser in reach with this userName (by name key): none or one, two if broken."""
    return _visible_in_reach(
        acting=acting, where=f"u.{connection.ops.quote_name('username_key')} = %s", params=[name_key(user_name)], limit=2
    )


def scim_user_list(
    *, acting: Actor, filter_expr: Expr | None, start_index: int, count: int
) -> tuple[list[ScimUser], int]:
    """Return one page of the visible ScimUsers in reach matching a filter, and the total.

    The total is counted by the database in the same query as the page (a window count), so
    a page costs one query; only an empty page past the first needs a second.
    """
    if count and start_index == 1 and filter_expr is not None and matches_at_most_one(filter_expr):
        # Entra's lookup by userName: the rows found are the whole result, so neither a window
        # count nor an order is needed; two would show a broken constraint rather than hide it.
        found = scim_user_named(acting=acting, user_name=filter_expr.value)
        return found[:count], len(found)
    queryset = scim_users_reached(acting=acting).filter(deleted_at__isnull=True)
    if filter_expr is not None:
        queryset = queryset.filter(filter_q(filter_expr))
    if count == 0:
        return [], queryset.count()
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
