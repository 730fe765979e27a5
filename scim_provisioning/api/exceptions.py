"""One exception handler for the SCIM views: every failure becomes an RFC 7644 §3.12 body."""
from __future__ import annotations

import logging

import psycopg
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import set_rollback

from organisations.access import NotInReachError

from ..protocol import errors

logger = logging.getLogger(__name__)


class InternalServerError(errors.ScimError):
    """A bug on our side; rendered so that even a 500 stays SCIM JSON."""

    status = 500
    default_detail = "An unexpected error occurred; it has been logged."


# The database is down, unreachable, or gave up on the statement: nothing was written (the
# write's transaction rolled back), so the request can simply be retried.
DATABASE_ERRORS = (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)
# SQLSTATEs of a conflict with another transaction (serialization failure, deadlock, lock or
# statement timeout): over in moments, unlike an outage.
CONFLICT_SQLSTATES = frozenset({"40001", "40P01", "55P03", "57014"})
RETRY_AFTER_CONFLICT = 5
RETRY_AFTER_OUTAGE = 30


class DatabaseUnavailableError(errors.ServiceUnavailableError):
    """The database failed the request; answered 503 with a ``Retry-After`` in seconds."""

    default_detail = "The service is temporarily unavailable; nothing was changed. Retry later."

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = retry_after


def _sqlstate(exc: BaseException) -> str | None:
    # Django wraps the driver's exception and keeps it as the cause.
    for candidate in (exc, exc.__cause__):
        sqlstate = getattr(candidate, "sqlstate", None)
        if sqlstate:
            return sqlstate
    return None


def _as_scim_error(exc: Exception) -> errors.ScimError:
    if isinstance(exc, errors.ScimError):
        return exc
    if isinstance(exc, DATABASE_ERRORS):
        conflict = _sqlstate(exc) in CONFLICT_SQLSTATES
        return DatabaseUnavailableError(RETRY_AFTER_CONFLICT if conflict else RETRY_AFTER_OUTAGE)
    if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
        detail = exc.detail if isinstance(exc, drf.AuthenticationFailed) else None
        return errors.UnauthorizedError(
            str(detail) if detail else "Send the Provisioning Authentication Code as 'Authorization: Bearer <code>'."
        )
    if isinstance(exc, drf.ParseError):
        return errors.InvalidSyntaxError(str(exc.detail))
    if isinstance(exc, RequestDataTooBig):
        return errors.PayloadTooLargeError()
    if isinstance(exc, (Http404, drf.NotFound, NotInReachError)):
        return errors.NotFoundError()
    if isinstance(exc, drf.MethodNotAllowed):
        return errors.MethodNotAllowedError(str(exc.detail))
    if isinstance(exc, drf.UnsupportedMediaType):
        return errors.UnsupportedMediaTypeError()
    if isinstance(exc, drf.Throttled):
        return errors.TooManyRequestsError()
    if isinstance(exc, (drf.PermissionDenied, DjangoPermissionDenied)):
        return errors.ForbiddenError()
    if isinstance(exc, drf.APIException):
        error = errors.ScimError(str(exc.detail))
        error.status = exc.status_code
        return error
    return InternalServerError()


def scim_exception_handler(exc: Exception, context: dict) -> Response:
    """Render any exception raised in a SCIM view as a SCIM error response."""
    error = _as_scim_error(exc)
    view = context.get("view")
    if isinstance(error, InternalServerError):
        logger.exception("Unexpected error in SCIM view %s", type(view).__name__ if view else "?", exc_info=exc)
    elif isinstance(error, DatabaseUnavailableError):
        logger.error(
            "Database unavailable in SCIM view %s (SQLSTATE %s)",
            type(view).__name__ if view else "?",
            _sqlstate(exc) or "-",
            exc_info=exc,
        )
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    if getattr(error, "retry_after", None):
        headers["Retry-After"] = str(error.retry_after)
    set_rollback()
    return Response(error.as_body(), status=error.status, headers=headers)
