"""OAuth 2.0 token requests (RFC 6749 §4.4, client credentials) and their client authentication.

Pure protocol: ``client_credentials_request`` reads the form fields and the Authorization header
of a token request and says which of the three client authentications it carries (HTTP Basic,
form ``client_id``/``client_secret``, or an RFC 7523 JWT assertion), or raises ``OAuthError``
with the RFC 6749 §5.2 error the endpoint answers. Nothing here knows Django or the database.
"""
from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import unquote_plus

GRANT_TYPE = "client_credentials"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

BASIC = "basic"
FORM = "form"
ASSERTION = "assertion"

# Longer values are refused before any lookup: ours are far shorter, and Entra's assertions
# (its access tokens) are a few kilobytes at most.
MAX_CLIENT_ID = 256
MAX_SECRET = 512
MAX_ASSERTION = 16 * 1024


class OAuthError(Exception):
    """An RFC 6749 §5.2 error response: ``error`` code, description and HTTP status."""

    def __init__(self, error: str, description: str, *, status: int = 400, basic_challenge: bool = False) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        # RFC 6749 §5.2: a client that tried HTTP Basic gets 401 with WWW-Authenticate.
        self.basic_challenge = basic_challenge

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def invalid_client(description: str, *, basic: bool = False) -> OAuthError:
    return OAuthError("invalid_client", description, status=401, basic_challenge=basic)


def invalid_request(description: str) -> OAuthError:
    return OAuthError("invalid_request", description)


@dataclass(frozen=True)
class ClientAuthentication:
    """The client authentication a token request carries; only the fields of its ``method`` are set."""

    method: str
    client_id: str | None = None
    secret: str | None = None
    assertion: str | None = None

    def __repr__(self) -> str:
        # Never the secret or the assertion, wherever this ends up (logs, error reports).
        return f"ClientAuthentication(method={self.method!r}, client_id={self.client_id!r})"


def _single(form: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = form.get(name) or []
    if len(values) > 1:
        # RFC 6749 §3.2: parameters must not be included more than once.
        raise invalid_request(f"The parameter {name} must not be repeated.")
    return values[0] if values else None


def _basic(authorization: str) -> tuple[str, str]:
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        raise invalid_client("Authenticate the client with HTTP Basic, form fields or a client assertion.", basic=True)
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid_client("The Authorization header is not valid HTTP Basic credentials.", basic=True) from None
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id or not secret:
        raise invalid_client("HTTP Basic credentials must be client_id:client_secret.", basic=True)
    # RFC 6749 §2.3.1: both halves are form-encoded before they are joined and base64-encoded.
    return unquote_plus(client_id), unquote_plus(secret)


def client_credentials_request(*, form: Mapping[str, Sequence[str]], authorization: str | None) -> ClientAuthentication:
    """Validate a token request and return its client authentication, or raise ``OAuthError``."""
    names = ("grant_type", "client_id", "client_secret", "client_assertion_type", "client_assertion")
    grant_type, client_id, secret, assertion_type, assertion = (_single(form, name) for name in names)
    if not grant_type:
        raise invalid_request("The parameter grant_type is required.")
    if grant_type != GRANT_TYPE:
        raise OAuthError("unsupported_grant_type", f"Only grant_type={GRANT_TYPE} is supported.")

    basic = bool(authorization and authorization.strip())
    methods = [name for name, present in ((BASIC, basic), (FORM, secret is not None), (ASSERTION, assertion is not None)) if present]
    if len(methods) > 1:
        # RFC 6749 §2.3: a client must not use more than one authentication method per request.
        raise invalid_request("Use exactly one client authentication: HTTP Basic, client_secret or client_assertion.")
    if assertion_type is not None and methods != [ASSERTION]:
        raise invalid_request("client_assertion_type needs client_assertion.")
    if not methods:
        if client_id:
            raise invalid_client("The client is not authenticated: send client_secret or client_assertion.")
        raise invalid_client("The client is not authenticated: use HTTP Basic, client_secret or client_assertion.")

    method = methods[0]
    if method == BASIC:
        basic_id, basic_secret = _basic(authorization or "")
        if client_id is not None and client_id != basic_id:
            raise invalid_request("client_id does not match the client of the Authorization header.")
        if len(basic_id) > MAX_CLIENT_ID or len(basic_secret) > MAX_SECRET:
            raise invalid_client("The client credentials are not valid.", basic=True)
        return ClientAuthentication(BASIC, client_id=basic_id, secret=basic_secret)
    if method == FORM:
        if not client_id:
            raise invalid_request("The parameter client_id is required with client_secret.")
        if not secret or len(client_id) > MAX_CLIENT_ID or len(secret) > MAX_SECRET:
            raise invalid_client("The client credentials are not valid.")
        return ClientAuthentication(FORM, client_id=client_id, secret=secret)
    if assertion_type != JWT_BEARER:
        raise invalid_request(f"client_assertion_type must be {JWT_BEARER}.")
    if not assertion or len(assertion) > MAX_ASSERTION or (client_id is not None and len(client_id) > MAX_CLIENT_ID):
        raise invalid_client("The client assertion is not valid.")
    return ClientAuthentication(ASSERTION, client_id=client_id or None, assertion=assertion)
