"""Request bodies: SCIM JSON (RFC 7644 §8.1) under whatever JSON media type the client declares."""
from __future__ import annotations

import json
import math

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding
from rest_framework.utils.json import strict_constant

from ..protocol.constants import SCIM_MEDIA_TYPE
from ..protocol.errors import InvalidSyntaxError, PayloadTooLargeError

# The deepest SCIM body is a PATCH value inside an operation (about six levels); anything far
# deeper is hostile, and would exhaust the recursion of every function that walks it.
MAX_DEPTH = 32


def body_too_large() -> PayloadTooLargeError:
    """Return the 413 for a body over ``SCIM_MAX_BODY_BYTES``."""
    return PayloadTooLargeError(f"The request body is larger than {settings.SCIM_MAX_BODY_BYTES} bytes.")


class ScimJSONParser(JSONParser):
    """Parse a JSON body, declared ``application/scim+json`` (any charset) or ``application/json``.

    DRF reads the body through ``HttpRequest.body``, so Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE``
    bounds it too; ``SCIM_MAX_BODY_BYTES`` is checked against the Content-Length before the
    body is read (``ScimView.initial``) and against what was actually read here.
    ``ScimContentNegotiation`` hands every body to this parser, so an unusual Content-Type never
    earns Entra a 415.
    """

    media_type = SCIM_MEDIA_TYPE

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = get_encoding(parser_context or {})
        raw = stream.read(settings.SCIM_MAX_BODY_BYTES + 1)
        if len(raw) > settings.SCIM_MAX_BODY_BYTES:
            raise body_too_large()
        try:
            text = raw.decode(encoding)
        except UnicodeError:
            raise ParseError(f"The request body is not valid {encoding} text.") from None
        try:
            data = json.loads(text, parse_constant=strict_constant, parse_float=_finite_float)
        except RecursionError:
            raise _too_deep() from None
        except ValueError as exc:
            raise ParseError(f"The request body is not valid JSON: {exc}.") from None
        if _depth(data) > MAX_DEPTH:
            raise _too_deep()
        return data


def _finite_float(text: str) -> float:
    # 1e400 parses as infinity, which neither SCIM nor the database's JSON can hold.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def _too_deep() -> InvalidSyntaxError:
    return InvalidSyntaxError(f"The request body is nested more than {MAX_DEPTH} levels deep.")


def _depth(data: object) -> int:
    """Return how deeply arrays and objects nest in parsed JSON (iteratively: no recursion)."""
    deepest = 0
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
        pending.extend((child, depth + 1) for child in children)
    return deepest
