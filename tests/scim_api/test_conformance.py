"""The third-party conformance checker scim2-tester, run against a live server over HTTP."""
from __future__ import annotations

import httpx2
import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

from scim_provisioning.models import DeactivationBrake, ScimUser

FAILED = {Status.ERROR, Status.CRITICAL}


@pytest.fixture
def checker_client(live_server, provisioning_code):
    with httpx2.Client(
        base_url=f"{live_server.url}/api/authentication/scim",
        headers={"Authorization": f"Bearer {provisioning_code}"},
        timeout=30,
    ) as http:
        yield SyncSCIMClient(http)


@pytest.mark.django_db(transaction=True)
def test_scim2_tester_reports_no_failures_for_users(checker_client, organisation):
    # The checker creates and deletes dozens of users within seconds, which the mass-deactivation
    # brake would rightly hold (tests/brake): it is switched off for this organisation.
    DeactivationBrake.objects.create(organisation=organisation, enabled=False)
    results = check_server(checker_client, resource_types=["User"])

    failures = [f"{r.title}: {r.reason}" for r in results if r.status in FAILED]
    assert failures == []
    # The checker did run the User CRUD and PATCH checks, not only discovery.
    ran = {r.title for r in results if r.status == Status.SUCCESS}
    assert {"object_creation", "object_query", "object_replacement", "object_deletion",
            "check_add_attribute", "check_remove_attribute", "check_replace_attribute"} <= ran
    assert ScimUser.objects.filter(user__organisation=organisation).exists()
