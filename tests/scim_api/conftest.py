"""Helpers for the SCIM API tests: Entra's request bodies and whole-resource expectations."""
from __future__ import annotations

import pytest

from scim_provisioning.codes import actions as scim_services
from scim_provisioning.models import ScimUser
from tests.conftest import ScimClient
from tests.factories import SYSTEM, provisioned_organisation

BASE = "/api/authentication/scim"
USERS = f"{BASE}/Users"
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def entra_user(user_name: str, **overrides) -> dict:
    """Entra's POST /Users body with every default mapping populated (entra-scim.md §2.2)."""
    local = user_name.split("@")[0].capitalize()
    body = {
        "schemas": [USER_URN, ENTERPRISE],
        "externalId": local.lower(),
        "userName": user_name,
        "active": True,
        "displayName": f"{local} Smith",
        "title": "Accountant",
        "preferredLanguage": "en-US",
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": f"{local} Smith", "familyName": "Smith", "givenName": local},
        "addresses": [
            {
                "type": "work",
                "formatted": "Building 4",
                "streetAddress": "1 Main St",
                "locality": "Redmond",
                "region": "WA",
                "postalCode": "98052",
                "country": "United States",
                "primary": True,
            }
        ],
        "phoneNumbers": [
            {"type": "work", "value": "+1 425 555 0100"},
            {"type": "mobile", "value": "+1 425 555 0101"},
            {"type": "fax", "value": "+1 425 555 0102"},
        ],
        ENTERPRISE: {"employeeNumber": "1001", "department": "Finance"},
        "roles": [],
    }
    body.update(overrides)
    return body


def managed_in_prompt(user_name: str) -> dict:
    """The 409 for a userName held by someone this organisation's Entra ID does not manage."""
    return error(
        409,
        f"userName {user_name!r} belongs to an account managed in Prompt, not by this organisation's Entra ID; "
        "it cannot be created or taken over.",
        "uniqueness",
    )


def patch_op(*operations: dict) -> dict:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def timestamp(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def expected_resource(scim_id: str, **attributes) -> dict:
    """The full representation of a stored ScimUser: ``attributes`` plus schemas, id and meta."""
    scim_user = ScimUser.objects.get(pk=scim_id)
    body = {"schemas": [USER_URN] + ([ENTERPRISE] if ENTERPRISE in attributes else []), "id": str(scim_id)}
    body.update(attributes)
    body["meta"] = {
        "resourceType": "User",
        "created": timestamp(scim_user.created),
        "lastModified": timestamp(scim_user.last_modified),
        "location": f"http://testserver{USERS}/{scim_id}",
    }
    return body


def entra_resource(scim_id: str, user_name: str, **overrides) -> dict:
    """What GET returns for a user created from ``entra_user(user_name)``: all of it, as sent."""
    sent = entra_user(user_name)
    for key in ("schemas", "meta", "roles"):
        sent.pop(key)
    sent.update(overrides)
    return expected_resource(scim_id, **{k: v for k, v in sent.items() if v is not None})


def error(status: int, detail: str, scim_type: str | None = None) -> dict:
    body = {"schemas": [ERROR], "status": str(status)}
    if scim_type:
        body["scimType"] = scim_type
    body["detail"] = detail
    return body


def list_of(*resources: dict, total: int | None = None, start: int = 1) -> dict:
    return {
        "schemas": [LIST],
        "totalResults": len(resources) if total is None else total,
        "Resources": list(resources),
        "startIndex": start,
        "itemsPerPage": len(resources),
    }


@pytest.fixture
def create_user(scim_client):
    """POST an Entra user and return the response body."""

    def create(user_name: str, **overrides) -> dict:
        response = scim_client.post(USERS, entra_user(user_name, **overrides))
        assert response.status_code == 201, response.content
        return response.json()

    return create


@pytest.fixture
def other_organisation(db):
    return provisioned_organisation()


@pytest.fixture
def other_client(other_organisation) -> ScimClient:
    """A client authenticated with another organisation's code."""
    _, plaintext = scim_services.provisioning_code_issue(acting=SYSTEM, organisation=other_organisation)
    return ScimClient(plaintext)
