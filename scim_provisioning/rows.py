"""Model instances from the rows of the few hand-written queries on SCIM's hot path.

Those queries run on nearly every request from Entra ID, where building them with the ORM
costs several times what the database takes to answer; the rows are converted exactly as the
ORM converts them, so the instances are the ORM's own.
"""
from __future__ import annotations

from collections.abc import Sequence


def columns_of(model) -> list[str]:
    """Every concrete column of ``model``, by attribute name (``user_id``, not ``user``)."""
    return [field.attname for field in model._meta.concrete_fields]


def select_list(model, alias: str, connection, columns: Sequence[str] | None = None) -> str:
    """``alias."col", …`` for a SELECT of ``model``'s columns."""
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(column)}" for column in (columns or columns_of(model)))


def _converters(model, columns: tuple[str, ...], connection) -> list[tuple[object, list]]:
    key = (model, columns, connection.alias)
    found = _CONVERTERS.get(key)
    if found is None:
        fields = {field.attname: field for field in model._meta.concrete_fields}
        found = []
        for name in columns:
            field = fields[name]
            column = field.get_col(model._meta.db_table)
            found.append((column, connection.ops.get_db_converters(column) + field.get_db_converters(connection)))
        _CONVERTERS[key] = found
    return found


# (model, columns, database alias) -> per column, its expression and the ORM's converters for it.
_CONVERTERS: dict[tuple, list[tuple[object, list]]] = {}


def instance_from_row(model, columns: Sequence[str], values: Sequence[object], connection):
    """Build a model instance from raw column values, converted as the ORM converts them."""
    columns = tuple(columns)
    converted = []
    for (column, converters), value in zip(_converters(model, columns, connection), values):
        for converter in converters:
            value = converter(value, column, connection)
        converted.append(value)
    return model.from_db(connection.alias, list(columns), converted)
