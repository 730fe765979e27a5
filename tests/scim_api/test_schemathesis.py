"""The OpenAPI description, and schemathesis fuzzing the live app through it: no server errors."""
from __future__ import annotations

import pytest
import requests
import schemathesis
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from scim_provisioning.codes import actions as scim_services
from tests.factories import SYSTEM, provisioned_organisation

from .conftest import BASE, USERS, entra_user

OPENAPI = f"{BASE}/openapi.json"
# Examples per operation and mode: about a minute for the whole API on either database.
EXAMPLES = 25
CHECKS = [not_a_server_error, content_type_conformance, response_schema_conformance]
# Negative data is by definition outside the schema, so only the server-error and
# content-type checks apply to what comes back.
NEGATIVE_CHECKS = [not_a_server_error, content_type_conformance]


def test_openapi_document_is_public_json_describing_bearer_auth(db):
    response = Client().get(OPENAPI)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    document = response.json()
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": f"http://testserver{BASE}"}]
    assert document["security"] == [{"provisioningCode": []}]
    assert document["components"]["securitySchemes"]["provisioningCode"]["scheme"] == "bearer"
    assert set(document["paths"]) == {
        "/Users", "/Users/{id}", "/ServiceProviderConfig", "/ResourceTypes", "/ResourceTypes/{name}",
        "/Schemas", "/Schemas/{urn}", "/Groups", "/Groups/{id}",
    }
    user = document["components"]["schemas"]["User"]["properties"]
    # Generated from the protocol schema: every User and Enterprise User attribute is described.
    assert {"userName", "name", "emails", "addresses", "phoneNumbers", "active", "externalId"} <= set(user)
    assert user["id"]["readOnly"] is True
    assert set(user["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["properties"]) >= {
        "employeeNumber", "department", "manager",
    }


def test_openapi_document_is_only_read(db):
    response = Client().post(OPENAPI, {})

    assert response.status_code == 405
    assert response.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


@pytest.fixture
def live_api(live_server, transactional_db, settings):
    """The live app with a provisioned organisation, its code and two users to find."""
    # Negative cases include wrong credentials; throttling them is tested elsewhere and would
    # turn the rest of the run into 429s.
    settings.SCIM_AUTH_FAILURE_LIMIT = 0
    organisation = provisioned_organisation()
    _, code = scim_services.provisioning_code_issue(acting=SYSTEM, organisation=organisation)
    headers = {"Authorization": f"Bearer {code}"}
    base_url = f"{live_server.url}{BASE}"
    ids = []
    with requests.Session() as session:
        for name in ("bob@contoso.com", "carol@contoso.com"):
            created = session.post(
                f"{live_server.url}{USERS}", json=entra_user(name), headers={**headers, "Content-Type": "application/scim+json"}
            )
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
        yield schemathesis.openapi.from_url(f"{live_server.url}{OPENAPI}"), base_url, headers, session, ids


def test_schemathesis_finds_no_server_errors(live_api):
    schema, base_url, headers, session, ids = live_api
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 16
    failures: list[str] = []

    for operation in operations:
        runs = [(GenerationMode.POSITIVE, CHECKS, None), (GenerationMode.NEGATIVE, NEGATIVE_CHECKS, None)]
        if "{id}" in operation.path:
            # Random ids only ever find nothing; these reach real users (the DELETE pass last).
            runs.append((GenerationMode.POSITIVE, CHECKS, {"id": ids[operation.method == "delete"]}))
        for mode, checks, path_parameters in runs:

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
            def run(case):
                case.call_and_validate(base_url=base_url, session=session, headers=headers, checks=checks)

            try:
                run()
            except Exception as exc:  # collect every operation's failure, then report them together
                failures.append(f"{operation.label} ({mode.value}): {exc}")

    assert failures == []
