"""Group bodies, PATCH change-sets and filters (RFC 7643 §4.2, RFC 7644 §3.5.2), as Entra sends them."""
from __future__ import annotations

import pytest

from scim_provisioning.protocol.constants import GROUP_URN, PATCH_OP_URN
from scim_provisioning.protocol.errors import (
    InvalidFilterError,
    InvalidPathError,
    InvalidSyntaxError,
    InvalidValueError,
    MutabilityError,
)
from scim_provisioning.protocol.filters import parse_filter
from scim_provisioning.protocol.groups import (
    MAX_MEMBERS,
    GroupChanges,
    GroupCondition,
    GroupInput,
    group_changes,
    group_filter_conditions,
    normalise_group,
    project_group,
)
from scim_provisioning.protocol.patch import normalise_patch

GROUP_ID = "0d5b6a1e-2c3f-4a5b-8c7d-9e0f1a2b3c4d"


def changes(*operations: dict) -> GroupChanges:
    return group_changes(normalise_patch({"schemas": [PATCH_OP_URN], "Operations": list(operations)}), group_id=GROUP_ID)


# --- POST --------------------------------------------------------------------------------

POSTS = {
    "Microsoft's Create Group example": (
        {
            "schemas": [GROUP_URN, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "Nurses-Ward5",
            "meta": {"resourceType": "Group"},
        },
        GroupInput("Nurses-Ward5", "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", ()),
    ),
    "members as objects and bare ids, repeated once": (
        {"displayName": "G", "members": [{"value": "a", "$ref": None, "display": "A"}, "b", {"VALUE": "a"}]},
        GroupInput("G", "", ("a", "b")),
    ),
    "URN-qualified keys and unknown attributes": (
        {f"{GROUP_URN}:displayName": "G", "description": "x", "members": []},
        GroupInput("G", "", (), ("description",)),
    ),
    "null externalId": ({"displayName": "G", "externalId": None}, GroupInput("G", "", ())),
}


@pytest.mark.parametrize("body, expected", POSTS.values(), ids=POSTS)
def test_normalise_group(body, expected):
    assert normalise_group(body) == expected


BAD_POSTS = {
    "no displayName": ({"externalId": "x"}, InvalidValueError, "displayName is required and cannot be blank."),
    "blank displayName": ({"displayName": "  "}, InvalidValueError, "displayName is required and cannot be blank."),
    "numeric displayName": ({"displayName": 5}, InvalidValueError, "displayName must be a string, not 5."),
    "long displayName": ({"displayName": "x" * 257}, InvalidValueError, "displayName is longer than 256 characters."),
    "member without value": (
        {"displayName": "G", "members": [{"display": "A"}]},
        InvalidValueError,
        "members[0] needs a 'value' holding the id of a User.",
    ),
    "member value not text": (
        {"displayName": "G", "members": [{"value": 7}]},
        InvalidValueError,
        "members[0].value must be the id of a User, not 7.",
    ),
    "not an object": ([], InvalidSyntaxError, "The request body must be a JSON object."),
}


@pytest.mark.parametrize("body, error, detail", BAD_POSTS.values(), ids=BAD_POSTS)
def test_normalise_group_refuses(body, error, detail):
    with pytest.raises(error) as refused:
        normalise_group(body)
    assert refused.value.detail == detail


def test_post_members_are_capped():
    members = [{"value": str(i)} for i in range(MAX_MEMBERS + 1)]
    with pytest.raises(InvalidValueError) as refused:
        normalise_group({"displayName": "G", "members": members})
    assert f"at most {MAX_MEMBERS} members" in refused.value.detail
    assert len(normalise_group({"displayName": "G", "members": members[:-1]}).members) == MAX_MEMBERS


# --- PATCH -------------------------------------------------------------------------------

PATCHES = {
    "legacy add (Microsoft's example)": (
        [{"op": "Add", "path": "members", "value": [{"$ref": None, "value": "u1"}]}],
        GroupChanges(add_members=("u1",)),
    ),
    "legacy remove with a value list": (
        [{"op": "Remove", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]}],
        GroupChanges(remove_members=("u1", "u2")),
    ),
    "compliant remove by filter": (
        [{"op": "remove", "path": 'members[value eq "7f4bc1a3"]'}],
        GroupChanges(remove_members=("7f4bc1a3",)),
    ),
    "filter naming several": (
        [{"op": "remove", "path": 'members[value eq "a" or value eq "b"]'}],
        GroupChanges(remove_members=("a", "b")),
    ),
    "rename, legacy": (
        [{"op": "Replace", "path": "displayName", "value": "Ward 5"}],
        GroupChanges(display_name="Ward 5"),
    ),
    "rename and externalId, path-less with the id echoed": (
        [{"op": "replace", "value": {"id": GROUP_ID, "displayName": "Ward 5", "externalId": "e-1"}}],
        GroupChanges(display_name="Ward 5", external_id="e-1"),
    ),
    "remove externalId": ([{"op": "remove", "path": "externalId"}], GroupChanges(external_id="")),
    "add then remove the same member": (
        [
            {"op": "add", "path": "members", "value": [{"value": "a"}, {"value": "b"}]},
            {"op": "remove", "path": 'members[value eq "a"]'},
        ],
        GroupChanges(add_members=("b",), remove_members=("a",)),
    ),
    "remove then add the same member": (
        [
            {"op": "remove", "path": "members", "value": [{"value": "a"}]},
            {"op": "add", "path": "members", "value": [{"value": "a"}]},
        ],
        GroupChanges(add_members=("a",)),
    ),
    "replace members, then add one": (
        [
            {"op": "replace", "path": "members", "value": [{"value": "a"}]},
            {"op": "add", "path": "members", "value": [{"value": "b"}]},
        ],
        GroupChanges(replace_members=("a", "b")),
    ),
    "remove every member": ([{"op": "remove", "path": "members"}], GroupChanges(replace_members=())),
    "URN-qualified path": (
        [{"op": "add", "path": f"{GROUP_URN}:members", "value": [{"value": "a"}]}],
        GroupChanges(add_members=("a",)),
    ),
    "unknown attributes are ignored": (
        [{"op": "replace", "path": "description", "value": "x"}, {"op": "add", "path": "urn:other:2.0:X:y", "value": "1"}],
        GroupChanges(ignored=("description", "urn:other:2.0:X:y")),
    ),
}


@pytest.mark.parametrize("operations, expected", PATCHES.values(), ids=PATCHES)
def test_group_changes(operations, expected):
    assert changes(*operations) == expected


BAD_PATCHES = {
    "remove displayName": (
        [{"op": "remove", "path": "displayName"}],
        InvalidValueError,
        "displayName is required and cannot be removed.",
    ),
    "blank displayName": (
        [{"op": "replace", "path": "displayName", "value": ""}],
        InvalidValueError,
        "displayName is required and cannot be blank.",
    ),
    "change the id": (
        [{"op": "replace", "value": {"id": "other"}}],
        MutabilityError,
        "id is assigned by the server and cannot be changed.",
    ),
    "add by filter": (
        [{"op": "add", "path": 'members[value eq "a"]', "value": [{"value": "a"}]}],
        InvalidPathError,
        "Operations[0]: add takes path 'members' with a list of values, not a filter.",
    ),
    "other member filter": (
        [{"op": "remove", "path": 'members[display eq "A"]'}],
        InvalidPathError,
        'Operations[0]: members can be selected by members[value eq "<id>"] only.',
    ),
    "member sub-attribute": (
        [{"op": "replace", "path": "members.value", "value": "a"}],
        InvalidPathError,
        "Operations[0]: members can only be changed whole, not members.value.",
    ),
    "member without value": (
        [{"op": "add", "path": "members", "value": [{"$ref": None}]}],
        InvalidValueError,
        "Operations[0].value[0] needs a 'value' holding the id of a User.",
    ),
}


@pytest.mark.parametrize("operations, error, detail", BAD_PATCHES.values(), ids=BAD_PATCHES)
def test_group_changes_refuses(operations, error, detail):
    with pytest.raises(error) as refused:
        changes(*operations)
    assert refused.value.detail == detail


def test_members_cap_counts_every_operation():
    half = [{"value": str(i)} for i in range(MAX_MEMBERS // 2)]
    at_cap = changes(
        {"op": "add", "path": "members", "value": half},
        {"op": "remove", "path": "members", "value": half},
    )
    assert len(at_cap.remove_members) == MAX_MEMBERS // 2
    with pytest.raises(InvalidValueError):
        changes(
            {"op": "add", "path": "members", "value": half},
            {"op": "remove", "path": "members", "value": half},
            {"op": "remove", "path": 'members[value eq "one more"]'},
        )


# --- filters and projection --------------------------------------------------------------

FILTERS = {
    "displayName": ('displayName eq "Nurses"', [GroupCondition("displayName", "Nurses")]),
    "externalId": ('externalId eq "e-1"', [GroupCondition("externalId", "e-1")]),
    "membership check": (
        'id eq "g" and members[value eq "u"]',
        [GroupCondition("id", "g"), GroupCondition("members", "u")],
    ),
    "members.value": ('members.value eq "u"', [GroupCondition("members", "u")]),
}


@pytest.mark.parametrize("text, expected", FILTERS.values(), ids=FILTERS)
def test_group_filter_conditions(text, expected):
    assert group_filter_conditions(parse_filter(text)) == expected


@pytest.mark.parametrize(
    "text", ['displayName co "N"', 'displayName eq "a" or displayName eq "b"', 'userName eq "a"', "displayName pr"]
)
def test_group_filter_refuses_what_it_cannot_answer(text):
    with pytest.raises(InvalidFilterError):
        group_filter_conditions(parse_filter(text))


def test_project_group():
    group = {"schemas": [GROUP_URN], "id": "g", "displayName": "G", "members": [{"value": "u"}], "meta": {}}
    assert project_group(group, excluded=["members"]) == {"schemas": [GROUP_URN], "id": "g", "displayName": "G", "meta": {}}
    assert project_group(group, attributes=["displayName"]) == {"schemas": [GROUP_URN], "id": "g", "displayName": "G", "meta": {}}
    assert project_group(group, excluded=[f"{GROUP_URN}:members"]) == project_group(group, excluded=["MEMBERS"])
