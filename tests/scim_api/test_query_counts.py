"""Query budgets per request, after authentication (1 query), the ScimRequest INSERT included.

The tests run outside a wrapping test transaction so that a service's transaction is a real
BEGIN/COMMIT, as in production, rather than a savepoint pair that production never sends. The
code's last_used_at is already fresh, as it is for every request but the first in a minute.
"""
from __future__ import annotations

from urllib.parse import quote_plus

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

from .conftest import ENTERPRISE, USERS, entra_user, patch_op

AUTHENTICATION = 1
ALICE = quote_plus('userName eq "Alice@contoso.com"')
NOBODY = quote_plus('userName eq "nobody"')


@pytest.fixture
def warm(scim_client, create_user):
    create_user("mary@contoso.com")
    return create_user("alice@contoso.com")


def test_filtered_lookup(scim_client, warm, django_assert_max_num_queries):
    with django_assert_max_num_queries(AUTHENTICATION + 2):
        response = scim_client.get(f"{USERS}?filter={ALICE}")
    assert response.json()["totalResults"] == 1
    with django_assert_max_num_queries(AUTHENTICATION + 2):
        assert scim_client.get(f"{USERS}?filter={NOBODY}").json()["totalResults"] == 0


def test_get_by_id(scim_client, warm, django_assert_max_num_queries):
    with django_assert_max_num_queries(AUTHENTICATION + 2):
        assert scim_client.get(f"{USERS}/{warm['id']}").status_code == 200


def test_create(scim_client, warm, django_assert_max_num_queries):
    with django_assert_max_num_queries(AUTHENTICATION + 8):
        assert scim_client.post(USERS, entra_user("bob@contoso.com")).status_code == 201


def test_patch_attributes(scim_client, warm, django_assert_max_num_queries):
    with django_assert_max_num_queries(AUTHENTICATION + 8):
        response = scim_client.patch(
            f"{USERS}/{warm['id']}",
            patch_op(
                {"op": "Replace", "path": "name.givenName", "value": "Alicia"},
                {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "alicia@contoso.com"},
                {"op": "Replace", "path": "displayName", "value": "Alicia Smith"},
            ),
        )
    assert response.status_code == 200


def test_patch_deactivate(scim_client, warm, django_assert_max_num_queries):
    with django_assert_max_num_queries(AUTHENTICATION + 8):
        response = scim_client.patch(
            f"{USERS}/{warm['id']}", patch_op({"op": "Replace", "path": "active", "value": "False"})
        )
    assert response.json()["active"] is False


def test_patch_attributes_and_deactivate_together(scim_client, warm, django_assert_max_num_queries):
    with django_assert_max_num_queries(AUTHENTICATION + 8):
        response = scim_client.patch(
            f"{USERS}/{warm['id']}",
            patch_op(
                {"op": "Replace", "path": "name.givenName", "value": "Alicia"},
                {"op": "Replace", "path": "active", "value": "False"},
            ),
        )
    assert response.json()["active"] is False


def test_patch_manager(scim_client, warm, django_assert_max_num_queries):
    manager_id = scim_client.get(f"{USERS}?filter=userName+eq+%22mary@contoso.com%22").json()["Resources"][0]["id"]
    with django_assert_max_num_queries(AUTHENTICATION + 8):
        response = scim_client.patch(
            f"{USERS}/{warm['id']}", patch_op({"op": "Add", "path": f"{ENTERPRISE}:manager", "value": manager_id})
        )
    assert response.json()[ENTERPRISE]["manager"]["value"] == manager_id
