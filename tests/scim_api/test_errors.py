"""Authentication failures and bad requests: SCIM error bodies, and nothing changed."""
from __future__ import annotations

import uuid

import pytest
from django.test import Client

from organisations.models import User
from scim_provisioning.codes import actions as scim_services
from scim_provisioning.models import ScimRequest, ScimUser
from tests.factories import SYSTEM

from .conftest import BASE, USERS, entra_user, error, patch_op

BAD_CODE = "The Provisioning Authentication Code is not valid, or automated user provisioning is not enabled for its organisation."
NO_CODE = "Send the Provisioning Authentication Code as 'Authorization: Bearer <code>'."


def assert_unauthorized(response, detail: str) -> None:
    assert response.status_code == 401
    assert response["Content-Type"] == "application/scim+json"
    assert response["WWW-Authenticate"] == 'Bearer realm="Prompt SCIM"'
    assert response.json() == error(401, detail)


@pytest.mark.parametrize("path", [USERS, f"{USERS}/{uuid.uuid4()}", f"{BASE}/ServiceProviderConfig", f"{BASE}/Nope"])
def test_missing_code_is_401(db, path):
    assert_unauthorized(Client().get(path), NO_CODE)
    assert_unauthorized(Client(HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz").get(path), NO_CODE)


def test_wrong_code_is_401_and_not_recorded(organisation, provisioning_code):
    for header in (f"Bearer {provisioning_code[:-1]}x", "Bearer pscim_short", "Bearer", f"Bearer {provisioning_code} x"):
        response = Client(HTTP_AUTHORIZATION=header).get(USERS)
        assert response.status_code == 401, header
    assert_unauthorized(Client(HTTP_AUTHORIZATION=f"Bearer {provisioning_code[:-1]}x").get(USERS), BAD_CODE)
    assert ScimRequest.objects.count() == 0


def test_revoked_code_is_401(organisation, provisioning_code, scim_client):
    scim_services.provisioning_code_revoke_all(acting=SYSTEM, organisation=organisation)

    assert_unauthorized(scim_client.get(USERS), BAD_CODE)


def test_provisioning_turned_off_is_401(organisation, scim_client):
    organisation.provisioning_enabled = False
    organisation.save()

    assert_unauthorized(scim_client.post(USERS, entra_user("alice@contoso.com")), BAD_CODE)
    assert not User.objects.filter(username="alice@contoso.com").exists()


def test_bearer_keyword_is_case_insensitive(organisation, provisioning_code):
    assert Client(HTTP_AUTHORIZATION=f"bearer {provisioning_code}").get(USERS).status_code == 200


@pytest.mark.parametrize(
    "body, detail_start",
    [
        ("{not json", "The request body is not valid JSON"),
        ('{"userName": NaN}', "The request body is not valid JSON"),
        (b"\xff\xfe{}", "The request body is not valid utf-8 text."),
    ],
)
def test_malformed_json_is_400_invalid_syntax(scim_client, body, detail_start):
    response = scim_client.generic("POST", USERS, data=body, content_type="application/scim+json; charset=utf-8")

    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidSyntax"
    assert response.json()["detail"].startswith(detail_start)
    assert ScimUser.objects.count() == 0


@pytest.mark.parametrize(
    "body, scim_type",
    [
        ([], "invalidSyntax"),
        ("just a string", "invalidSyntax"),
        ({}, "invalidValue"),
        ({"userName": ""}, "invalidValue"),
        ({"userName": 42}, "invalidValue"),
        ({"userName": "a@contoso.com", "active": "maybe"}, "invalidValue"),
        ({"userName": "a@contoso.com", "emails": "a@contoso.com"}, "invalidValue"),
        ({"userName": "a@contoso.com", "name": "Alice"}, "invalidValue"),
        ({"userName": "x" * 257}, "invalidValue"),
        ({"userName": "a@contoso.com", "externalId": "x" * 1025}, "invalidValue"),
        ({"userName": "a\x00b@contoso.com"}, "invalidValue"),
    ],
)
def test_wrong_values_are_400_and_create_nothing(scim_client, body, scim_type):
    response = scim_client.post(USERS, body)

    assert response.status_code == 400, response.content
    assert response.json()["scimType"] == scim_type
    assert ScimUser.objects.count() == 0
    assert not User.objects.exists()


def test_userName_too_long_error_body(scim_client):
    response = scim_client.post(USERS, {"userName": "x" * 257})

    assert response.json() == error(400, "userName is longer than 256 characters.", "invalidValue")


@pytest.mark.parametrize(
    "body, scim_type",
    [
        ({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}, "invalidSyntax"),
        ({"Operations": [{"op": "explode", "path": "title", "value": "x"}]}, "invalidSyntax"),
        ({"Operations": [{"op": "remove"}]}, "noTarget"),
        ({"Operations": [{"op": "replace", "path": "name[", "value": "x"}]}, "invalidPath"),
        ({"Operations": [{"op": "replace", "path": "active", "value": "maybe"}]}, "invalidValue"),
        ({"Operations": [{"op": "replace", "path": "userName", "value": ""}]}, "invalidValue"),
        ({"Operations": [{"op": "replace", "path": "id", "value": "other"}]}, "mutability"),
    ],
)
def test_bad_patch_is_400_and_atomic(scim_client, create_user, body, scim_type):
    created = create_user("alice@contoso.com")
    operations = [{"op": "Replace", "path": "active", "value": "False"}] + body.get("Operations", [])
    body = {**body, "Operations": operations} if "Operations" in body else body

    response = scim_client.patch(f"{USERS}/{created['id']}", body)

    assert response.status_code == 400, response.content
    assert response.json()["scimType"] == scim_type
    assert User.objects.get(username="alice@contoso.com").is_active is True
    assert scim_client.get(f"{USERS}/{created['id']}").json() == created


@pytest.mark.parametrize("scim_id", ["not-a-uuid", str(uuid.uuid4()), "1", "%20", "a" * 300])
def test_unknown_and_malformed_ids_are_404(scim_client, scim_id):
    for method in ("get", "delete"):
        response = getattr(scim_client, method)(f"{USERS}/{scim_id}")
        assert response.status_code == 404
        assert response.json()["status"] == "404"
    assert scim_client.patch(f"{USERS}/{scim_id}", patch_op({"op": "add", "path": "title", "value": "x"})).status_code == 404
    assert scim_client.put(f"{USERS}/{scim_id}", entra_user("a@contoso.com")).status_code == 404


def test_unsupported_methods_are_405(scim_client, create_user):
    created = create_user("alice@contoso.com")
    for method, path in (
        ("PUT", USERS),
        ("DELETE", USERS),
        ("PATCH", USERS),
        ("POST", f"{USERS}/{created['id']}"),
        ("POST", f"{BASE}/ServiceProviderConfig"),
        ("DELETE", f"{BASE}/Schemas"),
        ("OPTIONS", USERS),
    ):
        response = scim_client.generic(method, path)
        assert response.status_code == 405, (method, path)
        assert response.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


def test_search_endpoint_is_501(scim_client):
    response = scim_client.post(f"{BASE}/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]})

    assert response.json() == error(501, "POST /.search is not supported; query /Users with a filter instead.")


@pytest.mark.parametrize(
    "query, scim_type",
    [
        ("filter=userName+eq", "invalidFilter"),
        ("filter=userName+eq+%22a%22+or", "invalidFilter"),
        ("filter=favouriteColour+eq+%22green%22", "invalidFilter"),
        ("filter=password+eq+%22x%22", "invalidFilter"),
        ("filter=emails.value+eq+%22a%40b.c%22", "invalidFilter"),
        ("filter=phoneNumbers%5Btype+eq+%22mobile%22%5D.value+eq+%221%22", "invalidFilter"),
        ("filter=active+gt+true", "invalidFilter"),
        ("filter=active+eq+%22yes%22", "invalidFilter"),
        ("filter=userName+eq+42", "invalidFilter"),
        ("filter=meta.created+gt+%22yesterday%22", "invalidFilter"),
        ("filter=meta.created+co+%222025%22", "invalidFilter"),
        ("filter=id+co+%22abc%22", "invalidFilter"),
        ("count=ten", "invalidValue"),
        ("startIndex=1.5", "invalidValue"),
    ],
)
def test_bad_queries_are_400(scim_client, create_user, query, scim_type):
    create_user("alice@contoso.com")

    response = scim_client.get(f"{USERS}?{query}")

    assert response.status_code == 400, response.content
    assert response.json()["scimType"] == scim_type


def test_body_over_the_upload_limit_is_413(scim_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = scim_client.post(USERS, entra_user("alice@contoso.com", displayName="x" * 2000))

    assert response.json() == error(413, "The request body is too large.")


def test_unexpected_error_is_a_scim_500(scim_client, monkeypatch):
    # Simulates a bug (not our code path under test): the handler must still answer SCIM JSON.
    from scim_provisioning.users import selectors

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(selectors, "scim_user_list", broken)

    response = scim_client.get(USERS)

    assert response.status_code == 500
    assert response.json() == error(500, "An unexpected error occurred; it has been logged.")
