"""Response bodies: always ``application/scim+json`` (RFC 7644 §8.1), whatever the Accept header."""
from __future__ import annotations

from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer

from ..protocol.constants import SCIM_MEDIA_TYPE


class ScimJSONRenderer(JSONRenderer):
    media_type = SCIM_MEDIA_TYPE
    format = "scim"


class ScimContentNegotiation(BaseContentNegotiation):
    """Ignore Accept and Content-Type: SCIM speaks one media type.

    Entra sends GETs without a SCIM Accept header and bodies as
    ``application/scim+json; charset=utf-8``; a 406 or 415 fails Test Connection.
    """

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
