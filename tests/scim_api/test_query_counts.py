"""Query budgets per request, authentication and the ScimRequest INSERT included.

The tests run outside a wrapping test transaction so that a service's transaction is a real
BEGIN/COMMIT, as in production, rather than a savepoint pair that production never sends; so
on PostgreSQL the activity record goes through its own connection, as in production, and the
queries of every database alias are counted. The code's last_used_at is fresh, as it is for
every request but the first in a minute. Every request looks its code up (one query), so that
a revoked code is refused at once in every process.
"""
from __future__ import annotations

from contextlib import ExitStack, contextmanager
from urllib.parse import quote_plus

import pytest
from django.conf import settings
from django.db import connections
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

from .conftest import ENTERPRISE, USERS, entra_user, patch_op

# The code, the read, the activity record.
READ_BUDGET = 3
# The code, BEGIN, the locked read or the placement check, the claimed-domain check on a new or
# changed name, the writes of the user, its SCIM user and the audit event, COMMIT, the activity.
WRITE_BUDGET = 9
# A deactivation asks the brake as well: it reads the person's open hold, locks the brake's row
# (with the window's per-minute counts) and writes the counts back, on PostgreSQL in a
# transaction of its own (BEGIN and COMMIT). (Its count of the organisation's people comes once
# a window, made by an earlier deactivation: see ``deactivated``.)
DEACTIVATE_BUDGET = WRITE_BUDGET + 5
ALICE = quote_plus('userName eq "Alice@contoso.com"')
NOBODY = quote_plus('userName eq "nobody"')


@pytest.fixture(autouse=True)
def production_activity_database(settings):
    settings.SCIM_ACTIVITY_DATABASE = "activity" if "activity" in settings.DATABASES else "default"
    settings.PROVISIONING_BRAKE_DATABASE = settings.SCIM_ACTIVITY_DATABASE


@contextmanager
def assert_max_queries(budget: int):
    """Fail if the block makes more than ``budget`` queries on all database aliases together."""
    queries: list[str] = []
    with ExitStack() as stack:
        captured = [stack.enter_context(CaptureQueriesContext(connections[alias])) for alias in settings.DATABASES]
        yield queries
    queries.extend(query["sql"] for context in captured for query in context.captured_queries)
    assert len(queries) <= budget, f"{len(queries)} queries (budget {budget}):\n" + "\n".join(queries)


@pytest.fixture
def warm(scim_client, create_user):
    create_user("mary@contoso.com")
    return create_user("alice@contoso.com")


def test_every_request_looks_its_code_up_once(scim_client, warm):
    with assert_max_queries(READ_BUDGET) as queries:
        assert scim_client.get(f"{USERS}/{warm['id']}").status_code == 200
    assert sum("scim_provisioning_provisioningcode" in sql for sql in queries) == 1


def test_filtered_lookup(scim_client, warm):
    with assert_max_queries(READ_BUDGET):
        response = scim_client.get(f"{USERS}?filter={ALICE}")
    assert response.json()["totalResults"] == 1
    with assert_max_queries(READ_BUDGET):
        assert scim_client.get(f"{USERS}?filter={NOBODY}").json()["totalResults"] == 0


def test_get_by_id(scim_client, warm):
    with assert_max_queries(READ_BUDGET):
        assert scim_client.get(f"{USERS}/{warm['id']}").status_code == 200


def test_create(scim_client, warm):
    with assert_max_queries(WRITE_BUDGET):
        assert scim_client.post(USERS, entra_user("bob@contoso.com")).status_code == 201


def test_patch_attributes(scim_client, warm):
    with assert_max_queries(WRITE_BUDGET):
        response = scim_client.patch(
            f"{USERS}/{warm['id']}",
            patch_op(
                {"op": "Replace", "path": "name.givenName", "value": "Alicia"},
                {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "alicia@contoso.com"},
                {"op": "Replace", "path": "displayName", "value": "Alicia Smith"},
            ),
        )
    assert response.status_code == 200


@pytest.fixture
def deactivated(scim_client, warm):
    """An earlier deactivation in this window: the brake has its row and its count of the people."""
    mary = scim_client.get(f"{USERS}?filter=userName+eq+%22mary@contoso.com%22").json()["Resources"][0]["id"]
    assert scim_client.patch(f"{USERS}/{mary}", patch_op({"op": "Replace", "path": "active", "value": "False"})).status_code == 200
    return warm


def test_patch_deactivate(scim_client, deactivated):
    warm = deactivated
    with assert_max_queries(DEACTIVATE_BUDGET):
        response = scim_client.patch(
            f"{USERS}/{warm['id']}", patch_op({"op": "Replace", "path": "active", "value": "False"})
        )
    assert response.json()["active"] is False


def test_patch_attributes_and_deactivate_together(scim_client, deactivated):
    warm = deactivated
    with assert_max_queries(DEACTIVATE_BUDGET):
        response = scim_client.patch(
            f"{USERS}/{warm['id']}",
            patch_op(
                {"op": "Replace", "path": "name.givenName", "value": "Alicia"},
                {"op": "Replace", "path": "active", "value": "False"},
            ),
        )
    assert response.json()["active"] is False


def test_patch_manager(scim_client, warm):
    manager_id = scim_client.get(f"{USERS}?filter=userName+eq+%22mary@contoso.com%22").json()["Resources"][0]["id"]
    with assert_max_queries(WRITE_BUDGET):
        response = scim_client.patch(
            f"{USERS}/{warm['id']}", patch_op({"op": "Add", "path": f"{ENTERPRISE}:manager", "value": manager_id})
        )
    assert response.json()[ENTERPRISE]["manager"]["value"] == manager_id
