"""One exception handler for the SCIM views: every failure becomes an RFC 7644 §3.12 body."""
from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import set_rollback

from .protocol import errors

logger = logging.getLogger(__name__)


class InternalServerError(errors.ScimError):
    """A bug on our side; rendered so that even a 500 stays SCIM JSON."""

    status = 500
    default_detail = "An unexpected error occurred; it has been logged."


def _as_scim_error(exc: Exception) -> errors.ScimError:
    if isinstance(exc, errors.ScimError):
        return exc
    if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
        detail = exc.detail if isinstance(exc, drf.AuthenticationFailed) else None
        return errors.UnauthorizedError(
            str(detail) if detail else "Send the Provisioning Authentication Code as 'Authorization: Bearer <code>'."
        )
    if isinstance(exc, drf.ParseError):
        return errors.InvalidSyntaxError(str(exc.detail))
    if isinstance(exc, RequestDataTooBig):
        return errors.PayloadTooLargeError()
    if isinstance(exc, (Http404, drf.NotFound)):
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
    if isinstance(error, InternalServerError):
        view = context.get("view")
        logger.exception("Unexpected error in SCIM view %s", type(view).__name__ if view else "?", exc_info=exc)
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    set_rollback()
    return Response(error.as_body(), status=error.status, headers=headers)
