"""Microsoft Entra ID's group sequence, replayed through the SCIM endpoint (MS-DEV "Group Operations")."""
from __future__ import annotations

import uuid
from urllib.parse import quote_plus

import pytest

from organisations.models import AuditEvent
from scim_provisioning.models import ScimGroup, ScimGroupMember
from scim_provisioning.protocol.groups import MAX_MEMBERS

from .conftest import BASE, error, list_of, patch_op, timestamp

GROUPS = f"{BASE}/Groups"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
EXTERNAL_ID = "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"


def lookup(client, expression: str, *, excluded: bool = True):
    # Entra's own order of parameters, spaces as "+" and quotes as %22.
    prefix = "excludedAttributes=members&" if excluded else ""
    return client.get(f"{GROUPS}?{prefix}filter={quote_plus(expression)}")


def expected_group(group_id: str, name: str, members: list[str] | None = None, external_id: str = EXTERNAL_ID) -> dict:
    group = ScimGroup.objects.get(pk=group_id)
    body: dict = {"schemas": [GROUP_URN], "id": group_id}
    if external_id:
        body["externalId"] = external_id
    body["displayName"] = name
    if members is not None:
        body["members"] = [
            {"value": member, "$ref": f"http://testserver{BASE}/Users/{member}", "type": "User"} for member in members
        ]
    body["meta"] = {
        "resourceType": "Group",
        "created": timestamp(group.created),
        "lastModified": timestamp(group.last_modified),
        "location": f"http://testserver{GROUPS}/{group_id}",
    }
    return body


def entra_group(name: str, *members: str) -> dict:
    """Entra's POST /Groups body (MS-DEV "Create Group"), with members as the gallery suite sends them."""
    body = {
        "schemas": [GROUP_URN, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId": EXTERNAL_ID,
        "displayName": name,
        "meta": {"resourceType": "Group"},
    }
    if members:
        body["members"] = [{"value": member} for member in members]
    return body


def member_ids(client, group_id: str) -> list[str]:
    return [member["value"] for member in client.get(f"{GROUPS}/{group_id}").json().get("members", [])]


@pytest.fixture
def people(create_user) -> list[str]:
    return [create_user(f"{name}@contoso.com")["id"] for name in ("ann", "ben", "cal", "dee")]


def test_entra_group_sequence(scim_client, people):
    ann, ben, cal, dee = people
    # 1. Test Connection looks up a random group and expects an empty list, never a 404 or 501.
    probe = lookup(scim_client, f'displayName eq "{uuid.uuid4()}"')
    assert (probe.status_code, probe["Content-Type"]) == (200, "application/scim+json")
    assert probe.json() == list_of()

    # 2. Create, with members.
    created = scim_client.post(GROUPS, entra_group("Nurses-Ward5", ann, ben))
    assert created.status_code == 201
    group_id = created.json()["id"]
    assert created["Location"] == f"http://testserver{GROUPS}/{group_id}"
    assert created.json() == expected_group(group_id, "Nurses-Ward5", [ann, ben])

    # 3. The next cycle's lookup by displayName, whatever its case, without the members.
    found = lookup(scim_client, 'displayName eq "nurses-ward5"')
    assert found.json() == list_of(expected_group(group_id, "Nurses-Ward5"))
    assert scim_client.get(f"{GROUPS}/{group_id}?excludedAttributes=members").json() == expected_group(
        group_id, "Nurses-Ward5"
    )

    # 4. Members added and removed in both dialects; each answers 204 as Microsoft asks.
    legacy_add = patch_op({"op": "Add", "path": "members", "value": [{"$ref": None, "value": cal}]})
    assert scim_client.patch(f"{GROUPS}/{group_id}", legacy_add).status_code == 204
    legacy_remove = patch_op({"op": "Remove", "path": "members", "value": [{"value": ann}]})
    assert scim_client.patch(f"{GROUPS}/{group_id}", legacy_remove).status_code == 204
    assert member_ids(scim_client, group_id) == [ben, cal]
    compliant_add = patch_op({"op": "add", "path": "members", "value": [{"value": dee}, {"value": ann}]})
    assert scim_client.patch(f"{GROUPS}/{group_id}", compliant_add).status_code == 204
    compliant_remove = patch_op({"op": "remove", "path": f'members[value eq "{ben}"]'})
    response = scim_client.patch(f"{GROUPS}/{group_id}", compliant_remove)
    assert (response.status_code, response.content) == (204, b"")
    assert member_ids(scim_client, group_id) == [cal, dee, ann]
    # A retried operation changes nothing and still succeeds.
    assert scim_client.patch(f"{GROUPS}/{group_id}", compliant_remove).status_code == 204
    assert ScimGroup.objects.get(pk=group_id).member_count == 3

    # 5. Rename: legacy Replace, then the compliant path-less form with the id echoed back.
    rename = patch_op({"op": "Replace", "path": "displayName", "value": "Nurses Ward 5"})
    assert scim_client.patch(f"{GROUPS}/{group_id}", rename).status_code == 204
    compliant = patch_op({"op": "replace", "value": {"id": group_id, "displayName": "Ward 5 nurses", "externalId": "e-5"}})
    assert scim_client.patch(f"{GROUPS}/{group_id}", compliant).status_code == 204
    assert lookup(scim_client, 'displayName eq "Nurses-Ward5"').json() == list_of()
    assert lookup(scim_client, 'displayName eq "Ward 5 nurses"').json() == list_of(
        expected_group(group_id, "Ward 5 nurses", external_id="e-5")
    )
    assert lookup(scim_client, 'externalId eq "e-5"', excluded=False).json() == list_of(
        expected_group(group_id, "Ward 5 nurses", [cal, dee, ann], external_id="e-5")
    )

    # 6. Delete: 204, then the group is gone for every lookup; its people stay.
    deleted = scim_client.delete(f"{GROUPS}/{group_id}")
    assert deleted.status_code == 204
    assert scim_client.get(f"{GROUPS}/{group_id}").json() == error(404, f"Group '{group_id}' not found.")
    assert lookup(scim_client, 'displayName eq "Ward 5 nurses"').json() == list_of()
    assert scim_client.get(f"{BASE}/Users/{ann}").status_code == 200
    assert not ScimGroupMember.objects.exists()
    actions = list(AuditEvent.objects.filter(action__startswith="group.").order_by("id").values_list("action", flat=True))
    assert actions == ["group.created", *["group.updated"] * 6, "group.deleted"]


def test_membership_check_filter(scim_client, people):
    ann, ben, *_ = people
    group_id = scim_client.post(GROUPS, entra_group("G", ann)).json()["id"]

    member = lookup(scim_client, f'id eq "{group_id}" and members[value eq "{ann}"]')
    assert member.json() == list_of(expected_group(group_id, "G"))
    assert lookup(scim_client, f'id eq "{group_id}" and members[value eq "{ben}"]').json() == list_of()
    assert lookup(scim_client, 'id eq "not-a-uuid"').json() == list_of()


def test_unknown_member_refuses_the_whole_patch(scim_client, people, other_client):
    ann, ben, cal, _ = people
    group_id = scim_client.post(GROUPS, entra_group("G", ann)).json()["id"]
    stranger = other_client.post(
        f"{BASE}/Users", {"userName": "eve@fabrikam.example", "active": True}
    ).json()["id"]
    unknown = str(uuid.uuid4())

    for bad in (unknown, stranger, "not-an-id"):
        response = scim_client.patch(
            f"{GROUPS}/{group_id}",
            patch_op(
                {"op": "Replace", "path": "displayName", "value": "Renamed"},
                {"op": "Add", "path": "members", "value": [{"value": ben}, {"value": bad}]},
                {"op": "Remove", "path": "members", "value": [{"value": ann}]},
            ),
        )
        assert response.status_code == 400
        assert response.json() == error(
            400, f"members: {bad!r} is not the id of a User of this organisation; nothing was changed.", "invalidValue"
        )
    assert scim_client.get(f"{GROUPS}/{group_id}").json() == expected_group(group_id, "G", [ann])
    several = scim_client.post(GROUPS, entra_group("H", cal, unknown, stranger))
    assert several.json() == error(
        400, f"members: {unknown!r}, {stranger!r} are not ids of Users of this organisation; nothing was changed.",
        "invalidValue",
    )
    assert not ScimGroup.objects.filter(display_name="H").exists()


def test_groups_never_cross_organisations(scim_client, other_client, people):
    ann = people[0]
    group_id = scim_client.post(GROUPS, entra_group("Nurses", ann)).json()["id"]
    missing = error(404, f"Group '{group_id}' not found.")

    assert other_client.get(f"{GROUPS}/{group_id}").json() == missing
    assert other_client.patch(f"{GROUPS}/{group_id}", patch_op({"op": "remove", "path": "members"})).json() == missing
    assert other_client.delete(f"{GROUPS}/{group_id}").json() == missing
    assert other_client.get(f"{GROUPS}").json() == list_of()
    assert lookup(other_client, 'displayName eq "Nurses"').json() == list_of()
    # The same name is free in another organisation.
    assert other_client.post(GROUPS, entra_group("Nurses")).status_code == 201
    assert member_ids(scim_client, group_id) == [ann]


def test_display_name_is_unique_per_organisation(scim_client):
    assert scim_client.post(GROUPS, entra_group("Nurses")).status_code == 201
    duplicate = scim_client.post(GROUPS, entra_group("NURSES"))
    assert duplicate.json() == error(
        409, "displayName 'NURSES' is already the name of a group of this organisation.", "uniqueness"
    )
    other = scim_client.post(GROUPS, entra_group("Doctors")).json()["id"]
    rename = scim_client.patch(f"{GROUPS}/{other}", patch_op({"op": "replace", "path": "displayName", "value": "nurses"}))
    assert rename.json() == error(409, "displayName 'nurses' is already the name of a group of this organisation.", "uniqueness")


def test_members_cap(scim_client, people):
    group_id = scim_client.post(GROUPS, entra_group("G")).json()["id"]
    too_many = [{"value": str(uuid.uuid4())} for _ in range(MAX_MEMBERS + 1)]

    response = scim_client.patch(f"{GROUPS}/{group_id}", patch_op({"op": "Add", "path": "members", "value": too_many}))

    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"
    assert f"at most {MAX_MEMBERS} members" in response.json()["detail"]


def test_deleted_user_leaves_their_groups(scim_client, people):
    ann, ben, *_ = people
    group_id = scim_client.post(GROUPS, entra_group("G", ann, ben)).json()["id"]

    assert scim_client.delete(f"{BASE}/Users/{ann}").status_code == 204

    assert member_ids(scim_client, group_id) == [ben]
    assert ScimGroup.objects.get(pk=group_id).member_count == 1
    # Entra may still send the removal of the member it deleted: it succeeds.
    removal = patch_op({"op": "Remove", "path": "members", "value": [{"value": ann}]})
    assert scim_client.patch(f"{GROUPS}/{group_id}", removal).status_code == 204


def test_paging(scim_client):
    for name in ("c", "a", "e", "b", "d"):
        assert scim_client.post(GROUPS, entra_group(name)).status_code == 201

    pages = [scim_client.get(f"{GROUPS}?startIndex={start}&count=2&excludedAttributes=members").json() for start in (1, 3, 5)]

    assert [[g["displayName"] for g in page["Resources"]] for page in pages] == [["a", "b"], ["c", "d"], ["e"]]
    assert [(p["startIndex"], p["itemsPerPage"], p["totalResults"]) for p in pages] == [(1, 2, 5), (3, 2, 5), (5, 1, 5)]
    assert scim_client.get(f"{GROUPS}?count=0").json() == list_of(total=5)


@pytest.mark.parametrize(
    "body, detail",
    [
        ({"displayName": ""}, "displayName is required and cannot be blank."),
        ({"displayName": "G", "members": [{"display": "x"}]}, "members[0] needs a 'value' holding the id of a User."),
    ],
)
def test_bad_bodies_are_scim_errors(scim_client, body, detail):
    response = scim_client.post(GROUPS, body)
    assert response.json() == error(400, detail, "invalidValue")


def test_unsupported_filter_is_invalid_filter(scim_client):
    response = lookup(scim_client, 'displayName co "Nur"')
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidFilter"
