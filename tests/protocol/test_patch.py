"""PATCH (RFC 7644 §3.5.2) with every form Entra sends (entra-scim.md §3.2–§3.6 and §8)."""
from __future__ import annotations

import copy

import pytest

from scim_provisioning.protocol.constants import ENTERPRISE_USER_URN, PATCH_OP_URN
from scim_provisioning.protocol.errors import (
    InvalidPathError,
    InvalidSyntaxError,
    InvalidValueError,
    MutabilityError,
    NoTargetError,
    ScimError,
)
from scim_provisioning.protocol.filters import AttrPath, Comparison, PatchPath
from scim_provisioning.protocol.patch import PatchOperation, PatchResult, apply_patch, normalise_patch

ENT = ENTERPRISE_USER_URN

BASE = {
    "id": "48af03ac28ad4fb88478",
    "externalId": "alice",
    "userName": "alice@contoso.com",
    "active": True,
    "displayName": "Alice Smith",
    "name": {"givenName": "Alice", "familyName": "Smith", "formatted": "Alice Smith"},
    "emails": [
        {"value": "alice@contoso.com", "type": "work", "primary": True},
        {"value": "alice@home.example", "type": "home"},
    ],
    "phoneNumbers": [{"value": "+1 425 555 0100", "type": "work"}],
    ENT: {"employeeNumber": "1001", "department": "Finance", "manager": {"value": "m-1"}},
}


def body(*operations: dict) -> dict:
    return {"schemas": [PATCH_OP_URN], "Operations": list(operations)}


def patched(*operations: dict, resource: dict | None = None) -> PatchResult:
    return apply_patch(BASE if resource is None else resource, normalise_patch(body(*operations)))


def changed(**changes) -> dict:
    """BASE with top-level keys replaced; a value of None deletes the key."""
    result = copy.deepcopy(BASE)
    for key, value in changes.items():
        key = ENT if key == "ENT" else key
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


WORK_ADDRESS_OPS = [
    {"op": "Add", "path": 'addresses[type eq "work"].formatted', "value": "Building 4"},
    {"op": "Add", "path": 'addresses[type eq "work"].streetAddress', "value": "1 Main St"},
    {"op": "Add", "path": 'addresses[type eq "work"].locality', "value": "Redmond"},
    {"op": "Add", "path": 'addresses[type eq "work"].region', "value": "WA"},
    {"op": "Add", "path": 'addresses[type eq "work"].postalCode', "value": "98052"},
    {"op": "Add", "path": 'addresses[type eq "work"].country', "value": "United States"},
]

# name -> (operations, resource before or None for BASE, expected resource, expected ignored)
CASES = {
    # §3.2 legacy forms
    "3.2 disable with 'False'": ([{"op": "Replace", "path": "active", "value": "False"}], None, changed(active=False), ()),
    "3.2 enable with 'True'": (
        [{"op": "Replace", "path": "active", "value": "True"}], changed(active=False), BASE, ()),
    "3.2 lowercase 'false'": ([{"op": "Replace", "path": "active", "value": "false"}], None, changed(active=False), ()),
    "3.2 add nickName": ([{"op": "Add", "path": "nickName", "value": "Babs"}], None, changed(nickName="Babs"), ()),
    "3.2 replace several attributes": (
        [
            {"op": "Replace", "path": "displayName", "value": "Pvlo"},
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "TestBcwqnm@test.microsoft.com"},
            {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
            {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
            {"op": "Replace", "path": "externalId", "value": "Eqpj"},
            {"op": "Replace", "path": f"{ENT}:employeeNumber", "value": "Eqpj"},
        ],
        None,
        changed(
            displayName="Pvlo",
            emails=[
                {"value": "TestBcwqnm@test.microsoft.com", "type": "work", "primary": True},
                {"value": "alice@home.example", "type": "home"},
            ],
            name={"givenName": "Gtfd", "familyName": "Pkqf", "formatted": "Alice Smith"},
            externalId="Eqpj",
            ENT={"employeeNumber": "Eqpj", "department": "Finance", "manager": {"value": "m-1"}},
        ),
        (),
    ),
    "3.2 UPN change": (
        [{"op": "Replace", "path": "userName", "value": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}],
        None, changed(userName="5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"), ()),
    # §3.3 compliant forms
    "3.3 disable with boolean": ([{"op": "replace", "path": "active", "value": False}], None, changed(active=False), ()),
    "3.3 path-less object with attribute-path keys": (
        [
            {"op": "replace", "path": 'emails[type eq "work"].value', "value": "TestMhvaes@test.microsoft.com"},
            {"op": "replace", "value": {
                "displayName": "Bjfe", "name.givenName": "Kkom", "name.familyName": "Unua",
                f"{ENT}:employeeNumber": "Aklq"}},
        ],
        None,
        changed(
            displayName="Bjfe",
            emails=[
                {"value": "TestMhvaes@test.microsoft.com", "type": "work", "primary": True},
                {"value": "alice@home.example", "type": "home"},
            ],
            name={"givenName": "Kkom", "familyName": "Unua", "formatted": "Alice Smith"},
            ENT={"employeeNumber": "Aklq", "department": "Finance", "manager": {"value": "m-1"}},
        ),
        (),
    ),
    "3.3 path-less add": (
        [{"op": "add", "value": {"nickName": "Babs", "name.middleName": "Q"}}], None,
        changed(nickName="Babs", name={**BASE["name"], "middleName": "Q"}), ()),
    "3.3 path-less nested extension object": (
        [{"op": "replace", "value": {ENT: {"department": "X", "costCenter": "CC"}}}], None,
        changed(ENT={**BASE[ENT], "department": "X", "costCenter": "CC"}), ()),
    "3.3 path-less RFC nested complex value merges": (
        [{"op": "replace", "value": {"name": {"givenName": "Al"}, "active": False}}], None,
        changed(name={**BASE["name"], "givenName": "Al"}, active=False), ()),
    "3.3 path-less whole representation echoing id and schemas": (
        [{"op": "replace", "value": {"schemas": ["x"], "id": BASE["id"], "title": "CFO"}}], None, changed(title="CFO"), ()),
    # §3.4 filtered multi-valued paths
    "3.4 create missing mobile phone": (
        [{"op": "Add", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+1 425 555 0101"}], None,
        changed(phoneNumbers=[{"value": "+1 425 555 0100", "type": "work"},
                              {"type": "mobile", "value": "+1 425 555 0101"}]), ()),
    "3.4 replace also creates (Entra, not noTarget)": (
        [{"op": "Replace", "path": 'phoneNumbers[type eq "fax"].value', "value": "+1 425 555 0102"}], None,
        changed(phoneNumbers=[{"value": "+1 425 555 0100", "type": "work"},
                              {"type": "fax", "value": "+1 425 555 0102"}]), ()),
    "3.4 work address ops merge into one element": (
        WORK_ADDRESS_OPS, None,
        changed(addresses=[{"type": "work", "formatted": "Building 4", "streetAddress": "1 Main St",
                            "locality": "Redmond", "region": "WA", "postalCode": "98052",
                            "country": "United States"}]), ()),
    "3.4 replacing the work email keeps the home email": (
        [{"op": "Replace", "path": 'emails[type eq "work"].value', "value": "new@contoso.com"}], None,
        changed(emails=[{"value": "new@contoso.com", "type": "work", "primary": True},
                        {"value": "alice@home.example", "type": "home"}]), ()),
    "3.4 type matched case-insensitively": (
        [{"op": "Replace", "path": 'emails[type eq "WORK"].value', "value": "new@contoso.com"}], None,
        changed(emails=[{"value": "new@contoso.com", "type": "work", "primary": True},
                        {"value": "alice@home.example", "type": "home"}]), ()),
    "3.4 work email created when only home exists": (
        [{"op": "Add", "path": 'emails[type eq "work"].value', "value": "w@contoso.com"}],
        changed(emails=[{"value": "h@home", "type": "home"}]),
        changed(emails=[{"value": "h@home", "type": "home"}, {"type": "work", "value": "w@contoso.com"}]), ()),
    "3.4 work email created when there are no emails": (
        [{"op": "Add", "path": 'emails[type eq "work"].value', "value": "w@contoso.com"}], changed(emails=None),
        changed(emails=[{"type": "work", "value": "w@contoso.com"}]), ()),
    "3.4 primary as string on filtered path": (
        [{"op": "Replace", "path": 'emails[type eq "home"].primary', "value": "True"}], None,
        changed(emails=[{"value": "alice@contoso.com", "type": "work", "primary": False},
                        {"value": "alice@home.example", "type": "home", "primary": True}]), ()),
    "3.4 conjunction filter creates with both values": (
        [{"op": "Add", "path": 'emails[type eq "other" and primary eq false].value', "value": "o@x"}], None,
        changed(emails=BASE["emails"] + [{"type": "other", "primary": False, "value": "o@x"}]), ()),
    "3.4 filtered path without sub-attribute, add merges": (
        [{"op": "Add", "path": 'emails[type eq "home"]', "value": {"display": "Home"}}], None,
        changed(emails=[BASE["emails"][0], {"value": "alice@home.example", "type": "home", "display": "Home"}]), ()),
    "3.4 filtered path without sub-attribute, replace replaces": (
        [{"op": "Replace", "path": 'emails[type eq "home"]', "value": {"value": "h2@x", "type": "home"}}], None,
        changed(emails=[BASE["emails"][0], {"value": "h2@x", "type": "home"}]), ()),
    "3.4 filtered path without sub-attribute creates": (
        [{"op": "Add", "path": 'ims[type eq "skype"]', "value": {"value": "alice.s"}}], None,
        changed(ims=[{"type": "skype", "value": "alice.s"}]), ()),
    "3.4 clearing a missing typed value is a no-op": (
        [{"op": "Replace", "path": 'phoneNumbers[type eq "mobile"].value', "value": ""}], None, BASE, ()),
    # §3.5 manager
    "3.5 add manager as bare id (URN path)": (
        [{"op": "Add", "path": f"{ENT}:manager", "value": "271"}], None,
        changed(ENT={**BASE[ENT], "manager": {"value": "271"}}), ()),
    "3.5 lowercase add with uuid": (
        [{"op": "add", "path": f"{ENT}:manager", "value": "7c3f2a9e-1d4b-4b8e-9f6a-2e5d8c1b0a37"}], None,
        changed(ENT={**BASE[ENT], "manager": {"value": "7c3f2a9e-1d4b-4b8e-9f6a-2e5d8c1b0a37"}}), ()),
    "3.5 old doc form: plain manager path with list": (
        [{"op": "Add", "path": "manager", "value": [{"$ref": "http://x/scim/Users/26118915", "value": "26118915"}]}],
        None, changed(ENT={**BASE[ENT], "manager": {"value": "26118915"}}), ()),
    "3.5 manager as object": (
        [{"op": "Replace", "path": "manager", "value": {"value": "m-2"}}], None,
        changed(ENT={**BASE[ENT], "manager": {"value": "m-2"}}), ()),
    "3.5 manager.value path": (
        [{"op": "Replace", "path": f"{ENT}:manager.value", "value": "m-2"}], None,
        changed(ENT={**BASE[ENT], "manager": {"value": "m-2"}}), ()),
    "3.5 manager created with the extension": (
        [{"op": "Add", "path": f"{ENT}:manager", "value": "271"}], changed(ENT=None),
        changed(ENT={"manager": {"value": "271"}}), ()),
    "3.5 remove manager without value": (
        [{"op": "Remove", "path": f"{ENT}:manager"}], None,
        changed(ENT={"employeeNumber": "1001", "department": "Finance"}), ()),
    "3.5 remove manager with matching value": (
        [{"op": "Remove", "path": "manager", "value": [{"value": "m-1"}]}], None,
        changed(ENT={"employeeNumber": "1001", "department": "Finance"}), ()),
    "3.5 remove manager with a different value is a no-op": (
        [{"op": "Remove", "path": "manager", "value": [{"value": "m-9"}]}], None, BASE, ()),
    "3.5 remove manager by filter": (
        [{"op": "remove", "path": 'manager[value eq "m-1"]'}], None,
        changed(ENT={"employeeNumber": "1001", "department": "Finance"}), ()),
    "3.5 remove manager by non-matching filter is a no-op": (
        [{"op": "remove", "path": 'manager[value eq "m-9"]'}], None, BASE, ()),
    "3.5 replace manager with empty string clears": (
        [{"op": "Replace", "path": f"{ENT}:manager", "value": ""}], None,
        changed(ENT={"employeeNumber": "1001", "department": "Finance"}), ()),
    "3.5 replace manager with null clears": (
        [{"op": "Replace", "path": "manager", "value": None}], None,
        changed(ENT={"employeeNumber": "1001", "department": "Finance"}), ()),
    "3.5 clearing the last enterprise attribute drops the extension": (
        [{"op": "Remove", "path": "manager"}], changed(ENT={"manager": {"value": "m-1"}}), changed(ENT=None), ()),
    "3.5 manager $ref is ignored": (
        [{"op": "Replace", "path": "manager.$ref", "value": "x"}], None, BASE, ("manager.$ref",)),
    # §3.6 clearing
    "3.6 replace with empty string clears": (
        [{"op": "Replace", "path": "displayName", "value": ""}], None, changed(displayName=None), ()),
    "3.6 replace with null clears": (
        [{"op": "Replace", "path": "displayName", "value": None}], None, changed(displayName=None), ()),
    "3.6 add with empty string clears": (
        [{"op": "Add", "path": f"{ENT}:department", "value": ""}], None,
        changed(ENT={"employeeNumber": "1001", "manager": {"value": "m-1"}}), ()),
    "3.6 clearing the work email drops the element": (
        [{"op": "Replace", "path": 'emails[type eq "work"].value', "value": ""}], None,
        changed(emails=[{"value": "alice@home.example", "type": "home"}]), ()),
    "3.6 clearing a name part": (
        [{"op": "Replace", "path": "name.givenName", "value": None}], None,
        changed(name={"familyName": "Smith", "formatted": "Alice Smith"}), ()),
    "3.6 clearing the last name part drops name": (
        [{"op": "Replace", "path": "name.givenName", "value": ""}], changed(name={"givenName": "A"}),
        changed(name=None), ()),
    # §8 checklist
    "8.1 op case-insensitive (REPLACE)": ([{"op": "REPLACE", "path": "title", "value": "CFO"}], None, changed(title="CFO"), ()),
    "8.5 Add on an existing single value replaces": (
        [{"op": "Add", "path": "active", "value": "False"}], None, changed(active=False), ()),
    "8.5 Add on an existing name part replaces": (
        [{"op": "Add", "path": "name.givenName", "value": "Ally"}], None,
        changed(name={**BASE["name"], "givenName": "Ally"}), ()),
    "8.11 values stored exactly as sent": (
        [{"op": "Replace", "path": 'phoneNumbers[type eq "work"].value', "value": "55555555555"},
         {"op": "Replace", "path": "displayName", "value": "  ALICE  "}], None,
        changed(phoneNumbers=[{"value": "55555555555", "type": "work"}], displayName="  ALICE  "), ()),
    "8.12 unknown attribute does not block a bundled deactivation": (
        [{"op": "Replace", "path": "favouriteColour", "value": "red"},
         {"op": "Replace", "path": "active", "value": "False"},
         {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:Custom:2.0:User:costCode", "value": "7"}],
        None, changed(active=False),
        ("favouriteColour", "urn:ietf:params:scim:schemas:extension:Custom:2.0:User:costCode")),
    "8.12 unknown keys in a path-less value": (
        [{"op": "replace", "value": {"active": False, "name.nickname": "x", "badge": 1}}], None, changed(active=False),
        ("name.nickname", "badge")),
    "8.12 unknown sub-attribute in a filtered path": (
        [{"op": "replace", "path": 'emails[type eq "work"].verified', "value": True}], None, BASE,
        ('emails[type eq "work"].verified',)),
    # server-managed attributes
    "meta is ignored": ([{"op": "replace", "path": "meta.lastModified", "value": "x"}], None, BASE, ("meta.lastModified",)),
    "groups are ignored": ([{"op": "add", "path": "groups", "value": [{"value": "g"}]}], None, BASE, ("groups",)),
    "schemas are ignored": ([{"op": "replace", "path": "schemas", "value": ["x"]}], None, BASE, ("schemas",)),
    "password is ignored": ([{"op": "replace", "path": "password", "value": "hunter2"}], None, BASE, ("password",)),
    "id unchanged is accepted": ([{"op": "replace", "path": "id", "value": BASE["id"]}], None, BASE, ()),
    # RFC forms
    "remove single-valued": ([{"op": "remove", "path": "displayName"}], None, changed(displayName=None), ()),
    "remove absent attribute is a no-op": ([{"op": "remove", "path": "title"}], None, BASE, ()),
    "remove whole multi-valued": ([{"op": "remove", "path": "emails"}], None, changed(emails=None), ()),
    "remove filtered element": (
        [{"op": "remove", "path": 'emails[type eq "home"]'}], None, changed(emails=[BASE["emails"][0]]), ()),
    "remove filtered element with no match": ([{"op": "remove", "path": 'emails[type eq "other"]'}], None, BASE, ()),
    "remove sub-attribute of filtered element": (
        [{"op": "remove", "path": 'emails[type eq "work"].primary'}], None,
        changed(emails=[{"value": "alice@contoso.com", "type": "work"}, BASE["emails"][1]]), ()),
    "remove value of filtered element drops it": (
        [{"op": "remove", "path": 'emails[type eq "work"].value'}], None, changed(emails=[BASE["emails"][1]]), ()),
    "remove with a value list": (
        [{"op": "remove", "path": "emails", "value": [{"value": "alice@home.example"}]}], None,
        changed(emails=[BASE["emails"][0]]), ()),
    "remove with a bare value": (
        [{"op": "remove", "path": "emails", "value": "alice@home.example"}], None, changed(emails=[BASE["emails"][0]]), ()),
    "remove with a value that matches nothing": (
        [{"op": "remove", "path": "emails", "value": [{"value": "nobody@x"}]}], None, BASE, ()),
    "remove sub-attribute of every element": (
        [{"op": "remove", "path": "emails.type"}], None,
        changed(emails=[{"value": "alice@contoso.com", "primary": True}, {"value": "alice@home.example"}]), ()),
    "remove name part": (
        [{"op": "remove", "path": "name.formatted"}], None, changed(name={"givenName": "Alice", "familyName": "Smith"}), ()),
    "remove whole extension": ([{"op": "remove", "path": ENT}], None, changed(ENT=None), ()),
    "remove from absent extension": ([{"op": "remove", "path": f"{ENT}:department"}], changed(ENT=None), changed(ENT=None), ()),
    "replace whole extension object merges": (
        [{"op": "replace", "path": ENT, "value": {"department": "X"}}], None, changed(ENT={**BASE[ENT], "department": "X"}), ()),
    "add appends to multi-valued": (
        [{"op": "add", "path": "emails", "value": [{"value": "o@x", "type": "other"}]}], None,
        changed(emails=BASE["emails"] + [{"value": "o@x", "type": "other"}]), ()),
    "add skips exact duplicates": (
        [{"op": "add", "path": "emails", "value": [BASE["emails"][1]]}], None, BASE, ()),
    "add wraps a single object": (
        [{"op": "add", "path": "roles", "value": {"value": "admin"}}], None, changed(roles=[{"value": "admin"}]), ()),
    "add primary element demotes the old primary": (
        [{"op": "add", "path": "emails", "value": {"value": "o@x", "type": "other", "primary": "true"}}], None,
        changed(emails=[{"value": "alice@contoso.com", "type": "work", "primary": False}, BASE["emails"][1],
                        {"value": "o@x", "type": "other", "primary": True}]), ()),
    "replace multi-valued replaces the list": (
        [{"op": "replace", "path": "emails", "value": [{"value": "only@x", "type": "work"}]}], None,
        changed(emails=[{"value": "only@x", "type": "work"}]), ()),
    "replace multi-valued with empty list clears": (
        [{"op": "replace", "path": "emails", "value": []}], None, changed(emails=None), ()),
    "replace complex with object merges (RFC 7644 §3.5.2.3)": (
        [{"op": "replace", "path": "name", "value": {"familyName": "Jones", "formatted": ""}}], None,
        changed(name={"givenName": "Alice", "familyName": "Jones"}), ()),
    "replace complex with null clears": ([{"op": "replace", "path": "name", "value": None}], None, changed(name=None), ()),
    "sub-attribute of every element": (
        [{"op": "replace", "path": "phoneNumbers.display", "value": "Desk"}], None,
        changed(phoneNumbers=[{"value": "+1 425 555 0100", "type": "work", "display": "Desk"}]), ()),
    "keys in stored resource are matched case-insensitively": (
        [{"op": "replace", "path": "displayname", "value": "X"}], {**{k: v for k, v in BASE.items() if k != "displayName"},
                                                                   "DisplayName": "Old"},
        changed(displayName="X"), ()),
    "URN keys matched case-insensitively": (
        [{"op": "replace", "path": f"{ENT.upper()}:DEPARTMENT", "value": "X"}], None,
        changed(ENT={**BASE[ENT], "department": "X"}), ()),
    "later operations see earlier ones": (
        [{"op": "add", "path": 'emails[type eq "other"].value', "value": "o@x"},
         {"op": "replace", "path": 'emails[type eq "other"].display', "value": "Other"}], None,
        changed(emails=BASE["emails"] + [{"type": "other", "value": "o@x", "display": "Other"}]), ()),
}


@pytest.mark.parametrize(("operations", "before", "expected", "ignored"), CASES.values(), ids=CASES.keys())
def test_patch(operations, before, expected, ignored):
    resource = BASE if before is None else before
    snapshot = copy.deepcopy(resource)
    result = patched(*operations, resource=resource)
    assert result == PatchResult(expected, ignored)
    assert resource == snapshot, "the input resource must not be modified"


FAILURES = {
    "change id": ([{"op": "replace", "path": "id", "value": "other"}], MutabilityError),
    "remove id": ([{"op": "remove", "path": "id"}], MutabilityError),
    "path-less id change": ([{"op": "replace", "value": {"id": "other"}}], MutabilityError),
    "remove userName": ([{"op": "remove", "path": "userName"}], InvalidValueError),
    "blank userName": ([{"op": "replace", "path": "userName", "value": "  "}], InvalidValueError),
    "empty userName": ([{"op": "replace", "path": "userName", "value": ""}], InvalidValueError),
    "active not a boolean": ([{"op": "replace", "path": "active", "value": "no"}], InvalidValueError),
    "active as number": ([{"op": "replace", "path": "active", "value": 0}], InvalidValueError),
    "string attribute as number": ([{"op": "replace", "path": "displayName", "value": 7}], InvalidValueError),
    "string attribute as list": ([{"op": "replace", "path": "title", "value": ["CFO"]}], InvalidValueError),
    "name as string": ([{"op": "replace", "path": "name", "value": "Alice"}], InvalidValueError),
    "emails as strings": ([{"op": "add", "path": "emails", "value": ["a@b.c"]}], InvalidValueError),
    "manager as number": ([{"op": "add", "path": "manager", "value": 271}], InvalidValueError),
    "two managers": ([{"op": "add", "path": "manager", "value": [{"value": "a"}, {"value": "b"}]}], InvalidValueError),
    "extension as string": ([{"op": "replace", "path": ENT, "value": "x"}], InvalidValueError),
    "filter on single-valued attribute": ([{"op": "replace", "path": 'name[givenName eq "A"]', "value": {}}], InvalidPathError),
    "filter that cannot describe an element": (
        [{"op": "add", "path": 'emails[type ne "work" and type ne "home"].value', "value": "x"}], NoTargetError),
    "or filter matching nothing": (
        [{"op": "add", "path": 'emails[type eq "a" or type eq "b"].value', "value": "x"}], NoTargetError),
    "contradictory filter": (
        [{"op": "add", "path": 'emails[type eq "a" and type eq "b"].value', "value": "x"}], NoTargetError),
    "filter on unknown sub-attribute": (
        [{"op": "add", "path": 'emails[kind eq "a"].value', "value": "x"}], NoTargetError),
    "filter value of the wrong type": (
        [{"op": "add", "path": 'emails[primary eq "maybe"].value', "value": "x"}], NoTargetError),
    "sub-attribute on empty list": ([{"op": "add", "path": "roles.value", "value": "x"}], NoTargetError),
    "manager filter matching nothing on replace": (
        [{"op": "replace", "path": 'manager[value eq "zz"]', "value": "m-3"}], NoTargetError),
    "filtered element value list of two": (
        [{"op": "replace", "path": 'emails[type eq "home"]', "value": [{"value": "a"}, {"value": "b"}]}], InvalidValueError),
    "NUL in a string": ([{"op": "replace", "path": "displayName", "value": "a\x00"}], InvalidValueError),
}


@pytest.mark.parametrize(("operations", "error"), FAILURES.values(), ids=FAILURES.keys())
def test_patch_failures(operations, error):
    with pytest.raises(error):
        patched(*operations)


def test_patch_is_atomic():
    operations = normalise_patch(body(
        {"op": "replace", "path": "active", "value": False},
        {"op": "replace", "path": "displayName", "value": "New"},
        {"op": "replace", "path": "id", "value": "changed"},
    ))
    snapshot = copy.deepcopy(BASE)
    with pytest.raises(MutabilityError):
        apply_patch(BASE, operations)
    assert BASE == snapshot


def test_result_shares_no_mutable_state_with_the_input():
    result = patched({"op": "replace", "path": "title", "value": "x"}).resource
    result["emails"][0]["value"] = "changed"
    result[ENT]["manager"]["value"] = "changed"
    assert BASE["emails"][0]["value"] == "alice@contoso.com"
    assert BASE[ENT]["manager"]["value"] == "m-1"


# --- normalise_patch ---------------------------------------------------------------------

def test_normalise_entra_legacy_operation():
    assert normalise_patch(body({"op": "Replace", "path": "active", "value": "False"})) == (
        PatchOperation("replace", PatchPath(AttrPath(None, "active", None)), "False"),
    )


def test_normalise_expands_path_less_values_in_order():
    operations = normalise_patch(body({"op": "Replace", "value": {
        "displayName": "Bjfe",
        "name.givenName": "Kkom",
        f"{ENT}:employeeNumber": "Aklq",
        ENT: {"department": "X", "manager": "m"},
    }}))
    assert [(op.op, str(op.path), op.value) for op in operations] == [
        ("replace", "displayName", "Bjfe"),
        ("replace", "name.givenName", "Kkom"),
        ("replace", f"{ENT}:employeeNumber", "Aklq"),
        ("replace", f"{ENT}:department", "X"),
        ("replace", f"{ENT}:manager", "m"),
    ]


def test_normalise_whole_extension_path_with_object():
    operations = normalise_patch(body({"op": "add", "path": ENT, "value": {"department": "X"}}))
    assert operations == (
        PatchOperation("add", PatchPath(AttrPath(ENT, "department", None)), "X"),
    )


def test_normalise_keeps_filter_and_sub_attribute():
    (operation,) = normalise_patch(body({"op": "Add", "path": 'emails[type eq "work"].value', "value": "x"}))
    assert operation.path == PatchPath(
        AttrPath(None, "emails", None), Comparison(AttrPath(None, "type", None), "eq", "work"), "value"
    )


@pytest.mark.parametrize(
    "payload",
    [
        {"Operations": [{"op": "add", "path": "title", "value": "x"}]},
        {"schemas": [PATCH_OP_URN.upper()], "operations": [{"OP": "add", "PATH": "title", "VALUE": "x"}]},
        {"SCHEMAS": ["other", PATCH_OP_URN], "Operations": [{"op": "ADD", "path": "title", "value": "x"}]},
    ],
    ids=["no schemas", "keys in other case", "extra schema"],
)
def test_normalise_is_lenient_about_structure(payload):
    assert normalise_patch(payload) == (PatchOperation("add", PatchPath(AttrPath(None, "title", None)), "x"),)


MALFORMED = {
    "not an object": ([], InvalidSyntaxError),
    "string": ("Operations", InvalidSyntaxError),
    "null": (None, InvalidSyntaxError),
    "missing Operations": ({"schemas": [PATCH_OP_URN]}, InvalidSyntaxError),
    "empty Operations": (body(), InvalidSyntaxError),
    "Operations not a list": ({"schemas": [PATCH_OP_URN], "Operations": {"op": "add"}}, InvalidSyntaxError),
    "operation not an object": (body("add"), InvalidSyntaxError),
    "wrong schemas": ({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "Operations": [
        {"op": "add", "path": "title", "value": "x"}]}, InvalidSyntaxError),
    "schemas not a list": ({"schemas": PATCH_OP_URN, "Operations": [
        {"op": "add", "path": "title", "value": "x"}]}, InvalidSyntaxError),
    "schemas null": ({"schemas": None, "Operations": [{"op": "add", "path": "title", "value": "x"}]}, InvalidSyntaxError),
    "missing op": (body({"path": "title", "value": "x"}), InvalidSyntaxError),
    "unknown op": (body({"op": "move", "path": "title", "value": "x"}), InvalidSyntaxError),
    "op not a string": (body({"op": 1, "path": "title", "value": "x"}), InvalidSyntaxError),
    "remove without path": (body({"op": "Remove"}), NoTargetError),
    "remove with empty path": (body({"op": "remove", "path": ""}), NoTargetError),
    "path not a string": (body({"op": "add", "path": ["title"], "value": "x"}), InvalidPathError),
    "malformed path": (body({"op": "add", "path": "emails[type eq", "value": "x"}), InvalidPathError),
    "filter-like path": (body({"op": "add", "path": 'title eq "x"', "value": "x"}), InvalidPathError),
    "malformed key in path-less value": (body({"op": "add", "value": {"emails[": "x"}}), InvalidPathError),
    "malformed key in nested extension": (body({"op": "add", "value": {ENT: {"a b": "x"}}}), InvalidPathError),
    "add without value": (body({"op": "add", "path": "title"}), InvalidValueError),
    "path-less add without value": (body({"op": "add"}), InvalidValueError),
    "path-less value not an object": (body({"op": "replace", "value": "x"}), InvalidValueError),
    "path-less value a list": (body({"op": "replace", "value": [{"title": "x"}]}), InvalidValueError),
}


@pytest.mark.parametrize(("payload", "error"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_bodies(payload, error):
    with pytest.raises(error):
        normalise_patch(payload)


def test_hand_built_path_less_operation_is_expanded():
    result = apply_patch(BASE, [PatchOperation("replace", None, {"title": "CFO"})])
    assert result.resource == changed(title="CFO")


def test_hand_built_path_less_remove_is_no_target():
    with pytest.raises(NoTargetError):
        apply_patch(BASE, [PatchOperation("remove", None)])


def test_errors_are_scim_errors_with_details():
    with pytest.raises(ScimError) as caught:
        patched({"op": "replace", "path": "active", "value": "nope"})
    assert caught.value.as_body()["scimType"] == "invalidValue"
    assert "active" in caught.value.detail
