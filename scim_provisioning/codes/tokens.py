"""Provisioning Authentication Codes: generate, digest, encrypt for reveal, and verify.

A code is ``pscim_`` followed by 43 URL-safe characters (256 random bits). Only its SHA-256
digest (unique index, used to authenticate) and a Fernet-encrypted copy (so an authorised admin
can reveal it) are stored; the Fernet keys come from ``PROVISIONING_CODE_KEYS``, newest first.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

if TYPE_CHECKING:
    from organisations.models import Organisation

    from ..models import ProvisioningCode

CODE_PREFIX = "pscim_"
_RANDOM_BYTES = 32
_CODE_LENGTH = len(CODE_PREFIX) + 43
LAST_CHARACTERS = 4


class CodeDecryptionError(Exception):
    """The encrypted copy cannot be read with any configured key."""


def generate_code() -> str:
    """Return a new high-entropy code with the recognisable prefix."""
    return CODE_PREFIX + secrets.token_urlsafe(_RANDOM_BYTES)


@sensitive_variables()
def code_digest(code: str) -> str:
    """Return the hex SHA-256 digest under which a code is stored and looked up."""
    return hashlib.sha256(code.encode("utf-8", "surrogatepass")).hexdigest()


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.PROVISIONING_CODE_KEYS])


@sensitive_variables()
def encrypt_code(code: str) -> str:
    """Encrypt a code with the newest configured key."""
    return _fernet().encrypt(code.encode()).decode()


@sensitive_variables()
def decrypt_code(encrypted: str) -> str:
    """Decrypt a stored copy with whichever configured key made it."""
    try:
        return _fernet().decrypt(encrypted.encode()).decode()
    except InvalidToken as exc:
        raise CodeDecryptionError("No configured PROVISIONING_CODE_KEYS key can read this code.") from exc


def reencrypt_code(encrypted: str) -> str:
    """Re-encrypt a stored copy with the newest key (for key rotation)."""
    try:
        return _fernet().rotate(encrypted.encode()).decode()
    except InvalidToken as exc:
        raise CodeDecryptionError("No configured PROVISIONING_CODE_KEYS key can read this code.") from exc


def active_codes_q(now=None) -> Q:
    """Filter for codes that still authenticate (not revoked, grace period not over)."""
    now = now or timezone.now()
    return Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))


# What a SCIM request reads of its code and organisation; any other field loads on first access.
_CODE_COLUMNS = ("id", "organisation_id", "digest", "last_characters", "created_at", "last_used_at", "expires_at")
# Shared with the access-token lookup (oauth.tokens), so both credentials load the same organisation.
ORGANISATION_COLUMNS = (
    "id", "agency_id", "name", "slug", "provisioning_enabled", "default_department_id", "default_section_id",
    "placement_by_rules",
)


@functools.cache
def _lookup_sql(vendor: str) -> str:
    """The lookup statement, built once per database vendor (it runs on every SCIM request)."""
    from django.db import connection

    from organisations.models import Organisation

    from ..models import OAuthClient, ProvisioningCode
    from ..rows import select_list

    quote = connection.ops.quote_name
    # An organisation whose OAuth client no longer accepts codes refuses every code at once.
    return (
        f"SELECT {select_list(ProvisioningCode, 'c', connection, _CODE_COLUMNS)}, "
        f"{select_list(Organisation, 'o', connection, ORGANISATION_COLUMNS)} "
        f"FROM {quote(ProvisioningCode._meta.db_table)} c "
        f"JOIN {quote(Organisation._meta.db_table)} o ON o.id = c.organisation_id "
        f"LEFT JOIN {quote(OAuthClient._meta.db_table)} k ON k.organisation_id = o.id "
        "WHERE c.digest = %s AND c.revoked_at IS NULL AND (c.expires_at IS NULL OR c.expires_at > %s) "
        "AND o.provisioning_enabled AND (k.id IS NULL OR k.accepts_code)"
    )


@sensitive_variables()
def code_for_bearer(value: str) -> ProvisioningCode | None:
    """Return the active code matching a bearer value, with its organisation, in one query.

    Every request reads the database, so a revoked, expired or disabled code is refused by the
    very next request in every process. The statement is written out because it runs on every
    SCIM request: building it with the ORM costs about four times what the query itself does.
    The database is searched by the digest, so timing does not depend on how much of the secret
    an attacker has guessed; the final comparison is constant-time as well.
    """
    from django.db import connection

    from organisations.models import Organisation

    from ..models import ProvisioningCode
    from ..rows import instance_from_row

    if not isinstance(value, str) or len(value) != _CODE_LENGTH or not value.startswith(CODE_PREFIX):
        return None
    digest = code_digest(value)
    with connection.cursor() as cursor:
        cursor.execute(_lookup_sql(connection.vendor), [digest, connection.ops.adapt_datetimefield_value(timezone.now())])
        row = cursor.fetchone()
    if row is None or not hmac.compare_digest(row[2], digest):
        return None
    code = instance_from_row(ProvisioningCode, _CODE_COLUMNS, row[: len(_CODE_COLUMNS)], connection)
    code.organisation = instance_from_row(Organisation, ORGANISATION_COLUMNS, row[len(_CODE_COLUMNS) :], connection)
    return code


def organisation_for_code(value: str) -> Organisation | None:
    """Return the organisation a valid, active code provisions, or ``None``."""
    code = code_for_bearer(value)
    return code.organisation if code else None
