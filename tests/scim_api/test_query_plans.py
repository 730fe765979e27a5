"""Every query of Entra's requests is served by an index, however many users there are (PostgreSQL plans)."""
from __future__ import annotations

import json
from urllib.parse import quote_plus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from organisations.models import User
from scim_provisioning.models import ScimUser
from tests.factories import provisioned_organisation

from .conftest import USERS

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

PEOPLE = 3000
BY_USER_NAME = quote_plus('userName eq "A1234@contoso.com"')
BY_EXTERNAL_ID = quote_plus('externalId eq "ext-a1234@contoso.com"')
LARGE_TABLES = {User._meta.db_table, ScimUser._meta.db_table}


@pytest.fixture
def people(organisation):
    """Thousands of users in the measured organisation and a third as many in another one."""
    other = provisioned_organisation()
    batches = [(organisation, "a", PEOPLE), (other, "b", PEOPLE // 3)]
    users = User.objects.bulk_create(
        User(username=f"{prefix}{i}@contoso.com", organisation=org, password="!")
        for org, prefix, count in batches
        for i in range(count)
    )
    ScimUser.objects.bulk_create(
        ScimUser(user=user, external_id=f"ext-{user.username}")
        for user in users
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {User._meta.db_table}")
        cursor.execute(f"ANALYZE {ScimUser._meta.db_table}")
    return ScimUser.objects.get(user__username="a1234@contoso.com")


def sequential_scans(sql: str) -> list[str]:
    """Return the large tables the statement's plan reads from start to end."""
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql.replace("%", "%%"))
        plan = cursor.fetchone()[0]
    found = []
    nodes = [(json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]]
    while nodes:
        node = nodes.pop()
        if node["Node Type"] == "Seq Scan" and node["Relation Name"] in LARGE_TABLES:
            found.append(node["Relation Name"])
        nodes.extend(node.get("Plans", []))
    return found


@pytest.mark.parametrize(
    "path",
    [
        f"{USERS}?filter={BY_USER_NAME}",
        f"{USERS}?filter={BY_EXTERNAL_ID}",
        f"{USERS}?filter={BY_EXTERNAL_ID}&count=0",
        "by id",
    ],
    ids=["userName eq", "externalId eq", "count", "GET by id"],
)
def test_request_queries_use_indexes(scim_client, people, path):
    if path == "by id":
        path = f"{USERS}/{people.pk}"
    with CaptureQueriesContext(connection) as captured:
        response = scim_client.get(path)
    assert response.status_code == 200
    assert response.json().get("totalResults", 1) == 1
    selects = [query["sql"] for query in captured.captured_queries if query["sql"].startswith("SELECT")]
    assert selects
    for sql in selects:
        assert sequential_scans(sql) == [], sql
