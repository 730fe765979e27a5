"""Filters run in the database and agree with the protocol's own evaluation of the same filter."""
from __future__ import annotations

from urllib.parse import quote_plus

import pytest

from scim_provisioning.protocol.filters import matches, parse_filter

from .conftest import ENTERPRISE, USERS, entra_user

PEOPLE = {
    "alice@contoso.com": {"externalId": "Alice01", "title": "Accountant", ENTERPRISE: {"employeeNumber": "1001", "department": "Finance"}},
    "bob@contoso.com": {"externalId": "bob02", "title": "Auditor", "active": False, ENTERPRISE: {"employeeNumber": "1002"}},
    "carol@fabrikam.com": {"externalId": "CAROL03", "title": None, "displayName": "Carol Ng", ENTERPRISE: {"department": "Legal"}},
}


@pytest.fixture
def people(scim_client):
    created = {}
    for user_name, overrides in PEOPLE.items():
        body = entra_user(user_name, **overrides)
        created[user_name] = scim_client.post(USERS, {k: v for k, v in body.items() if v is not None}).json()
    return created


def names_for(scim_client, expression: str) -> list[str]:
    response = scim_client.get(f"{USERS}?filter={quote_plus(expression)}")
    assert response.status_code == 200, (expression, response.content)
    body = response.json()
    assert body["totalResults"] == len(body["Resources"])
    return sorted(r["userName"] for r in body["Resources"])


FILTERS = [
    'userName eq "ALICE@CONTOSO.COM"',
    'userName ne "alice@contoso.com"',
    'userName co "CONTOSO"',
    'userName sw "Bo"',
    'userName ew "@FABRIKAM.com"',
    'userName gt "b"',
    'userName le "bob@contoso.com"',
    'userName pr',
    'externalId eq "alice01"',
    'externalId eq "Alice01"',
    'externalId co "AROL"',
    'externalId sw "b"',
    'emails[type eq "work"].value eq "Bob@Contoso.com"',
    'emails[type eq "work" and value co "fabrikam"]',
    'emails[type eq "work"]',
    'active eq false',
    'active eq true and not (userName sw "alice")',
    'title pr',
    'not (title pr)',
    'title eq null',
    'title ne "Accountant"',
    'title lt "B"',
    'displayName eq "carol ng"',
    'name.givenName eq "Bob"',
    f'{ENTERPRISE}:employeeNumber eq "1002"',
    'urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bob@contoso.com"',
    'employeeNumber pr or department eq "legal"',
    '(userName eq "alice@contoso.com" or userName eq "bob@contoso.com") and active eq true',
    'USERNAME EQ "bob@contoso.com"',
    'department eq "Finance"',
    'manager pr',
]


@pytest.mark.parametrize("expression", FILTERS)
def test_database_filter_matches_protocol_evaluation(scim_client, people, expression):
    by_protocol = sorted(
        name
        for name, resource in people.items()
        if matches(parse_filter(expression), scim_client.get(f"{USERS}/{resource['id']}").json())
    )

    assert names_for(scim_client, expression) == by_protocol


def test_filters_on_ids_and_dates(scim_client, people):
    alice = people["alice@contoso.com"]
    bob = people["bob@contoso.com"]

    assert names_for(scim_client, f'id eq "{alice["id"]}"') == ["alice@contoso.com"]
    assert names_for(scim_client, f'id ne "{alice["id"]}"') == ["bob@contoso.com", "carol@fabrikam.com"]
    assert names_for(scim_client, f'meta.lastModified ge "{bob["meta"]["lastModified"]}"') == [
        "bob@contoso.com",
        "carol@fabrikam.com",
    ]
    assert names_for(scim_client, f'meta.created lt "{bob["meta"]["created"]}"') == ["alice@contoso.com"]
    assert names_for(scim_client, 'meta.created gt "2000-01-01T00:00:00Z"') == sorted(PEOPLE)


def test_pagination_counts_in_the_database(scim_client, people):
    first = scim_client.get(f"{USERS}?startIndex=1&count=2").json()
    second = scim_client.get(f"{USERS}?startIndex=3&count=2").json()
    beyond = scim_client.get(f"{USERS}?startIndex=10&count=2").json()
    only_total = scim_client.get(f"{USERS}?count=0").json()

    assert [(p["totalResults"], p["itemsPerPage"], p["startIndex"]) for p in (first, second, beyond, only_total)] == [
        (3, 2, 1),
        (3, 1, 3),
        (3, 0, 10),
        (3, 0, 1),
    ]
    assert [r["userName"] for r in first["Resources"] + second["Resources"]] == list(PEOPLE)
    assert scim_client.get(f"{USERS}?startIndex=-4&count=-1").json()["startIndex"] == 1
    assert len(scim_client.get(f"{USERS}?count=100000").json()["Resources"]) == 3


def test_attributes_and_excluded_attributes(scim_client, people):
    alice = people["alice@contoso.com"]

    only = scim_client.get(f"{USERS}/{alice['id']}?attributes=userName,name.givenName,{ENTERPRISE}:department").json()
    assert only == {
        "schemas": alice["schemas"],
        "id": alice["id"],
        "userName": "alice@contoso.com",
        "name": {"givenName": "Alice"},
        ENTERPRISE: {"department": "Finance"},
    }
    without = scim_client.get(f"{USERS}?filter=userName+eq+%22alice@contoso.com%22&excludedAttributes=emails,meta,{ENTERPRISE}").json()
    expected = {k: v for k, v in alice.items() if k not in ("emails", "meta", ENTERPRISE)}
    assert without["Resources"] == [expected]
