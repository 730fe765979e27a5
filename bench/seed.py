"""Seed many provisioned users fast: COPY rows cloned from one template user.

The template is a user created the way the site creates them (through the SCIM endpoint when it
answers, otherwise through the ORM), so the copied rows have every column the models define with
the values the code writes. Each clone replaces a marker in every text and JSON value, which
keeps user names, e-mail addresses and external ids unique.
"""
from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field

from django.db import connection, transaction

MARKER = "zzbenchzz"
SAMPLE_SIZE = 20_000


@dataclass
class Template:
    """Column values of one user and its SCIM user, read back from the database."""

    user: dict
    scim_user: dict


@dataclass
class Seeded:
    """What the load needs to know about the seeded users of the measured organisation."""

    count: int
    # (userName, SCIM id) of a random sample, for lookups, GETs and PATCHes.
    sample: list[tuple[str, str]] = field(default_factory=list)


def read_row(table: str, column: str, value) -> dict:
    """Return one row as {column: value}, JSON columns as their text."""
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT * FROM "{table}" WHERE "{column}" = %s', [value])
        names = [column.name for column in cursor.description]
        row = cursor.fetchone()
    return {name: (json.dumps(v) if isinstance(v, (dict, list)) else v) for name, v in zip(names, row)}


def _row_builder(template: dict, fixed: dict):
    """Return (columns, build(token, overrides) -> row) for COPYing clones of ``template``."""
    columns = list(template)
    parts = []
    for column in columns:
        value = fixed.get(column, template[column])
        if isinstance(value, str) and MARKER in value:
            parts.append((True, value.split(MARKER)))
        else:
            parts.append((False, value))

    def build(token: str, overrides: dict) -> list:
        row = []
        for column, (templated, value) in zip(columns, parts):
            if column in overrides:
                row.append(overrides[column])
            elif templated:
                row.append(token.join(value))
            else:
                row.append(value)
        return row

    return columns, build


def seed_users(
    *,
    template: Template,
    organisation_id: int,
    remap: dict[str, object],
    count: int,
    prefix: str,
    sample_size: int = 0,
) -> Seeded:
    """COPY ``count`` clones of ``template`` into ``organisation_id``; return a random sample.

    ``remap`` gives other user columns new values (the organisation's department and section).
    """
    user_fixed = {
        **{k: v for k, v in remap.items() if k in template.user},
        "organisation_id": organisation_id,
        "last_login": None,
    }
    scim_fixed = {"manager_id": None, "deleted_at": None}
    user_columns, build_user = _row_builder(template.user, user_fixed)
    scim_columns, build_scim = _row_builder(template.scim_user, scim_fixed)
    picked = set(random.sample(range(count), min(sample_size, count)))
    seeded = Seeded(count=count)
    template_username = template.user["username"]

    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM organisations_user")
        first_id = cursor.fetchone()[0] + 1
    scim_ids = [uuid.uuid4() for _ in range(count)]
    with transaction.atomic(), connection.connection.cursor() as cursor:
        # psycopg 3's COPY on the raw connection: Django's cursor API has no COPY.
        user_sql = "COPY organisations_user ({}) FROM STDIN".format(", ".join(f'"{c}"' for c in user_columns))
        with cursor.copy(user_sql) as copy:
            for i in range(count):
                copy.write_row(build_user(f"{prefix}{i}", {"id": first_id + i, "session_version": uuid.uuid4()}))
        scim_sql = "COPY scim_provisioning_scimuser ({}) FROM STDIN".format(
            ", ".join(f'"{c}"' for c in scim_columns)
        )
        with cursor.copy(scim_sql) as copy:
            for i in range(count):
                copy.write_row(build_scim(f"{prefix}{i}", {"id": scim_ids[i], "user_id": first_id + i}))
                if i in picked:
                    seeded.sample.append((template_username.replace(MARKER, f"{prefix}{i}"), str(scim_ids[i])))
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('organisations_user', 'id'), (SELECT MAX(id) FROM organisations_user))"
        )
    random.shuffle(seeded.sample)
    return seeded


def analyse() -> None:
    """Refresh the planner's statistics after the bulk load."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE organisations_user")
        cursor.execute("ANALYZE scim_provisioning_scimuser")
