"""SCIM error responses (RFC 7644 §3.12).

Every failure the protocol layer reports is a ``ScimError`` subclass; the web
layer renders it with ``as_body()`` and ``status``. There is deliberately no
500 class: an unexpected failure is a bug, not a protocol answer.
"""
from __future__ import annotations

from .constants import ERROR_URN


class ScimError(Exception):
    """A failure that maps onto one SCIM error response."""

    status: int = 400
    scim_type: str | None = None
    default_detail: str = "The request could not be processed."

    def __init__(self, detail: str | None = None) -> None:
        # RFC 7644 §3.12 makes "detail" a string; coerce so nobody can smuggle
        # an object into the body (Entra copies it verbatim into its logs).
        self.detail: str = self.default_detail if detail is None else str(detail)
        super().__init__(self.detail)

    def as_body(self) -> dict:
        """Return the RFC 7644 §3.12 error body."""
        body: dict = {"schemas": [ERROR_URN], "status": str(self.status)}
        if self.scim_type is not None:
            body["scimType"] = self.scim_type
        body["detail"] = self.detail
        return body


class InvalidFilterError(ScimError):
    scim_type = "invalidFilter"
    default_detail = "The filter is malformed or uses an unsupported attribute or operator."


class TooManyError(ScimError):
    scim_type = "tooMany"
    default_detail = "The filter would return too many results."


class UniquenessError(ScimError):
    status = 409
    scim_type = "uniqueness"
    default_detail = "A unique attribute value is already in use."


class MutabilityError(ScimError):
    scim_type = "mutability"
    default_detail = "The attribute cannot be modified."


class InvalidSyntaxError(ScimError):
    scim_type = "invalidSyntax"
    default_detail = "The request body is malformed or does not match the request schema."


class InvalidPathError(ScimError):
    scim_type = "invalidPath"
    default_detail = "The path attribute is invalid or malformed."


class NoTargetError(ScimError):
    scim_type = "noTarget"
    default_detail = "The path did not yield an attribute or value that could be operated on."


class InvalidValueError(ScimError):
    scim_type = "invalidValue"
    default_detail = "A required value is missing or a value is incompatible with the schema."


class BadRequestError(ScimError):
    default_detail = "The request is invalid."


class UnauthorizedError(ScimError):
    status = 401
    default_detail = "Authorization failure: the bearer token is missing or invalid."


class ForbiddenError(ScimError):
    status = 403
    default_detail = "The operation is not permitted."


class NotFoundError(ScimError):
    status = 404
    default_detail = "The resource was not found."


class MethodNotAllowedError(ScimError):
    status = 405
    default_detail = "The method is not allowed on this endpoint."


class ConflictError(ScimError):
    status = 409
    default_detail = "The request conflicts with the current state of the resource."


class PreconditionFailedError(ScimError):
    status = 412
    default_detail = "The resource has changed on the server (ETag mismatch)."


class PayloadTooLargeError(ScimError):
    status = 413
    default_detail = "The request body is too large."


class UnsupportedMediaTypeError(ScimError):
    status = 415
    default_detail = "Request bodies must be application/scim+json or application/json."


class TooManyRequestsError(ScimError):
    status = 429
    default_detail = "Too many requests; retry later."


class NotSupportedError(ScimError):
    status = 501
    default_detail = "The operation is not supported."


class ServiceUnavailableError(ScimError):
    status = 503
    default_detail = "The service is temporarily unavailable; retry later."
