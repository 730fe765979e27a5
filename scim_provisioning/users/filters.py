"""Turn a parsed SCIM filter (RFC 7644 §3.4.2.2) into one Django ``Q`` over ``ScimUser``.

Only attributes with a column or JSON key in ``mapping`` can be filtered. Anything else, and
any operator that makes no sense for the attribute, is ``InvalidFilterError``: a filter is
never silently widened or emptied. Text compares per the attribute's ``caseExact``; ``userName``
compares the person's name key (``organisations.usernames``), the very column the unique
constraint indexes, so a lookup and the uniqueness check can never disagree.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timezone as dt_timezone

from django.db.models import Q, Value
from django.db.models.functions import Left, Length, Lower, Right, StrIndex
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    LessThan,
    LessThanOrEqual,
)
from django.utils.dateparse import parse_datetime

from ..protocol.errors import InvalidFilterError
from ..protocol.filters import (
    And,
    AttrPath,
    Comparison,
    Expr,
    Not,
    Or,
    Present,
    ValuePath,
    format_filter,
)
from ..protocol.schema import COMPLEX, resolve_attribute
from . import mapping

Resolver = Callable[[AttrPath], mapping.MappedAttribute]

_ORDERING = {"gt": GreaterThan, "ge": GreaterThanOrEqual, "lt": LessThan, "le": LessThanOrEqual}
_DATE_LOOKUPS = {"eq": "exact", "gt": "gt", "ge": "gte", "lt": "lt", "le": "lte"}
_ALWAYS = Q(pk__isnull=False)


def filter_q(expr: Expr) -> Q:
    """Return the ``Q`` selecting the ScimUsers that ``expr`` matches."""
    return _build(expr, _resolve)


def matches_at_most_one(expr: Expr) -> bool:
    """Whether ``expr`` is ``userName eq "…"``, which the unique constraint lets match one user at most."""
    return (
        isinstance(expr, Comparison)
        and expr.op == "eq"
        and isinstance(expr.value, str)
        and _resolve(expr.path).path == "userName"
    )


def _build(expr: Expr, resolve: Resolver) -> Q:
    if isinstance(expr, And):
        return _build(expr.left, resolve) & _build(expr.right, resolve)
    if isinstance(expr, Or):
        return _build(expr.left, resolve) | _build(expr.right, resolve)
    if isinstance(expr, Not):
        return ~_build(expr.expr, resolve)
    if isinstance(expr, Present):
        return _present(resolve(expr.path))
    if isinstance(expr, ValuePath):
        if resolve is not _resolve:
            raise InvalidFilterError("Value filters cannot be nested.")
        return _value_path(expr)
    return _compare(resolve(expr.path), expr.op, expr.value)


def _resolve(path: AttrPath) -> mapping.MappedAttribute:
    ref = resolve_attribute(path.schema, path.attribute, path.sub_attribute)
    if ref is None:
        raise InvalidFilterError(f"Unknown attribute {str(path)!r} in filter.")
    sub = ref.sub_attribute.name if ref.sub_attribute else None
    attribute = mapping.mapped_attribute(ref.schema.urn, ref.attribute.name, sub)
    if attribute is None and ref.attribute.type == COMPLEX and not ref.attribute.multi_valued:
        # RFC 7644 §3.4.2.2: a complex attribute without a sub-attribute means its "value";
        # the manager is mapped by its id, so "manager" and "manager.value" are one.
        if sub is None or sub == "value":
            attribute = mapping.mapped_attribute(ref.schema.urn, ref.attribute.name, None)
    if attribute is None:
        raise InvalidFilterError(f"Filtering on {str(path)!r} is not supported.")
    return attribute


def _value_path(expr: ValuePath) -> Q:
    """Handle ``emails[type eq "work" and value eq "x"]`` (and Entra's ``…].value eq "x"``)."""
    ref = resolve_attribute(expr.path.schema, expr.path.attribute)
    if ref is None:
        raise InvalidFilterError(f"Unknown attribute {str(expr.path)!r} in filter.")
    conjuncts = _conjuncts(expr.filter)
    typed = [c for c in conjuncts if _is_type_equality(c)]
    attribute = None
    if len(typed) == 1:
        attribute = mapping.mapped_attribute(ref.schema.urn, ref.attribute.name, "value", typed[0].value)
    if attribute is None:
        raise InvalidFilterError(f"Filtering on {str(expr.path)}[{format_filter(expr.filter)}] is not supported.")

    def resolve_element(path: AttrPath) -> mapping.MappedAttribute:
        if path.schema is None and path.sub_attribute is None and path.attribute.casefold() == "value":
            return attribute
        raise InvalidFilterError(f"Filtering on {str(expr.path)}.{path} is not supported.")

    rest = [c for c in conjuncts if c is not typed[0]]
    query = _present(attribute)
    for conjunct in rest:
        query &= _build(conjunct, resolve_element)
    return query


def _conjuncts(expr: Expr) -> list[Expr]:
    if isinstance(expr, And):
        return _conjuncts(expr.left) + _conjuncts(expr.right)
    return [expr]


def _is_type_equality(expr: Expr) -> bool:
    return (
        isinstance(expr, Comparison)
        and expr.op == "eq"
        and expr.path.schema is None
        and expr.path.sub_attribute is None
        and expr.path.attribute.casefold() == "type"
        and isinstance(expr.value, str)
    )


def _present(attribute: mapping.MappedAttribute) -> Q:
    if attribute.kind == mapping.TEXT:
        return ~Q(Exact(attribute.expression(), Value("")))
    if attribute.kind == mapping.BOOLEAN:
        return _ALWAYS
    return Q(**{f"{attribute.field}__isnull": False})


def _compare(attribute: mapping.MappedAttribute, op: str, value: object) -> Q:
    if value is None:
        # "eq null" asks for an absent attribute, "ne null" for a present one.
        if op not in ("eq", "ne"):
            raise InvalidFilterError(f"{attribute.path} cannot be compared with null using {op!r}.")
        return ~_present(attribute) if op == "eq" else _present(attribute)
    if attribute.kind == mapping.TEXT:
        return _compare_text(attribute, op, value)
    if attribute.kind == mapping.BOOLEAN:
        return _compare_boolean(attribute, op, value)
    if attribute.kind == mapping.IDENTIFIER:
        return _compare_identifier(attribute, op, value)
    return _compare_date_time(attribute, op, value)


def _compare_text(attribute: mapping.MappedAttribute, op: str, value: object) -> Q:
    if not isinstance(value, str):
        raise InvalidFilterError(f"{attribute.path} is a string; compare it with a quoted string.")
    lhs, rhs = attribute.expression(), Value(value)
    if attribute.key is not None:
        rhs = Value(attribute.key(value))
    elif not attribute.case_exact:
        lhs, rhs = Lower(lhs), Lower(rhs)
    if op == "eq":
        return Q(Exact(lhs, rhs))
    if op == "ne":
        return ~Q(Exact(lhs, rhs))
    if op in ("co", "sw", "ew") and value == "":
        # Every string contains, starts and ends with "": the attribute need only be present.
        return _present(attribute)
    if op == "co":
        return Q(GreaterThan(StrIndex(lhs, rhs), 0))
    if op == "sw":
        return Q(Exact(Left(lhs, Length(rhs)), rhs))
    if op == "ew":
        return _present(attribute) & Q(Exact(Right(lhs, Length(rhs)), rhs))
    # An absent attribute reads as "" in the database but is not "less than" anything.
    return _present(attribute) & Q(_ORDERING[op](lhs, rhs))


def _compare_boolean(attribute: mapping.MappedAttribute, op: str, value: object) -> Q:
    if not isinstance(value, bool) or op not in ("eq", "ne"):
        raise InvalidFilterError(f"{attribute.path} is a boolean; use 'eq true', 'eq false', 'ne' or 'pr'.")
    query = Q(**{attribute.field: value})
    return query if op == "eq" else ~query


def _compare_identifier(attribute: mapping.MappedAttribute, op: str, value: object) -> Q:
    if not isinstance(value, str) or op not in ("eq", "ne"):
        raise InvalidFilterError(f"{attribute.path} is an identifier; only 'eq', 'ne' and 'pr' apply.")
    try:
        identifier = uuid.UUID(value)
    except ValueError:
        # Ids are UUIDs: anything else names no resource, so eq matches nothing and ne everything.
        return ~_ALWAYS if op == "eq" else _ALWAYS
    query = Q(**{attribute.field: identifier})
    return query if op == "eq" else ~query


def _compare_date_time(attribute: mapping.MappedAttribute, op: str, value: object) -> Q:
    if op in ("co", "sw", "ew"):
        raise InvalidFilterError(f"{attribute.path} is a date and time; {op!r} does not apply.")
    try:
        moment = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise InvalidFilterError(f"{attribute.path} needs an RFC 3339 date and time, such as \"2025-01-31T09:00:00Z\".")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt_timezone.utc)
    if op == "ne":
        return ~Q(**{attribute.field: moment})
    return Q(**{f"{attribute.field}__{_DATE_LOOKUPS[op]}": moment})
