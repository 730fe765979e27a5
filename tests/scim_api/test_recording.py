"""Every authenticated SCIM request leaves one ScimRequest for the organisation's activity."""
from __future__ import annotations

import json

from scim_provisioning.models import ScimRequest

from .conftest import USERS, entra_user, patch_op


def test_writes_are_recorded_with_their_changes_and_never_the_code(scim_client, provisioning_code, organisation):
    created = scim_client.post(f"{USERS}?aadOptscim062020", entra_user("alice@contoso.com", password="Secret!1")).json()
    scim_client.patch(
        f"{USERS}/{created['id']}",
        patch_op({"op": "Replace", "path": "title", "value": "Auditor"}, {"op": "Add", "path": "password", "value": "Hunter2!"}),
    )
    scim_client.patch(f"{USERS}/{created['id']}", patch_op({"op": "Replace", "path": "title", "value": "Auditor"}))
    scim_client.post(USERS, entra_user("ALICE@contoso.com"))
    scim_client.get(f"{USERS}?filter=userName+eq+%22alice@contoso.com%22")

    rows = list(organisation.scim_requests.order_by("created_at", "pk"))
    summary = [(r.method, r.path, r.status, r.scim_type, r.action, r.scim_user_id) for r in rows]
    scim_id = rows[0].scim_user_id
    assert str(scim_id) == created["id"]
    assert summary == [
        ("POST", "/Users", 201, "", "created", scim_id),
        ("PATCH", f"/Users/{scim_id}", 200, "", "updated", scim_id),
        ("PATCH", f"/Users/{scim_id}", 200, "", "", scim_id),
        ("POST", "/Users", 409, "uniqueness", "", None),
        ("GET", "/Users", 200, "", "read", scim_id),
    ]
    assert rows[1].changes == {"title": ["Accountant", "Auditor"]}
    assert rows[2].changes is None
    assert rows[3].detail == "userName 'ALICE@contoso.com' is already in use."
    assert rows[0].changes["userName"] == [None, "alice@contoso.com"]
    everything = json.dumps([[r.path, r.detail, r.changes] for r in rows])
    assert provisioning_code not in everything
    assert "Secret!1" not in everything
    assert "Hunter2!" not in everything
    # The write-only password is never stored; the record says it was ignored.
    assert rows[1].detail == "Ignored: password"
    assert all(r.duration_ms >= 0 for r in rows)


def test_discovery_and_errors_are_recorded_without_a_user(scim_client, organisation):
    scim_client.get("/api/authentication/scim/ServiceProviderConfig")
    scim_client.get(f"{USERS}?filter=nope+eq")

    rows = list(ScimRequest.objects.order_by("created_at", "pk").values_list("path", "status", "scim_type", "action"))
    assert rows == [("/ServiceProviderConfig", 200, "", ""), ("/Users", 400, "invalidFilter", "")]
