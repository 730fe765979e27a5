"""The token request's grammar: grant type, the three client authentications and RFC 6749 §5.2 errors."""
from __future__ import annotations

import base64

import pytest

from scim_provisioning.protocol import oauth
from scim_provisioning.protocol.oauth import ASSERTION, BASIC, FORM, JWT_BEARER, OAuthError


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def form(**fields) -> dict[str, list[str]]:
    return {name: value if isinstance(value, list) else [value] for name, value in fields.items()}


GRANT = {"grant_type": "client_credentials"}

ACCEPTED = [
    # (form fields, Authorization header, method, client_id, secret, assertion)
    (GRANT, basic("abc", "s3cret"), BASIC, "abc", "s3cret", None),
    # RFC 6749 §2.3.1: both halves are form-encoded inside the Basic credentials.
    (GRANT, basic("a%3Ab", "x+y%25"), BASIC, "a:b", "x y%", None),
    ({**GRANT, "client_id": "abc"}, basic("abc", "s3cret"), BASIC, "abc", "s3cret", None),
    ({**GRANT, "client_id": "abc", "client_secret": "s3cret"}, None, FORM, "abc", "s3cret", None),
    ({**GRANT, "client_id": "abc", "client_secret": "s3cret", "scope": "ignored"}, None, FORM, "abc", "s3cret", None),
    ({**GRANT, "client_assertion_type": JWT_BEARER, "client_assertion": "a.b.c"}, None, ASSERTION, None, None, "a.b.c"),
    (
        {**GRANT, "client_id": "abc", "client_assertion_type": JWT_BEARER, "client_assertion": "a.b.c"},
        None,
        ASSERTION,
        "abc",
        None,
        "a.b.c",
    ),
]


@pytest.mark.parametrize(("fields", "authorization", "method", "client_id", "secret", "assertion"), ACCEPTED)
def test_accepted_requests_name_their_one_client_authentication(fields, authorization, method, client_id, secret, assertion):
    authentication = oauth.client_credentials_request(form=form(**fields), authorization=authorization)
    assert (authentication.method, authentication.client_id, authentication.secret, authentication.assertion) == (
        method,
        client_id,
        secret,
        assertion,
    )


REFUSED = [
    # (form fields, Authorization header, error, status, WWW-Authenticate Basic)
    ({}, None, "invalid_request", 400, False),
    ({"grant_type": "password", "client_id": "a", "client_secret": "b"}, None, "unsupported_grant_type", 400, False),
    ({"grant_type": "authorization_code"}, basic("a", "b"), "unsupported_grant_type", 400, False),
    ({"grant_type": ["client_credentials", "client_credentials"], "client_id": "a", "client_secret": "b"}, None, "invalid_request", 400, False),
    ({**GRANT, "client_id": ["a", "b"], "client_secret": "s"}, None, "invalid_request", 400, False),
    # No client authentication at all.
    (GRANT, None, "invalid_client", 401, False),
    ({**GRANT, "client_id": "abc"}, None, "invalid_client", 401, False),
    # More than one method (RFC 6749 §2.3).
    ({**GRANT, "client_id": "abc", "client_secret": "s"}, basic("abc", "s"), "invalid_request", 400, False),
    (
        {**GRANT, "client_id": "abc", "client_secret": "s", "client_assertion_type": JWT_BEARER, "client_assertion": "x"},
        None,
        "invalid_request",
        400,
        False,
    ),
    ({**GRANT, "client_assertion_type": JWT_BEARER, "client_assertion": "x"}, basic("a", "b"), "invalid_request", 400, False),
    # Basic that is not Basic, or not client_id:client_secret.
    (GRANT, "Bearer abc", "invalid_client", 401, True),
    (GRANT, "Basic !!!", "invalid_client", 401, True),
    (GRANT, "Basic " + base64.b64encode(b"no-colon").decode(), "invalid_client", 401, True),
    (GRANT, basic("", "secret"), "invalid_client", 401, True),
    (GRANT, basic("abc", ""), "invalid_client", 401, True),
    (GRANT, "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(), "invalid_client", 401, True),
    (GRANT, basic("abc", "x" * 600), "invalid_client", 401, True),
    ({**GRANT, "client_id": "other"}, basic("abc", "s"), "invalid_request", 400, False),
    # Form credentials.
    ({**GRANT, "client_secret": "s"}, None, "invalid_request", 400, False),
    ({**GRANT, "client_id": "abc", "client_secret": ""}, None, "invalid_client", 401, False),
    ({**GRANT, "client_id": "a" * 300, "client_secret": "s"}, None, "invalid_client", 401, False),
    # Assertions.
    ({**GRANT, "client_assertion": "a.b.c"}, None, "invalid_request", 400, False),
    ({**GRANT, "client_assertion_type": "urn:other", "client_assertion": "a.b.c"}, None, "invalid_request", 400, False),
    ({**GRANT, "client_assertion_type": JWT_BEARER}, None, "invalid_request", 400, False),
    ({**GRANT, "client_assertion_type": JWT_BEARER, "client_assertion": ""}, None, "invalid_client", 401, False),
    ({**GRANT, "client_assertion_type": JWT_BEARER, "client_assertion": "x" * 20000}, None, "invalid_client", 401, False),
    ({**GRANT, "client_id": "abc", "client_secret": "s", "client_assertion_type": JWT_BEARER}, None, "invalid_request", 400, False),
]


@pytest.mark.parametrize(("fields", "authorization", "error", "status", "challenge"), REFUSED)
def test_refused_requests_get_the_rfc_6749_error(fields, authorization, error, status, challenge):
    with pytest.raises(OAuthError) as refused:
        oauth.client_credentials_request(form=form(**fields), authorization=authorization)
    assert (refused.value.error, refused.value.status, refused.value.basic_challenge) == (error, status, challenge)
    assert refused.value.body() == {"error": error, "error_description": refused.value.description}
    assert refused.value.description


def test_the_secret_never_shows_in_the_representation():
    authentication = oauth.client_credentials_request(
        form=form(**GRANT, client_id="abc", client_secret="very-secret"), authorization=None
    )
    assert "very-secret" not in repr(authentication)
