"""POST/PUT bodies (RFC 7644 §3.3), projection (§3.9) and the schema declarations (RFC 7643 §4, §7)."""
from __future__ import annotations

import copy

import pytest

from scim_provisioning.protocol.constants import ENTERPRISE_USER_URN, SCHEMA_URN, USER_URN
from scim_provisioning.protocol.errors import InvalidSyntaxError, InvalidValueError
from scim_provisioning.protocol.resource import Normalised, coerce_boolean, normalise_user, project
from scim_provisioning.protocol.schema import (
    ENTERPRISE_USER,
    USER,
    find_attribute,
    resolve_path,
    schema_document,
)

ENT = ENTERPRISE_USER_URN


def normalised(body: dict) -> dict:
    return normalise_user(body).resource


# --- the MS-DEV create bodies ------------------------------------------------------------

def test_entra_create_user_example():
    body = {
        "schemas": [USER_URN, ENT],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": "Test_User_11bb11bb@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": [],
    }
    assert normalise_user(body) == Normalised(
        resource={
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
            "active": True,
            "emails": [{"primary": True, "type": "work", "value": "Test_User_11bb11bb@testuser.com"}],
            "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        },
        ignored=(),
    )


def test_entra_full_default_mapping_body_is_stored_exactly():
    body = {
        "schemas": [USER_URN, ENT],
        "externalId": "alice",
        "userName": "alice@contoso.com",
        "active": "True",
        "displayName": "Alice Smith",
        "title": "Accountant",
        "preferredLanguage": "en-US",
        "emails": [{"primary": True, "type": "work", "value": "Alice@Contoso.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Alice Smith", "familyName": "Smith", "givenName": "Alice"},
        "addresses": [
            {"type": "work", "formatted": "Building 4", "streetAddress": "1 Main St", "locality": "Redmond",
             "region": "WA", "postalCode": "98052", "country": "United States", "primary": True}
        ],
        "phoneNumbers": [
            {"type": "work", "value": "+1 425 555 0100"},
            {"type": "mobile", "value": "55555555555"},
            {"type": "fax", "value": " (425) 555-0102 "},
        ],
        ENT: {"employeeNumber": "1001", "department": "Finance"},
        "roles": [],
    }
    expected = {key: copy.deepcopy(value) for key, value in body.items() if key not in ("schemas", "meta", "roles")}
    expected["active"] = True
    assert normalise_user(body) == Normalised(expected, ())


def test_legacy_nulls_are_dropped():
    body = {"userName": "u", "addresses": None, "manager": None, ENT: None, "title": "", "name": {"givenName": None}}
    assert normalise_user(body) == Normalised({"userName": "u"}, ())


# --- keys --------------------------------------------------------------------------------

def test_keys_are_matched_case_insensitively_and_rewritten():
    body = {"USERNAME": "u", "DisplayName": "D", "Emails": [{"VALUE": "a@b.c", "Type": "work", "Primary": "false"}],
            "NAME": {"GIVENNAME": "G"}, ENT.upper(): {"DEPARTMENT": "X"}}
    assert normalised(body) == {
        "userName": "u",
        "displayName": "D",
        "emails": [{"value": "a@b.c", "type": "work", "primary": False}],
        "name": {"givenName": "G"},
        ENT: {"department": "X"},
    }


def test_enterprise_attributes_nested_and_flattened():
    body = {"userName": "u", ENT: {"department": "X"}, f"{ENT}:employeeNumber": "7", f"{ENT}:manager": "m1"}
    assert normalised(body) == {"userName": "u", ENT: {"department": "X", "employeeNumber": "7", "manager": {"value": "m1"}}}


def test_manager_sub_attribute_keys():
    assert normalised({"userName": "u", "manager.value": "m"}) == {"userName": "u", ENT: {"manager": {"value": "m"}}}
    assert normalised({"userName": "u", "manager.$ref": "../Users/m"}) == {"userName": "u"}


def test_core_urn_qualified_and_dotted_keys():
    body = {f"{USER_URN}:userName": "u", "name.givenName": "G", f"{USER_URN}:name.familyName": "F"}
    assert normalised(body) == {"userName": "u", "name": {"givenName": "G", "familyName": "F"}}


def test_dotted_and_nested_keys_merge_in_either_order():
    expected = {"userName": "u", "name": {"givenName": "G", "familyName": "F"}}
    assert normalised({"userName": "u", "name.givenName": "G", "name": {"familyName": "F"}}) == expected
    assert normalised({"userName": "u", "name": {"familyName": "F"}, "name.givenName": "G"}) == expected


@pytest.mark.parametrize(
    "body",
    [
        {"userName": "a", "username": "b"},
        {"userName": "u", ENT: {"department": "X"}, f"{ENT}:department": "Y"},
        {"userName": "u", "name": {"givenName": "G"}, "name.givenName": "H"},
        {"userName": "u", "emails": [{"value": "a", "Value": "b"}]},
    ],
    ids=["userName twice", "department nested and flattened", "givenName twice", "sub-attribute twice"],
)
def test_the_same_attribute_twice_is_invalid_syntax(body):
    with pytest.raises(InvalidSyntaxError):
        normalise_user(body)


def test_server_managed_attributes_are_dropped_silently():
    body = {"userName": "u", "id": "x", "meta": {"created": "now"}, "groups": [{"value": "g"}],
            "schemas": [USER_URN], "password": "hunter2",
            "emails": [{"value": "a", "display": "A"}], ENT: {"manager": {"value": "m", "displayName": "M"}}}
    assert normalise_user(body) == Normalised(
        {"userName": "u", "emails": [{"value": "a", "display": "A"}], ENT: {"manager": {"value": "m"}}}, ()
    )


def test_unknown_attributes_are_dropped_and_listed():
    body = {
        "userName": "u",
        "favouriteColour": "red",
        "urn:ietf:params:scim:schemas:extension:Custom:2.0:User": {"costCode": "1"},
        "urn:ietf:params:scim:schemas:extension:Custom:2.0:User:costCode": "1",
        "emails": [{"value": "a", "verified": True}],
        "name": {"givenName": "G", "nickname": "x"},
        ENT: {"badge": "7"},
        "emails.value": "x",
    }
    result = normalise_user(body)
    assert result.resource == {"userName": "u", "emails": [{"value": "a"}], "name": {"givenName": "G"}}
    assert result.ignored == (
        "favouriteColour",
        "urn:ietf:params:scim:schemas:extension:Custom:2.0:User",
        "urn:ietf:params:scim:schemas:extension:Custom:2.0:User:costCode",
        "emails[0].verified",
        "name.nickname",
        f"{ENT}:badge",
        "emails.value",
    )


# --- values ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("raw", "expected"),
    [(True, True), (False, False), ("True", True), ("False", False), ("true", True), ("false", False)],
)
def test_lenient_booleans(raw, expected):
    assert normalised({"userName": "u", "active": raw})["active"] is expected
    assert normalised({"userName": "u", "emails": [{"value": "a", "primary": raw}]})["emails"][0]["primary"] is expected
    assert coerce_boolean(raw, attribute="active") is expected


@pytest.mark.parametrize("raw", ["TRUE", "yes", "1", 1, 0, [], {}, "t", " true"])
def test_other_booleans_are_invalid(raw):
    with pytest.raises(InvalidValueError) as caught:
        normalise_user({"userName": "u", "active": raw})
    assert "active" in caught.value.detail


def test_coerce_boolean_names_the_attribute():
    with pytest.raises(InvalidValueError, match="emails.primary"):
        coerce_boolean("maybe", attribute="emails.primary")


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"userName": "u", "displayName": 5}, "displayName"),
        ({"userName": "u", "title": ["x"]}, "title"),
        ({"userName": "u", "name": {"givenName": True}}, "name.givenName"),
        ({"userName": "u", "name": "Alice"}, "name"),
        ({"userName": "u", "emails": ["a@b.c"]}, "emails[0]"),
        ({"userName": "u", "emails": [{"value": 1}]}, "emails[0].value"),
        ({"userName": "u", "emails": "a@b.c"}, "emails[0]"),
        ({"userName": "u", ENT: "Finance"}, ENT),
        ({"userName": "u", ENT: {"department": 1}}, "department"),
        ({"userName": "u", ENT: {"manager": 17}}, "manager"),
        ({"userName": "u", ENT: {"manager": [{"value": "a"}, {"value": "b"}]}}, "manager"),
        ({"userName": "u", ENT: {"manager": {"$ref": "../Users/x"}}}, "manager"),
        ({"userName": "u", "displayName": "a\x00b"}, "displayName"),
        ({"userName": 5}, "userName"),
    ],
)
def test_wrong_types_are_invalid_values_naming_the_attribute(body, named):
    with pytest.raises(InvalidValueError) as caught:
        normalise_user(body)
    assert named in caught.value.detail


@pytest.mark.parametrize(
    "body",
    [{}, {"userName": ""}, {"userName": "   "}, {"userName": None}, {"displayName": "x"}, {"UserName": " \u00a0"}],
    ids=["missing", "empty", "spaces", "null", "absent", "unicode space"],
)
def test_user_name_is_required(body):
    with pytest.raises(InvalidValueError, match="userName"):
        normalise_user(body)


def test_user_name_is_kept_exactly_including_surrounding_spaces():
    assert normalised({"userName": " Alice@Contoso.COM "})["userName"] == " Alice@Contoso.COM "


@pytest.mark.parametrize("body", [None, [], "x", 1, True], ids=["null", "list", "string", "number", "bool"])
def test_body_must_be_an_object(body):
    with pytest.raises(InvalidSyntaxError):
        normalise_user(body)


def test_single_object_for_multi_valued_is_wrapped():
    assert normalised({"userName": "u", "emails": {"value": "a@b.c", "type": "work"}})["emails"] == [
        {"value": "a@b.c", "type": "work"}
    ]


def test_empty_elements_and_lists_are_dropped():
    body = {"userName": "u", "emails": [{}, {"value": ""}, None, {"value": "a"}], "phoneNumbers": [], "roles": [{}]}
    assert normalised(body) == {"userName": "u", "emails": [{"value": "a"}]}


@pytest.mark.parametrize(
    "manager",
    ["m1", {"value": "m1"}, {"Value": "m1", "$ref": "https://x/Users/m1"}, [{"value": "m1", "$ref": "../Users/m1"}],
     {"value": "m1", "displayName": "Boss"}],
    ids=["bare id", "object", "object with $ref", "legacy list", "with displayName"],
)
def test_manager_forms_are_normalised(manager):
    assert normalised({"userName": "u", ENT: {"manager": manager}}) == {"userName": "u", ENT: {"manager": {"value": "m1"}}}
    assert normalised({"userName": "u", "manager": manager}) == {"userName": "u", ENT: {"manager": {"value": "m1"}}}


@pytest.mark.parametrize("manager", ["", None, [], {"value": ""}, {"value": None}, [{"value": ""}]])
def test_empty_manager_means_no_manager(manager):
    assert normalised({"userName": "u", ENT: {"manager": manager}}) == {"userName": "u"}


def test_input_is_not_modified():
    body = {"userName": "u", "Emails": [{"Value": "a", "primary": "True"}], ENT: {"manager": "m"}}
    snapshot = copy.deepcopy(body)
    normalise_user(body)
    assert body == snapshot


# --- project -----------------------------------------------------------------------------

FULL = {
    "schemas": [USER_URN, ENT],
    "id": "42",
    "externalId": "alice",
    "userName": "alice@contoso.com",
    "active": True,
    "name": {"givenName": "Alice", "familyName": "Smith"},
    "emails": [{"value": "a@contoso.com", "type": "work", "primary": True}, {"value": "a@home", "type": "home"}],
    "meta": {"resourceType": "User", "location": "https://x/Users/42"},
    ENT: {"department": "Finance", "manager": {"value": "7"}},
}

PROJECTIONS = {
    "nothing asked": (None, None, FULL),
    "entra manager check asks only id": (["id"], None, {"schemas": FULL["schemas"], "id": "42"}),
    "case-insensitive": (["USERNAME"], None, {"schemas": FULL["schemas"], "id": "42", "userName": "alice@contoso.com"}),
    "sub-attribute": (["name.givenName"], None, {"schemas": FULL["schemas"], "id": "42", "name": {"givenName": "Alice"}}),
    "two sub-attributes": (
        ["name.givenName", "name.familyName"], None,
        {"schemas": FULL["schemas"], "id": "42", "name": {"givenName": "Alice", "familyName": "Smith"}},
    ),
    "attribute wins over its sub-attribute": (
        ["name.givenName", "name"], None, {"schemas": FULL["schemas"], "id": "42", "name": FULL["name"]},
    ),
    "multi-valued sub-attribute": (
        ["emails.value"], None,
        {"schemas": FULL["schemas"], "id": "42", "emails": [{"value": "a@contoso.com"}, {"value": "a@home"}]},
    ),
    "URN-qualified extension attribute": (
        [f"{ENT}:department"], None, {"schemas": FULL["schemas"], "id": "42", ENT: {"department": "Finance"}},
    ),
    "URN-qualified sub-attribute": (
        [f"{ENT}:manager.value"], None, {"schemas": FULL["schemas"], "id": "42", ENT: {"manager": {"value": "7"}}},
    ),
    "plain manager": (["manager"], None, {"schemas": FULL["schemas"], "id": "42", ENT: {"manager": {"value": "7"}}}),
    "whole extension": ([ENT], None, {"schemas": FULL["schemas"], "id": "42", ENT: FULL[ENT]}),
    "core URN-qualified": (
        [f"{USER_URN}:active"], None, {"schemas": FULL["schemas"], "id": "42", "active": True},
    ),
    "unknown names ignored": (["favouriteColour", "urn:x:y:z"], None, {"schemas": FULL["schemas"], "id": "42"}),
    "absent attribute": (["title"], None, {"schemas": FULL["schemas"], "id": "42"}),
    "exclude": (None, ["emails", "meta"], {k: v for k, v in FULL.items() if k not in ("emails", "meta")}),
    "exclude cannot drop id or schemas": (None, ["id", "schemas"], FULL),
    "exclude sub-attribute": (
        None, ["name.familyName", "emails.primary"],
        {**FULL, "name": {"givenName": "Alice"},
         "emails": [{"value": "a@contoso.com", "type": "work"}, {"value": "a@home", "type": "home"}]},
    ),
    "exclude last extension attribute drops the extension": (
        None, [f"{ENT}:department", "MANAGER"], {k: v for k, v in FULL.items() if k != ENT},
    ),
    "exclude whole extension": (None, [ENT.upper()], {k: v for k, v in FULL.items() if k != ENT}),
    "exclude unknown": (None, ["favouriteColour"], FULL),
    "both": (["userName", "emails"], ["emails"], {"schemas": FULL["schemas"], "id": "42", "userName": "alice@contoso.com"}),
}


@pytest.mark.parametrize(("attributes", "excluded", "expected"), PROJECTIONS.values(), ids=PROJECTIONS.keys())
def test_project(attributes, excluded, expected):
    snapshot = copy.deepcopy(FULL)
    assert project(FULL, attributes=attributes, excluded=excluded) == expected
    assert FULL == snapshot


# --- schema ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("path", "name", "characteristics"),
    [
        ("id", "id", {"mutability": "readOnly", "returned": "always", "case_exact": True}),
        ("externalId", "externalId", {"case_exact": True}),
        ("USERNAME", "userName", {"required": True, "uniqueness": "server", "case_exact": False}),
        ("name.givenName", "givenName", {"type": "string"}),
        ("active", "active", {"type": "boolean"}),
        ("password", "password", {"mutability": "writeOnly", "returned": "never"}),
        ("emails", "emails", {"multi_valued": True, "type": "complex"}),
        ("emails.primary", "primary", {"type": "boolean"}),
        ("phoneNumbers.type", "type", {"canonical_values": ("work", "home", "mobile", "fax", "pager", "other")}),
        ("addresses.locality", "locality", {}),
        ("groups", "groups", {"mutability": "readOnly"}),
        ("x509Certificates.value", "value", {"type": "binary"}),
        (f"{USER_URN}:userName", "userName", {}),
        (f"{ENT}:employeeNumber", "employeeNumber", {}),
        (f"{ENT.upper()}:Manager.Value", "value", {}),
        ("manager.$ref", "$ref", {"type": "reference"}),
        ("manager.displayName", "displayName", {"mutability": "readOnly"}),
        ("costCenter", "costCenter", {}),
    ],
)
def test_find_attribute(path, name, characteristics):
    attribute = find_attribute(path)
    assert attribute is not None and attribute.name == name
    for key, value in characteristics.items():
        assert getattr(attribute, key) == value


@pytest.mark.parametrize(
    "path",
    ["favouriteColour", "name.nickname", f"{USER_URN}:employeeNumber", f"{ENT}:userName", "urn:x:y:userName", ENT],
)
def test_find_attribute_unknown(path):
    assert find_attribute(path) is None


def test_resolve_path_reports_the_schema():
    assert resolve_path("manager").schema is ENTERPRISE_USER
    assert resolve_path("userName").schema is USER


def test_every_multi_valued_attribute_is_complex_with_sub_attributes():
    for attribute in USER.attributes:
        if attribute.multi_valued:
            assert attribute.type == "complex" and attribute.sub_attributes, attribute.name


def _walk(node):
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


@pytest.mark.parametrize("schema", [USER, ENTERPRISE_USER], ids=["User", "EnterpriseUser"])
def test_schema_document_is_camel_case_without_nulls(schema):
    document = schema_document(schema, f"https://x/Schemas/{schema.urn}")
    assert document["schemas"] == [SCHEMA_URN]
    assert document["id"] == schema.urn
    assert document["meta"] == {"resourceType": "Schema", "location": f"https://x/Schemas/{schema.urn}"}
    for key, value in _walk(document):
        assert value is not None, key
        assert "_" not in key, key


def test_user_schema_document_attributes():
    document = schema_document(USER, "https://x/Schemas/User")
    by_name = {attribute["name"]: attribute for attribute in document["attributes"]}
    assert "id" not in by_name and "meta" not in by_name
    assert by_name["userName"] == {
        "name": "userName",
        "type": "string",
        "multiValued": False,
        "description": by_name["userName"]["description"],
        "required": True,
        "caseExact": False,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "server",
    }
    emails = by_name["emails"]
    assert [sub["name"] for sub in emails["subAttributes"]] == ["value", "display", "type", "primary"]
    assert by_name["password"]["returned"] == "never"
    assert {
        "name", "displayName", "nickName", "profileUrl", "title", "userType", "preferredLanguage", "locale",
        "timezone", "active", "password", "emails", "phoneNumbers", "ims", "photos", "addresses", "groups",
        "entitlements", "roles", "x509Certificates", "externalId", "userName",
    } == set(by_name)


def test_enterprise_schema_document_manager():
    document = schema_document(ENTERPRISE_USER, "https://x")
    manager = next(a for a in document["attributes"] if a["name"] == "manager")
    assert [sub["name"] for sub in manager["subAttributes"]] == ["value", "$ref", "displayName"]
    assert manager["subAttributes"][1]["referenceTypes"] == ["User"]
