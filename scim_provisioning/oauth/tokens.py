"""Client secrets and access tokens: generate, digest, and find the one a request presents.

Both are 256 random bits behind a recognisable prefix and are stored only as SHA-256 digests
(unique index), so nobody, not even an admin, can read them back: Entra keeps the secret, and a
token lives for an hour or so. Lookups are one indexed query, like the codes' (``codes.tokens``).
"""
from __future__ import annotations

import functools
import hmac
import secrets
from typing import TYPE_CHECKING

from django.db.models import Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from ..codes.tokens import ORGANISATION_COLUMNS, code_digest

if TYPE_CHECKING:
    from ..models import OAuthAccessToken

SECRET_PREFIX = "pcs_"
ACCESS_TOKEN_PREFIX = "pat_"
_RANDOM_BYTES = 32
_ACCESS_TOKEN_LENGTH = len(ACCESS_TOKEN_PREFIX) + 43
LAST_CHARACTERS = 4

# SHA-256, exactly as for codes: one digest function for every bearer secret.
secret_digest = code_digest


def generate_client_id() -> str:
    """A client identifier: not secret, but unguessable so it discloses no organisation."""
    return secrets.token_hex(16)


def generate_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(_RANDOM_BYTES)


def generate_access_token() -> str:
    return ACCESS_TOKEN_PREFIX + secrets.token_urlsafe(_RANDOM_BYTES)


def active_secrets_q(now=None) -> Q:
    now = now or timezone.now()
    return Q(revoked_at__isnull=True, expires_at__gt=now)


def live_tokens_q(now=None) -> Q:
    now = now or timezone.now()
    return Q(revoked_at__isnull=True, expires_at__gt=now)


def looks_like_access_token(value: str) -> bool:
    return value.startswith(ACCESS_TOKEN_PREFIX)


_TOKEN_COLUMNS = ("id", "organisation_id", "client_id", "secret_id", "digest", "label", "created_at", "last_used_at", "expires_at")


@functools.cache
def _lookup_sql(vendor: str) -> str:
    """The lookup statement, built once per database vendor (it runs on every SCIM request)."""
    from django.db import connection

    from organisations.models import Organisation

    from ..models import OAuthAccessToken
    from ..rows import select_list

    quote = connection.ops.quote_name
    # A token granted for a federated assertion stops working as soon as the Tenancy ID it was
    # verified against changes: its tenant_id is compared with the organisation's current one.
    return (
        f"SELECT {select_list(OAuthAccessToken, 't', connection, _TOKEN_COLUMNS)}, "
        f"{select_list(Organisation, 'o', connection, ORGANISATION_COLUMNS)} "
        f"FROM {quote(OAuthAccessToken._meta.db_table)} t "
        f"JOIN {quote(Organisation._meta.db_table)} o ON o.id = t.organisation_id "
        "WHERE t.digest = %s AND t.revoked_at IS NULL AND t.expires_at > %s AND o.provisioning_enabled "
        "AND (t.tenant_id IS NULL OR t.tenant_id = o.azure_tenant_id)"
    )


@sensitive_variables()
def access_token_for_bearer(value: str) -> OAuthAccessToken | None:
    """Return the live access token matching a bearer value, with its organisation, in one query.

    Revoking a token, its secret or its client, expiry and switching provisioning off all show
    in the row the query reads, so the very next request in every process is refused.
    """
    from django.db import connection

    from organisations.models import Organisation

    from ..models import OAuthAccessToken
    from ..rows import instance_from_row

    if not isinstance(value, str) or len(value) != _ACCESS_TOKEN_LENGTH or not looks_like_access_token(value):
        return None
    digest = secret_digest(value)
    with connection.cursor() as cursor:
        cursor.execute(_lookup_sql(connection.vendor), [digest, connection.ops.adapt_datetimefield_value(timezone.now())])
        row = cursor.fetchone()
    if row is None or not hmac.compare_digest(row[4], digest):
        return None
    token = instance_from_row(OAuthAccessToken, _TOKEN_COLUMNS, row[: len(_TOKEN_COLUMNS)], connection)
    token.organisation = instance_from_row(Organisation, ORGANISATION_COLUMNS, row[len(_TOKEN_COLUMNS) :], connection)
    return token
