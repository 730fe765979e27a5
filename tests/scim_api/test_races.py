"""Concurrent SCIM writes on PostgreSQL: no duplicate users, no lost updates, no half-deleted users.

Entra ID may send requests in parallel. Each request here runs in its own thread with its own
database connection, released at the same moment by a barrier, through the whole Django stack.
"""
from __future__ import annotations

import copy
import uuid
from collections import Counter

import pytest

from organisations.models import User
from scim_provisioning.models import DeactivationBrake, ScimRequest, ScimUser
from tests.conftest import ScimClient

from .concurrency import run_concurrently
from .conftest import ENTERPRISE, USERS, entra_user, error, patch_op

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

NAME = "race.user@contoso.com"


def _case_mixes(name: str, count: int) -> list[str]:
    """Return ``count`` different spellings of ``name`` that differ only in case."""
    letters = [i for i, character in enumerate(name) if character.isalpha()]
    mixes = []
    for number in range(count):
        characters = list(name.lower())
        for bit, position in enumerate(letters):
            if number >> bit & 1:
                characters[position] = characters[position].upper()
        mixes.append("".join(characters))
    assert len(set(mixes)) == count
    return mixes


def _post(code: str, user_name: str):
    return lambda: ScimClient(code).post(USERS, entra_user(user_name))


def test_concurrent_creates_of_one_userName_give_one_user_and_409s(provisioning_code, organisation):
    names = _case_mixes(NAME, 20)

    responses = run_concurrently([_post(provisioning_code, name) for name in names])

    assert Counter(r.status_code for r in responses) == {201: 1, 409: 19}
    for name, response in zip(names, responses, strict=True):
        if response.status_code == 409:
            assert response.json() == error(409, f"userName {name!r} is already in use.", "uniqueness")
        else:
            winner, created = name, response.json()
    assert User.objects.filter(username__iexact=NAME).count() == 1
    assert list(ScimUser.objects.values_list("pk", "user__username")) == [(uuid.UUID(created["id"]), winner)]
    assert ScimClient(provisioning_code).get(f"{USERS}/{created['id']}").json() == created
    statuses = Counter(ScimRequest.objects.filter(method="POST").values_list("status", flat=True))
    assert statuses == {201: 1, 409: 19}


def test_concurrent_recreates_of_a_deleted_user_restore_it_once(provisioning_code, organisation):
    client = ScimClient(provisioning_code)
    created = client.post(USERS, entra_user(NAME)).json()
    assert client.delete(f"{USERS}/{created['id']}").status_code == 204
    names = _case_mixes(NAME, 10)

    responses = run_concurrently([_post(provisioning_code, name) for name in names])

    assert Counter(r.status_code for r in responses) == {201: 1, 409: 9}
    (restored,) = [r.json() for r in responses if r.status_code == 201]
    assert restored["id"] == created["id"]
    user = User.objects.get(username__iexact=NAME)
    assert user.is_active is True
    assert ScimUser.objects.get().deleted_at is None


# Each request changes a different attribute, in the forms Entra ID sends.
CHANGES = [
    ("displayName", "Ann Jones"),
    ("title", "Controller"),
    ("preferredLanguage", "fr-FR"),
    ("externalId", "ann.jones"),
    ("name.givenName", "Ann"),
    ("name.familyName", "Jones"),
    ("name.formatted", "Ann Jones"),
    ('emails[type eq "work"].value', "ann.jones@contoso.com"),
    ('phoneNumbers[type eq "work"].value', "+1 425 555 0190"),
    ('phoneNumbers[type eq "mobile"].value', "+1 425 555 0191"),
    ('phoneNumbers[type eq "fax"].value', "+1 425 555 0192"),
    ('addresses[type eq "work"].streetAddress', "2 High St"),
    ('addresses[type eq "work"].locality', "Seattle"),
    ('addresses[type eq "work"].region', "Washington"),
    ('addresses[type eq "work"].postalCode', "98101"),
    ('addresses[type eq "work"].country', "US"),
    (f"{ENTERPRISE}:employeeNumber", "2002"),
    (f"{ENTERPRISE}:department", "Audit"),
]


def _expected_after(created: dict) -> dict:
    """The resource with every change in CHANGES applied."""
    body = copy.deepcopy(created)
    values = dict(CHANGES)
    body["displayName"], body["title"] = values["displayName"], values["title"]
    body["preferredLanguage"], body["externalId"] = values["preferredLanguage"], values["externalId"]
    body["name"] = {"formatted": "Ann Jones", "familyName": "Jones", "givenName": "Ann"}
    body["emails"][0]["value"] = values['emails[type eq "work"].value']
    for phone in body["phoneNumbers"]:
        phone["value"] = values[f'phoneNumbers[type eq "{phone["type"]}"].value']
    for key in ("streetAddress", "locality", "region", "postalCode", "country"):
        body["addresses"][0][key] = values[f'addresses[type eq "work"].{key}']
    body[ENTERPRISE] = {"employeeNumber": "2002", "department": "Audit"}
    return body


def test_concurrent_patches_of_different_attributes_lose_no_update(provisioning_code, organisation):
    client = ScimClient(provisioning_code)
    created = client.post(USERS, entra_user(NAME)).json()
    path = f"{USERS}/{created['id']}"

    def patch(attribute: str, value: str):
        body = patch_op({"op": "Replace", "path": attribute, "value": value})
        return lambda: ScimClient(provisioning_code).patch(path, body)

    responses = run_concurrently([patch(attribute, value) for attribute, value in CHANGES])

    assert [r.status_code for r in responses] == [200] * len(CHANGES)
    after = client.get(path).json()
    expected = _expected_after(created)
    expected["meta"]["lastModified"] = after["meta"]["lastModified"]
    assert after == expected
    user = User.objects.get(scim__id=created["id"])
    assert (user.first_name, user.last_name, user.email) == ("Ann", "Jones", "ann.jones@contoso.com")
    # Each request recorded a change of its own (none was a no-op on stale data).
    recorded = ScimRequest.objects.filter(method="PATCH", status=200).values_list("changes", flat=True)
    assert len(recorded) == len(CHANGES)
    assert all(recorded)


def test_concurrent_create_and_delete_end_consistent(provisioning_code, organisation):
    # Deleting the same person a dozen times in seconds is what the mass-deactivation brake holds
    # (tests/brake); this race is about create against delete, so the brake is off.
    DeactivationBrake.objects.create(organisation=organisation, enabled=False)
    client = ScimClient(provisioning_code)
    created = client.post(USERS, entra_user(NAME)).json()
    path = f"{USERS}/{created['id']}"
    # From a present user, DELETE and POST of the same user can end only as these pairs;
    # from a deleted one, only as the others. The final state must follow from the statuses.
    outcomes_from_present = {(409, 204): "deleted", (201, 204): "present"}
    outcomes_from_deleted = {(201, 404): "present", (201, 204): "deleted"}

    for round_number in range(12):
        start_deleted = round_number % 2 == 1
        if start_deleted and client.get(path).status_code == 200:
            assert client.delete(path).status_code == 204
        elif not start_deleted and client.get(path).status_code == 404:
            assert client.post(USERS, entra_user(NAME)).status_code == 201

        post, delete = run_concurrently(
            [_post(provisioning_code, NAME), lambda: ScimClient(provisioning_code).delete(path)]
        )

        outcomes = outcomes_from_deleted if start_deleted else outcomes_from_present
        statuses = (post.status_code, delete.status_code)
        assert statuses in outcomes, (round_number, statuses, post.content, delete.content)
        scim_user = ScimUser.objects.select_related("user").get()
        assert User.objects.count() == 1
        state = "deleted" if scim_user.deleted_at else "present"
        assert state == outcomes[statuses], (round_number, statuses)
        # Never half: hidden from SCIM exactly when the person is deactivated.
        assert scim_user.user.is_active is (state == "present")
        assert client.get(path).status_code == (404 if state == "deleted" else 200)

