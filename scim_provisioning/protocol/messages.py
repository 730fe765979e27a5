"""List responses and pagination (RFC 7644 §3.4.2 and §3.4.2.4)."""
from __future__ import annotations

import re
from collections.abc import Iterable

from .constants import LIST_RESPONSE_URN
from .errors import InvalidValueError

_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")


def list_response(resources: Iterable[dict], *, total_results: int, start_index: int, items_per_page: int) -> dict:
    """Return a ListResponse body; zero results is still a success (RFC 7644 §3.4.2)."""
    return {
        "schemas": [LIST_RESPONSE_URN],
        "totalResults": total_results,
        "Resources": list(resources),
        "startIndex": start_index,
        "itemsPerPage": items_per_page,
    }


def parse_pagination(
    start_index_raw: str | int | None,
    count_raw: str | int | None,
    *,
    default_count: int,
    max_count: int,
) -> tuple[int, int]:
    """Return ``(start_index, count)`` from the raw ``startIndex`` and ``count`` query parameters."""
    # RFC 7644 §3.4.2.4: startIndex is 1-based and below 1 means 1; a negative
    # count means 0; above the maximum means the maximum. A non-integer is 400
    # invalidValue: the RFC names no scimType for query parameters, and
    # invalidValue is the closest fit (invalidSyntax describes bodies).
    start_index = _integer(start_index_raw, "startIndex")
    count = _integer(count_raw, "count")
    start_index = 1 if start_index is None or start_index < 1 else start_index
    count = default_count if count is None else count
    return start_index, max(0, min(count, max_count))


def _integer(raw: str | int | None, name: str) -> int | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise InvalidValueError(f"{name} must be an integer.")
    if isinstance(raw, int):
        return raw
    text = str(raw).strip()
    if not _INTEGER.fullmatch(text):
        raise InvalidValueError(f"{name} must be an integer, not {str(raw)[:20]!r}.")
    return int(text)
