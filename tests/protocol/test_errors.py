"""RFC 7644 §3.12 error bodies."""
from __future__ import annotations

import pytest

from scim_provisioning.protocol import errors
from scim_provisioning.protocol.constants import ERROR_URN

EXPECTED = [
    (errors.InvalidFilterError, 400, "invalidFilter"),
    (errors.TooManyError, 400, "tooMany"),
    (errors.UniquenessError, 409, "uniqueness"),
    (errors.MutabilityError, 400, "mutability"),
    (errors.InvalidSyntaxError, 400, "invalidSyntax"),
    (errors.InvalidPathError, 400, "invalidPath"),
    (errors.NoTargetError, 400, "noTarget"),
    (errors.InvalidValueError, 400, "invalidValue"),
    (errors.BadRequestError, 400, None),
    (errors.UnauthorizedError, 401, None),
    (errors.ForbiddenError, 403, None),
    (errors.NotFoundError, 404, None),
    (errors.MethodNotAllowedError, 405, None),
    (errors.ConflictError, 409, None),
    (errors.PreconditionFailedError, 412, None),
    (errors.PayloadTooLargeError, 413, None),
    (errors.UnsupportedMediaTypeError, 415, None),
    (errors.TooManyRequestsError, 429, None),
    (errors.NotSupportedError, 501, None),
    (errors.ServiceUnavailableError, 503, None),
]


@pytest.mark.parametrize(("cls", "status", "scim_type"), EXPECTED, ids=[row[0].__name__ for row in EXPECTED])
def test_status_and_scim_type(cls, status, scim_type):
    error = cls("something went wrong")
    assert isinstance(error, errors.ScimError)
    assert error.status == status
    assert error.scim_type == scim_type
    expected = {"schemas": [ERROR_URN], "status": str(status), "detail": "something went wrong"}
    if scim_type is not None:
        expected["scimType"] = scim_type
    assert error.as_body() == expected


@pytest.mark.parametrize("cls", [row[0] for row in EXPECTED], ids=[row[0].__name__ for row in EXPECTED])
def test_default_detail_is_a_non_empty_string(cls):
    error = cls()
    assert isinstance(error.detail, str) and error.detail
    assert error.detail == cls.default_detail
    assert str(error) == error.detail


def test_detail_is_always_a_string():
    error = errors.InvalidValueError({"not": "a string"})  # type: ignore[arg-type]
    assert error.detail == "{'not': 'a string'}"
    assert isinstance(error.as_body()["detail"], str)


def test_status_is_rendered_as_a_json_string():
    assert errors.NotFoundError("Resource 7 not found").as_body() == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "404",
        "detail": "Resource 7 not found",
    }


def test_scim_type_key_is_omitted_when_unset():
    assert "scimType" not in errors.ConflictError().as_body()


def test_every_concrete_error_is_listed_and_named_error():
    concrete = {
        obj
        for obj in vars(errors).values()
        if isinstance(obj, type) and issubclass(obj, errors.ScimError) and obj is not errors.ScimError
    }
    assert concrete == {row[0] for row in EXPECTED}
    assert all(cls.__name__.endswith("Error") for cls in concrete)


def test_there_is_no_500_error():
    assert all(cls.status < 500 or cls.status in (501, 503) for cls, _, _ in EXPECTED)
