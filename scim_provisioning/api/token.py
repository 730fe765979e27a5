"""``POST /api/authentication/oauth2/token``: OAuth 2.0 client credentials for Entra ID.

One endpoint for every organisation, like the SCIM base URL: the client identifier (or, for a
federated assertion without one, the assertion's application) selects the organisation. The
view only translates HTTP; ``protocol.oauth`` reads the request and ``oauth.actions`` grants.
Every answer is RFC 6749 §5 JSON and is never cached; nothing here is ever a 500.
"""
from __future__ import annotations

import logging
import time

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.db import DatabaseError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from ..activity.recording import scim_request_record
from ..oauth import actions, federation
from ..protocol import oauth as protocol
from .authentication import REALM
from .exceptions import DATABASE_ERRORS, RETRY_AFTER_OUTAGE
from .throttling import authentication_failure_record, client_address

logger = logging.getLogger(__name__)

PATH = "/oauth2/token"
FORM_TYPE = "application/x-www-form-urlencoded"
RETRY_AFTER_KEYS = 30


def _answer(body: dict, status: int = 200, headers: dict | None = None) -> JsonResponse:
    response = JsonResponse(body, status=status)
    # RFC 6749 §5.1: token responses must not be stored by any cache.
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _error(error: protocol.OAuthError, *, retry_after: int | None = None) -> JsonResponse:
    headers = {}
    if error.basic_challenge:
        headers["WWW-Authenticate"] = f'Basic realm="{REALM}", charset="UTF-8"'
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return _answer(error.body(), status=error.status, headers=headers)


def _record(organisation, *, status: int, started: float, detail: str = "", credential: str = "", error: str = "") -> None:
    try:
        scim_request_record(
            organisation=organisation,
            method="POST",
            path=PATH,
            status=status,
            duration_ms=round((time.monotonic() - started) * 1000),
            scim_type=error,
            detail=detail,
            credential=credential,
        )
    except Exception:
        # The activity record must never turn Entra's answer into a failure.
        logger.exception("Could not record a token request for organisation %s", organisation.pk)


def _form(request) -> dict[str, list[str]]:
    content_type = request.content_type or ""
    if content_type != FORM_TYPE:
        raise protocol.invalid_request(f"Send the token request as {FORM_TYPE}.")
    try:
        return {name: request.POST.getlist(name) for name in request.POST}
    except (RequestDataTooBig, TooManyFieldsSent, SuspiciousOperation):
        raise protocol.invalid_request("The token request is too large.") from None


@csrf_exempt
@sensitive_post_parameters("client_secret", "client_assertion")
@sensitive_variables()
def token(request):
    started = time.monotonic()
    if request.method != "POST":
        response = _error(protocol.invalid_request("Request tokens with POST."))
        response.status_code = 405
        response["Allow"] = "POST"
        return response
    try:
        authentication = protocol.client_credentials_request(
            form=_form(request), authorization=request.META.get("HTTP_AUTHORIZATION")
        )
        grant = actions.oauth_token_grant(authentication=authentication)
    except protocol.OAuthError as error:
        organisation = getattr(error, "organisation", None)
        retry_after = None
        if error.status == 401:
            logger.warning(
                "OAuth client authentication failed from %s: %s", client_address(request), getattr(error, "reason", "")
            )
            retry_after = authentication_failure_record(request)
            if retry_after is not None:
                error = protocol.OAuthError(
                    "invalid_client",
                    "Too many failed client authentications from this address; retry later.",
                    status=429,
                )
        if organisation is not None:
            _record(
                organisation,
                status=error.status,
                started=started,
                detail=getattr(error, "reason", "") or error.description,
                error=error.error,
            )
        return _error(error, retry_after=retry_after)
    except federation.KeysUnavailableError:
        return _error(
            protocol.OAuthError(
                "temporarily_unavailable",
                "The tenant's signing keys cannot be fetched right now; retry later.",
                status=503,
            ),
            retry_after=RETRY_AFTER_KEYS,
        )
    except (DatabaseError, *DATABASE_ERRORS):
        logger.exception("Database unavailable at the token endpoint")
        return _error(
            protocol.OAuthError("temporarily_unavailable", "The service is temporarily unavailable; retry later.", status=503),
            retry_after=RETRY_AFTER_OUTAGE,
        )
    _record(grant.organisation, status=200, started=started, credential=grant.label)
    return _answer({"access_token": grant.access_token, "token_type": "Bearer", "expires_in": grant.expires_in})
