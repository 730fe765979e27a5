"""Another organisation's code never sees or changes this organisation's users."""
from __future__ import annotations

from urllib.parse import quote_plus

from organisations.models import User
from tests.factories import UserFactory

from .conftest import (
    USERS,
    entra_resource,
    entra_user,
    error,
    list_of,
    managed_in_prompt,
    patch_op,
)


def test_other_organisation_cannot_see_or_change_users(scim_client, other_client, create_user):
    created = create_user("alice@contoso.com")
    path = f"{USERS}/{created['id']}"
    missing = error(404, f"User {created['id']!r} not found.")

    assert other_client.get(path).json() == missing
    assert other_client.patch(path, patch_op({"op": "Replace", "path": "active", "value": "False"})).json() == missing
    assert other_client.put(path, entra_user("alice@contoso.com", title="Hacked")).json() == missing
    assert other_client.delete(path).json() == missing
    by_name = quote_plus('userName eq "alice@contoso.com"')
    by_id = quote_plus('id eq "%s"' % created["id"])
    assert other_client.get(f"{USERS}?filter={by_name}").json() == list_of()
    assert other_client.get(f"{USERS}?filter={by_id}").json() == list_of()
    assert other_client.get(USERS).json() == list_of()
    # Nothing changed for the owner.
    assert scim_client.get(path).json() == entra_resource(created["id"], "alice@contoso.com")


def test_username_of_another_organisation_is_a_409_that_reveals_and_changes_nothing(
    other_client, create_user, organisation
):
    create_user("alice@contoso.com")

    response = other_client.post(USERS, entra_user("ALICE@contoso.com", displayName="Someone Else"))

    assert response.status_code == 409
    assert response.json() == managed_in_prompt("ALICE@contoso.com")
    assert organisation.name not in response.content.decode()
    user = User.objects.get(username="alice@contoso.com")
    assert (user.organisation, user.is_active, user.first_name) == (organisation, True, "Alice")


def test_deleted_user_of_another_organisation_is_not_restored_by_a_post(scim_client, other_client, create_user):
    created = create_user("alice@contoso.com")
    scim_client.delete(f"{USERS}/{created['id']}")

    response = other_client.post(USERS, entra_user("alice@contoso.com"))

    assert response.status_code == 409
    assert User.objects.get(username="alice@contoso.com").is_active is False


def test_hand_made_user_of_another_organisation_is_not_adopted(other_client, organisation):
    person = UserFactory(username="bob@contoso.com", organisation=organisation)

    response = other_client.post(USERS, entra_user("bob@contoso.com"))

    assert response.status_code == 409
    person.refresh_from_db()
    assert not hasattr(person, "scim")


def test_renaming_onto_another_organisations_username_is_a_409(other_client, create_user):
    create_user("alice@contoso.com")
    other = other_client.post(USERS, entra_user("bob@fabrikam.com")).json()

    response = other_client.patch(
        f"{USERS}/{other['id']}", patch_op({"op": "Replace", "path": "userName", "value": "Alice@Contoso.com"})
    )

    assert response.status_code == 409
    assert response.json()["scimType"] == "uniqueness"
    assert User.objects.filter(username="bob@fabrikam.com").exists()


def test_manager_must_belong_to_the_same_organisation(other_client, create_user):
    manager = create_user("mary@contoso.com")
    other = other_client.post(USERS, entra_user("bob@fabrikam.com")).json()

    response = other_client.patch(f"{USERS}/{other['id']}", patch_op({"op": "Add", "path": "manager", "value": manager["id"]}))

    assert response.status_code == 400
    assert response.json() == error(400, f"manager {manager['id']!r} is not a User of this organisation.", "invalidValue")
