"""Microsoft Entra ID's provisioning flows, replayed end to end through the SCIM endpoint."""
from __future__ import annotations

import uuid
from urllib.parse import quote_plus

from django.test import Client

from organisations.models import User
from scim_provisioning.models import ScimUser
from tests.factories import TEST_PASSWORD, UserFactory

from .conftest import (
    ENTERPRISE,
    USERS,
    entra_resource,
    entra_user,
    error,
    list_of,
    patch_op,
)


def lookup(client, expression: str):
    # Entra encodes spaces as "+" and quotes as %22 (entra-scim.md §1).
    return client.get(f"{USERS}?filter={quote_plus(expression)}")


def test_test_connection_with_a_random_guid_answers_an_empty_list(scim_client):
    response = lookup(scim_client, f'userName eq "{uuid.uuid4()}"')

    assert response.status_code == 200
    assert response["Content-Type"] == "application/scim+json"
    assert response.json() == list_of()


def test_lookup_then_create(scim_client, organisation):
    assert lookup(scim_client, 'userName eq "alice@contoso.com"').json() == list_of()

    response = scim_client.post(USERS, entra_user("alice@contoso.com"))

    assert response.status_code == 201
    scim_id = response.json()["id"]
    assert response["Location"] == f"http://testserver{USERS}/{scim_id}"
    assert response.json() == entra_resource(scim_id, "alice@contoso.com")
    user = User.objects.get(username="alice@contoso.com")
    assert (user.organisation, user.department, user.section) == (
        organisation,
        organisation.default_department,
        organisation.default_section,
    )
    assert (user.first_name, user.last_name, user.email, user.is_active) == ("Alice", "Smith", "alice@contoso.com", True)
    assert not user.has_usable_password()
    # The next cycle's lookup finds the user, whatever the case of the userName.
    found = lookup(scim_client, 'userName eq "ALICE@Contoso.com"').json()
    assert found == list_of(entra_resource(scim_id, "alice@contoso.com"))
    assert scim_client.get(f"{USERS}/{scim_id}").json() == entra_resource(scim_id, "alice@contoso.com")


def test_second_user_gets_the_first_as_manager_by_bare_id(scim_client, create_user):
    manager = create_user("mary@contoso.com")
    report = create_user("rob@contoso.com")

    response = scim_client.patch(
        f"{USERS}/{report['id']}",
        patch_op({"op": "Add", "path": f"{ENTERPRISE}:manager", "value": manager["id"]}),
    )

    assert response.status_code == 200
    expected = entra_resource(
        report["id"],
        "rob@contoso.com",
        **{
            ENTERPRISE: {
                "employeeNumber": "1001",
                "department": "Finance",
                "manager": {"value": manager["id"], "$ref": f"http://testserver{USERS}/{manager['id']}"},
            }
        },
    )
    assert response.json() == expected
    assert scim_client.get(f"{USERS}/{report['id']}").json() == expected
    # Entra's documented manager check (MS-DEV Example 4).
    check = lookup(scim_client, f'id eq "{report["id"]}" and manager eq "{manager["id"]}"')
    assert check.json()["totalResults"] == 1
    other = lookup(scim_client, f'id eq "{report["id"]}" and manager eq "{report["id"]}"')
    assert other.json() == list_of()


def test_legacy_attribute_update(scim_client, create_user):
    created = create_user("alice@contoso.com")

    response = scim_client.patch(
        f"{USERS}/{created['id']}",
        patch_op(
            {"op": "Replace", "path": "displayName", "value": "Pvlo"},
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "TestBcwqnm@test.microsoft.com"},
            {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
            {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
            {"op": "Replace", "path": "externalId", "value": "Eqpj"},
            {"op": "Replace", "path": f"{ENTERPRISE}:employeeNumber", "value": "Eqpj"},
            {"op": "Replace", "path": 'addresses[type eq "work"].formatted', "value": "Building 5"},
            {"op": "Add", "path": f"{ENTERPRISE}:division", "value": "Audit"},
        ),
    )

    assert response.status_code == 200
    address = dict(entra_user("x")["addresses"][0], formatted="Building 5")
    expected = entra_resource(
        created["id"],
        "alice@contoso.com",
        displayName="Pvlo",
        emails=[{"primary": True, "type": "work", "value": "TestBcwqnm@test.microsoft.com"}],
        name={"formatted": "Alice Smith", "familyName": "Pkqf", "givenName": "Gtfd"},
        externalId="Eqpj",
        addresses=[address],
        **{ENTERPRISE: {"employeeNumber": "Eqpj", "department": "Finance", "division": "Audit"}},
    )
    assert response.json() == expected
    user = User.objects.get(scim__id=created["id"])
    assert (user.first_name, user.last_name, user.email) == ("Gtfd", "Pkqf", "TestBcwqnm@test.microsoft.com")
    # The indexed copies follow, so the lookups Entra may be configured with still match.
    assert lookup(scim_client, 'externalId eq "Eqpj"').json()["totalResults"] == 1
    assert lookup(scim_client, 'emails[type eq "work"].value eq "testbcwqnm@test.microsoft.com"').json()[
        "totalResults"
    ] == 1


def test_aad_opt_scim_062020_attribute_update(scim_client, create_user):
    created = create_user("alice@contoso.com")

    response = scim_client.patch(
        f"{USERS}/{created['id']}?aadOptscim062020",
        patch_op(
            {"op": "replace", "path": 'emails[type eq "work"].value', "value": "TestMhvaes@test.microsoft.com"},
            {
                "op": "replace",
                "value": {
                    "displayName": "Bjfe",
                    "name.givenName": "Kkom",
                    "name.familyName": "Unua",
                    f"{ENTERPRISE}:employeeNumber": "Aklq",
                },
            },
            {"op": "add", "value": {ENTERPRISE: {"department": "Legal"}}},
        ),
    )

    assert response.status_code == 200
    assert response.json() == entra_resource(
        created["id"],
        "alice@contoso.com",
        displayName="Bjfe",
        emails=[{"primary": True, "type": "work", "value": "TestMhvaes@test.microsoft.com"}],
        name={"formatted": "Alice Smith", "familyName": "Unua", "givenName": "Kkom"},
        **{ENTERPRISE: {"employeeNumber": "Aklq", "department": "Legal"}},
    )


def test_deactivate_ends_sessions_and_keeps_the_user_visible(scim_client, create_user, organisation):
    created = create_user("alice@contoso.com")
    user = User.objects.get(scim__id=created["id"])
    user.set_password(TEST_PASSWORD)
    user.save()
    browser = Client()
    browser.force_login(user)
    session_key = browser.session.session_key
    assert session_key

    response = scim_client.patch(
        f"{USERS}/{created['id']}", patch_op({"op": "Replace", "path": "active", "value": "False"})
    )

    assert response.status_code == 200
    assert response.json() == entra_resource(created["id"], "alice@contoso.com", active=False)
    user.refresh_from_db()
    assert user.is_active is False
    # The session hash changed, so the open session no longer authenticates.
    from django.contrib.auth import get_user
    from django.contrib.sessions.backends.db import SessionStore
    from django.http import HttpRequest

    request = HttpRequest()
    request.session = SessionStore(session_key)
    assert get_user(request).is_anonymous
    assert lookup(scim_client, 'userName eq "alice@contoso.com"').json()["totalResults"] == 1
    assert scim_client.get(f"{USERS}/{created['id']}").json()["active"] is False


def test_reactivate(scim_client, create_user):
    created = create_user("alice@contoso.com", active="False")
    assert created["active"] is False
    assert User.objects.get(scim__id=created["id"]).is_active is False

    response = scim_client.patch(f"{USERS}/{created['id']}", patch_op({"op": "replace", "path": "active", "value": True}))

    assert response.status_code == 200
    assert response.json() == entra_resource(created["id"], "alice@contoso.com", active=True)
    assert User.objects.get(scim__id=created["id"]).is_active is True


def test_delete_hides_the_user_and_keeps_the_person(scim_client, create_user):
    created = create_user("alice@contoso.com")
    path = f"{USERS}/{created['id']}"

    response = scim_client.delete(path)

    assert response.status_code == 204
    assert response.content == b""
    missing = error(404, f"User {created['id']!r} not found.")
    assert scim_client.get(path).json() == missing
    assert scim_client.get(path).status_code == 404
    assert scim_client.patch(path, patch_op({"op": "replace", "path": "active", "value": True})).status_code == 404
    assert scim_client.delete(path).status_code == 404
    assert lookup(scim_client, 'userName eq "alice@contoso.com"').json() == list_of()
    assert scim_client.get(USERS).json() == list_of()
    user = User.objects.get(username="alice@contoso.com")
    assert user.is_active is False
    assert ScimUser.objects.get(pk=created["id"]).deleted_at is not None


def test_post_after_delete_restores_the_same_person(scim_client, create_user):
    created = create_user("alice@contoso.com")
    user_pk = User.objects.get(username="alice@contoso.com").pk
    assert scim_client.delete(f"{USERS}/{created['id']}").status_code == 204

    response = scim_client.post(USERS, entra_user("Alice@Contoso.com", displayName="Alice Jones"))

    assert response.status_code == 201
    assert response.json()["id"] == created["id"]
    assert response.json() == entra_resource(created["id"], "Alice@Contoso.com", displayName="Alice Jones")
    user = User.objects.get(pk=user_pk)
    assert (user.username, user.is_active) == ("Alice@Contoso.com", True)
    assert User.objects.filter(username__iexact="alice@contoso.com").count() == 1
    assert lookup(scim_client, 'userName eq "alice@contoso.com"').json()["totalResults"] == 1


def test_post_adopts_a_hand_made_user_of_the_same_organisation(scim_client, organisation):
    department = organisation.departments.get(name="Finance")
    person = UserFactory(username="bob@contoso.com", organisation=organisation, department=department)

    response = scim_client.post(USERS, entra_user("BOB@contoso.com"))

    assert response.status_code == 201
    assert response.json() == entra_resource(response.json()["id"], "BOB@contoso.com")
    person.refresh_from_db()
    assert person.scim.pk == uuid.UUID(response.json()["id"])
    assert (person.username, person.first_name, person.department) == ("BOB@contoso.com", "Bob", department)
    # From now on Entra ID manages the person, who signs in with Microsoft: no password is left
    # that could go around the tenant's sign-in policies.
    assert not person.has_usable_password()


def test_full_lifecycle_is_recorded(scim_client, create_user, organisation):
    created = create_user("alice@contoso.com")
    scim_client.patch(f"{USERS}/{created['id']}", patch_op({"op": "Replace", "path": "active", "value": "False"}))
    scim_client.patch(f"{USERS}/{created['id']}", patch_op({"op": "Replace", "path": "active", "value": "True"}))
    scim_client.delete(f"{USERS}/{created['id']}")

    rows = list(organisation.scim_requests.order_by("created_at", "pk").values_list("method", "status", "action"))
    assert rows == [
        ("POST", 201, "created"),
        ("PATCH", 200, "deactivated"),
        ("PATCH", 200, "reactivated"),
        ("DELETE", 204, "deleted"),
    ]
