"""A user's timeline after Entra ID's real requests, in both of Entra's PATCH forms."""
from __future__ import annotations

import pytest

from organisations.models import User
from scim_provisioning.activity.panels import render_user_timeline
from scim_provisioning.activity.summary import (
    FieldChange,
    activity_summary,
    user_timeline,
)
from scim_provisioning.models import ScimUser

USERS = "/api/authentication/scim/Users"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def changes_of(entry) -> dict[str, tuple[str, str]]:
    return {change.attribute: (change.old, change.new) for change in entry.changes}


@pytest.fixture
def provisioned(scim_client):
    response = scim_client.post(
        USERS,
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "externalId": "ada",
            "userName": "ada@contoso.example",
            "active": True,
            "displayName": "Ada Lovelace",
            "title": "Analyst",
            "emails": [{"primary": True, "type": "work", "value": "ada@contoso.example"}],
            "name": {"formatted": "Ada Lovelace", "familyName": "Lovelace", "givenName": "Ada"},
            ENTERPRISE: {"employeeNumber": "1001"},
            "meta": {"resourceType": "User"},
            "roles": [],
        },
    )
    assert response.status_code == 201, response.content
    return ScimUser.objects.select_related("user__organisation").get(pk=response.json()["id"])


def test_timeline_after_a_legacy_patch(scim_client, provisioned):
    response = scim_client.patch(
        f"{USERS}/{provisioned.pk}",
        {
            "schemas": [PATCH_OP],
            "Operations": [
                {"op": "Replace", "path": "title", "value": "Lead Analyst"},
                {"op": "Replace", "path": "name.givenName", "value": "Augusta"},
                {"op": "Add", "path": f"{ENTERPRISE}:department", "value": "Finance"},
            ],
        },
    )
    assert response.status_code == 200, response.content

    timeline = user_timeline(organisation=provisioned.user.organisation, scim_user=provisioned)

    assert [(entry.action_label, entry.method, entry.status) for entry in timeline] == [
        ("Updated", "PATCH", 200),
        ("Created", "POST", 201),
    ]
    assert changes_of(timeline[0]) == {
        "title": ("Analyst", "Lead Analyst"),
        "name.givenName": ("Ada", "Augusta"),
        "department": ("", "Finance"),
    }
    assert ("userName", ("", "ada@contoso.example")) in changes_of(timeline[1]).items()


def test_timeline_after_a_pathless_patch_and_deactivation(scim_client, provisioned):
    response = scim_client.patch(
        f"{USERS}/{provisioned.pk}?aadOptscim062020",
        {
            "schemas": [PATCH_OP],
            "Operations": [
                {
                    "op": "replace",
                    "value": {
                        "displayName": "Ada King",
                        "name.familyName": "King",
                        f"{ENTERPRISE}:employeeNumber": "2002",
                    },
                }
            ],
        },
    )
    assert response.status_code == 200, response.content
    response = scim_client.patch(
        f"{USERS}/{provisioned.pk}",
        {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]},
    )
    assert response.status_code == 200, response.content

    timeline = user_timeline(organisation=provisioned.user.organisation, scim_user=provisioned)

    assert [entry.action_label for entry in timeline] == ["Deactivated", "Updated", "Created"]
    assert timeline[0].changes == [FieldChange("active", "true", "false")]
    assert changes_of(timeline[1]) == {
        "displayName": ("Ada Lovelace", "Ada King"),
        "name.familyName": ("Lovelace", "King"),
        "employeeNumber": ("1001", "2002"),
    }

    html = render_user_timeline(user=User.objects.get(pk=provisioned.user_id))
    assert html.count('<tr class="timeline-entry">') == 3
    assert '<code>name.familyName</code>:\n                      <span class="value old">Lovelace</span>' in html

    summary = activity_summary(organisation=provisioned.user.organisation)
    day = summary.last_24_hours
    assert (day.created, day.updated, day.deactivated, day.failed) == (1, 1, 1, 0)
