"""Workload identity federation: verify the JWT Entra ID presents as a client assertion (RFC 7523).

The assertion is a token the organisation's own Entra tenant issued to its application, so it
is pinned to what the Azure AD page already knows: signed with RS256 by a key the tenant
publishes at ``{AZURE_AUTHORITY}/{Tenancy ID}/discovery/v2.0/keys``; issued by that tenant;
about (``sub``) the Object ID and for (``aud``) the Application (client) ID set for the
organisation; short-lived; and used once (``jti``).

The tenant's keys are cached: fresh for a day, kept for a week, fetched again at once (but at
most once a minute) when an assertion names an unknown ``kid``. A key server that cannot be
reached does not stop a tenant whose keys are cached; without any it is a 503 the client retries.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from django.core.cache import cache
from joserfc import jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError, InvalidClaimError, InvalidKeyIdError, JoseError, MissingClaimError
from joserfc.jwk import KeySet

logger = logging.getLogger(__name__)

# Entra signs its tokens with RS256; accepting nothing else rules out "none" and HMAC tricks.
ALGORITHMS = ["RS256"]
LEEWAY_SECONDS = 5 * 60
MAX_LIFETIME_SECONDS = 60 * 60
KEYS_FRESH_SECONDS = 24 * 60 * 60
KEYS_KEPT_SECONDS = 7 * 24 * 60 * 60
# An unknown kid refetches the keys at most this often, so made-up kids cannot flood the key server.
REFETCH_INTERVAL_SECONDS = 60
HTTP_TIMEOUT_SECONDS = 5


class AssertionRefusedError(Exception):
    """The assertion is not acceptable; ``reason`` is for the log, never for the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class KeysUnavailableError(Exception):
    """The tenant's signing keys could not be fetched, and none are cached."""


@dataclass(frozen=True)
class Federation:
    """What an organisation's assertions must match."""

    tenant_id: uuid.UUID
    application_id: uuid.UUID
    object_id: uuid.UUID


def unverified_claims(assertion: str) -> dict[str, Any]:
    """The claims of an assertion before any check: only to find whose assertion it claims to be."""
    parts = assertion.split(".")
    if len(parts) != 3:
        raise AssertionRefusedError("not a compact JWS")
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except (binascii.Error, ValueError):
        raise AssertionRefusedError("unreadable claims") from None
    if not isinstance(claims, dict):
        raise AssertionRefusedError("claims are not an object")
    return claims


def keys_url(tenant_id: uuid.UUID) -> str:
    return f"{settings.AZURE_AUTHORITY.rstrip('/')}/{tenant_id}/discovery/v2.0/keys"


def issuers(tenant_id: uuid.UUID) -> list[str]:
    authority = settings.AZURE_AUTHORITY.rstrip("/")
    return [f"{authority}/{tenant_id}/v2.0", f"{authority}/{tenant_id}"]


def _cache_key(url: str) -> str:
    return f"oauth-federation-keys:{hashlib.sha256(url.encode()).hexdigest()}"


def _fetch(url: str) -> dict[str, Any]:
    response = requests.get(url, timeout=HTTP_TIMEOUT_SECONDS)
    response.raise_for_status()
    document = response.json()
    KeySet.import_key_set(document)  # refuse an unusable document before caching it
    return document


def signing_keys(tenant_id: uuid.UUID, *, unknown_kid: bool = False) -> KeySet:
    """The tenant's published keys, from the cache when fresh enough."""
    url = keys_url(tenant_id)
    key = _cache_key(url)
    entry = cache.get(key)
    now = time.time()
    age = now - entry["fetched"] if entry else None
    due = age is None or age > KEYS_FRESH_SECONDS or (unknown_kid and age > REFETCH_INTERVAL_SECONDS)
    if due:
        try:
            document = _fetch(url)
        except (requests.RequestException, ValueError, TypeError, KeyError, JoseError) as error:
            if entry is None:
                logger.warning("Could not fetch the signing keys at %s: %s", url, type(error).__name__)
                raise KeysUnavailableError(url) from error
            # Keep working with the cached keys; the next assertion tries the key server again.
            logger.warning("Could not refresh the signing keys at %s (%s); using the cached ones", url, type(error).__name__)
        else:
            entry = {"fetched": now, "document": document}
            cache.set(key, entry, KEYS_KEPT_SECONDS)
    return KeySet.import_key_set(entry["document"])


def _same_guid(value: object, expected: uuid.UUID) -> bool:
    try:
        return isinstance(value, str) and uuid.UUID(value) == expected
    except ValueError:
        return False


def verified_claims(assertion: str, federation: Federation, *, now: float | None = None) -> dict[str, Any]:
    """Return the assertion's claims once every check passes; raise AssertionRefusedError otherwise."""
    keys = signing_keys(federation.tenant_id)
    try:
        try:
            token = jwt.decode(assertion, keys, algorithms=ALGORITHMS)
        except InvalidKeyIdError:
            # The tenant may have rolled its keys since they were cached: fetch them again, once.
            token = jwt.decode(assertion, signing_keys(federation.tenant_id, unknown_kid=True), algorithms=ALGORITHMS)
    except InvalidKeyIdError:
        raise AssertionRefusedError("signed with a key the tenant does not publish") from None
    except BadSignatureError:
        raise AssertionRefusedError("bad signature") from None
    except (JoseError, ValueError, TypeError) as error:
        raise AssertionRefusedError(f"malformed: {type(error).__name__}") from None
    if token.header.get("alg") not in ALGORITHMS:
        raise AssertionRefusedError("not RS256")

    claims = token.claims
    moment = int(now if now is not None else time.time())
    registry = jwt.JWTClaimsRegistry(
        now=moment,
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "values": issuers(federation.tenant_id)},
        exp={"essential": True},
        iat={"essential": True},
        jti={"essential": True},
        sub={"essential": True},
        aud={"essential": True},
    )
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise AssertionRefusedError("expired") from None
    except (InvalidClaimError, MissingClaimError) as error:
        raise AssertionRefusedError(f"claim {error.claim}: {error.error}") from None
    if not _same_guid(claims["sub"], federation.object_id):
        raise AssertionRefusedError("sub is not the Object ID")
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if not any(_same_guid(audience, federation.application_id) for audience in audiences):
        raise AssertionRefusedError("aud is not the Application (client) ID")
    if "tid" in claims and not _same_guid(claims["tid"], federation.tenant_id):
        raise AssertionRefusedError("tid is not the Tenancy ID")
    if not isinstance(claims["jti"], str) or not claims["jti"]:
        raise AssertionRefusedError("no jti")
    start = claims["nbf"] if isinstance(claims.get("nbf"), (int, float)) else claims["iat"]
    # Entra dates its tokens a few minutes back, so the leeway is allowed on the lifetime too.
    if claims["exp"] - min(start, claims["iat"]) > MAX_LIFETIME_SECONDS + LEEWAY_SECONDS:
        raise AssertionRefusedError("lives longer than an hour")
    return claims


def replay_digest(tenant_id: uuid.UUID, jti: str) -> str:
    """The key under which an assertion's single use is recorded."""
    return hashlib.sha256(f"{tenant_id}:{jti}".encode("utf-8", "surrogatepass")).hexdigest()
