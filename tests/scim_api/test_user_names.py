"""userName through the real endpoint: one key for uniqueness and lookups, on every database."""
from __future__ import annotations

from urllib.parse import quote_plus

import pytest

from organisations.models import User
from tests.organisations.test_usernames import EQUIVALENCES

from .conftest import USERS, entra_user, error, patch_op

pytestmark = pytest.mark.django_db


def lookup(client, user_name: str) -> dict:
    return client.get(f"{USERS}?filter={quote_plus(f'userName eq {chr(34)}{user_name}{chr(34)}')}").json()


@pytest.mark.parametrize(("one", "other", "same"), EQUIVALENCES)
def test_lookup_and_uniqueness_agree_on_every_spelling(scim_client, one, other, same):
    created = scim_client.post(USERS, entra_user(one))
    assert created.status_code == 201, created.content

    found = lookup(scim_client, other)
    second = scim_client.post(USERS, entra_user(other))

    if same:
        assert [resource["id"] for resource in found["Resources"]] == [created.json()["id"]]
        assert second.status_code == 409
        assert second.json()["scimType"] == "uniqueness"
    else:
        assert found["totalResults"] == 0
        assert second.status_code == 201, second.content
    # The name is stored exactly as sent.
    assert User.objects.get(pk=User.objects.get(scim__pk=created.json()["id"]).pk).username == one


@pytest.mark.parametrize(
    ("user_name", "problem"),
    [
        (" alice@contoso.com", "must not start or end with whitespace"),
        ("alice@contoso.com ", "must not start or end with whitespace"),
        ("ali\tce@contoso.com", "must not contain control or invisible characters"),
        ("ali\u200bce@contoso.com", "must not contain control or invisible characters"),
        ("\u202eevil@contoso.com", "must not contain control or invisible characters"),
    ],
)
def test_user_names_with_edge_whitespace_or_invisible_characters_are_refused(scim_client, create_user, user_name, problem):
    response = scim_client.post(USERS, entra_user(user_name))

    assert response.status_code == 400
    assert response.json() == error(400, f"userName {problem}.", "invalidValue")

    existing = create_user("bob@contoso.com")
    renamed = scim_client.patch(
        f"{USERS}/{existing['id']}", patch_op({"op": "Replace", "path": "userName", "value": user_name})
    )
    assert renamed.json() == error(400, f"userName {problem}.", "invalidValue")
    assert User.objects.filter(username="bob@contoso.com").exists()
    assert User.objects.count() == 1


def test_renaming_onto_another_spelling_of_a_taken_name_is_a_409(scim_client, create_user):
    create_user("straße@contoso.com")
    other = create_user("bob@contoso.com")

    response = scim_client.patch(
        f"{USERS}/{other['id']}", patch_op({"op": "Replace", "path": "userName", "value": "STRASSE@contoso.com"})
    )

    assert response.status_code == 409
    assert response.json() == error(409, "userName 'STRASSE@contoso.com' is already in use.", "uniqueness")
    assert User.objects.filter(username="bob@contoso.com").exists()
