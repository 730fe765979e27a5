"""Request bodies: SCIM JSON (RFC 7644 §8.1) under whatever JSON media type the client declares."""
from __future__ import annotations

import json

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding
from rest_framework.utils.json import strict_constant

from .protocol.constants import SCIM_MEDIA_TYPE


class ScimJSONParser(JSONParser):
    """Parse a JSON body, declared ``application/scim+json`` (any charset) or ``application/json``.

    Subclassing ``JSONParser`` keeps DRF reading the body through ``HttpRequest.body``, so
    Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` bounds it. ``ScimContentNegotiation`` hands every
    body to this parser, so an unusual Content-Type never earns Entra a 415.
    """

    media_type = SCIM_MEDIA_TYPE

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = get_encoding(parser_context or {})
        try:
            text = stream.read().decode(encoding)
        except UnicodeError:
            raise ParseError(f"The request body is not valid {encoding} text.") from None
        try:
            return json.loads(text, parse_constant=strict_constant)
        except ValueError as exc:
            raise ParseError(f"The request body is not valid JSON: {exc}.") from None
