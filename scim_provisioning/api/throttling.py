"""Failed SCIM authentication, counted per client address in the shared cache.

Only failures count, and a valid code is never refused: Entra ID calls from shared Azure
addresses, so another tenant's wrong code must not hold up an organisation whose code is right.
The count lives in Django's default cache (Redis in production, see README), so every app
process sees the same one. A fixed window keeps it to two cache operations per failure.
"""
from __future__ import annotations

import hashlib
import logging
import math
import time

from django.conf import settings
from django.core.cache import cache

from ..protocol.errors import TooManyRequestsError

logger = logging.getLogger(__name__)

KEY_PREFIX = "scim-auth-failures"


class AuthenticationThrottledError(TooManyRequestsError):
    """Too many failed authentications from one address; ``wait`` becomes ``Retry-After``."""

    default_detail = "Too many failed authentication attempts from this address; retry later."

    def __init__(self, wait: int) -> None:
        super().__init__()
        self.wait = wait


def client_address(request) -> str:
    """Return the caller's address: REMOTE_ADDR, or the one the trusted proxies saw.

    With ``SCIM_TRUSTED_PROXY_COUNT`` = n, the n-th X-Forwarded-For entry from the right is the
    address the outermost trusted proxy received the request from; entries left of it are the
    caller's own claims and are ignored.
    """
    proxies = settings.SCIM_TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies > 0 and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return request.META.get("REMOTE_ADDR", "")


def _key(address: str, window: int) -> str:
    # Hashed: a forwarded address is caller-supplied text and cache keys must stay short and plain.
    digest = hashlib.sha256(address.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{KEY_PREFIX}:{digest}:{window}"


def authentication_failure_record(request) -> int | None:
    """Count a failed authentication; return the seconds to wait once over the limit, else None.

    A cache that cannot be reached is logged and lets the request through to its 401: the
    throttle must never turn into an outage.
    """
    limit = settings.SCIM_AUTH_FAILURE_LIMIT
    length = settings.SCIM_AUTH_FAILURE_WINDOW_SECONDS
    if limit <= 0 or length <= 0:
        return None
    now = time.time()
    window = int(now // length)
    address = client_address(request)
    key = _key(address, window)
    try:
        # add() starts the window's count (only if absent); incr() is atomic in every backend.
        cache.add(key, 0, timeout=length + 1)
        try:
            failures = cache.incr(key)
        except ValueError:  # the key expired between add() and incr()
            cache.add(key, 1, timeout=length + 1)
            failures = 1
    except Exception:
        logger.exception("Could not count a failed SCIM authentication in the cache")
        return None
    if failures <= limit:
        return None
    if failures == limit + 1:
        logger.warning(
            "SCIM authentication failed %d times in %d s from %s; answering 429 until the window ends",
            failures,
            length,
            address,
        )
    return max(1, math.ceil((window + 1) * length - now))
