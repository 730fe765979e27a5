"""Filter grammar (RFC 7644 §3.4.2.2), PATCH paths (§3.5.2) and in-memory evaluation."""
from __future__ import annotations

import pytest

from scim_provisioning.protocol.constants import ENTERPRISE_USER_URN, USER_URN
from scim_provisioning.protocol.errors import InvalidFilterError, InvalidPathError
from scim_provisioning.protocol.filters import (
    MAX_DEPTH,
    MAX_LENGTH,
    And,
    AttrPath,
    Comparison,
    Not,
    Or,
    PatchPath,
    Present,
    ValuePath,
    format_filter,
    matches,
    parse_filter,
    parse_path,
)
from scim_provisioning.protocol.schema import USER


def attr(name: str, sub: str | None = None, schema: str | None = None) -> AttrPath:
    return AttrPath(schema, name, sub)


def eq(name: str, value, sub: str | None = None, schema: str | None = None) -> Comparison:
    return Comparison(attr(name, sub, schema), "eq", value)


USER_NAME_GUID = eq("userName", "7d420df3-9995-4831-a406-ecf8166f5f6a")

VALID = {
    # Entra's exact forms (entra-scim.md §1, §2.1, §3.1)
    "entra test connection": ('userName eq "7d420df3-9995-4831-a406-ecf8166f5f6a"', USER_NAME_GUID),
    "entra externalId": ('externalId eq "x"', eq("externalId", "x")),
    "entra legacy unquoted externalId": ("externalId eq jyoung", eq("externalId", "jyoung")),
    "entra work email (non-RFC)": (
        'emails[type eq "work"].value eq "a@b.c"',
        ValuePath(attr("emails"), And(eq("type", "work"), eq("value", "a@b.c"))),
    ),
    "entra manager check": ('id eq "x" and manager eq "y"', And(eq("id", "x"), eq("manager", "y"))),
    # every operator
    "ne": ('title ne "x"', Comparison(attr("title"), "ne", "x")),
    "co": ('userName co "ali"', Comparison(attr("userName"), "co", "ali")),
    "sw": ('userName sw "J"', Comparison(attr("userName"), "sw", "J")),
    "ew": ('userName ew ".com"', Comparison(attr("userName"), "ew", ".com")),
    "gt": ('meta.lastModified gt "2011-05-13T04:42:34Z"', Comparison(attr("meta", "lastModified"), "gt", "2011-05-13T04:42:34Z")),
    "ge": ("x ge 1", Comparison(attr("x"), "ge", 1)),
    "lt": ("x lt -1.5", Comparison(attr("x"), "lt", -1.5)),
    "le": ("x le 2e3", Comparison(attr("x"), "le", 2000.0)),
    "pr": ("title pr", Present(attr("title"))),
    # literals and strings
    "true": ("active eq true", eq("active", True)),
    "false": ("active eq false", eq("active", False)),
    "null": ("title eq null", eq("title", None)),
    "literal case": ("active eq TRUE", eq("active", True)),
    "integer": ("x eq 0", eq("x", 0)),
    "negative exponent": ("x eq -1.25E-2", eq("x", -0.0125)),
    "json escapes": (r'displayName eq "a\"b\\c\u00e9\n"', eq("displayName", 'a"b\\c\u00e9\n')),
    "empty string": ('title eq ""', eq("title", "")),
    "unicode": ('displayName eq "Zoë 山田"', eq("displayName", "Zoë 山田")),
    "spaces inside string": ('displayName eq "  a  b "', eq("displayName", "  a  b ")),
    "keyword inside string": ('title eq "and or not"', eq("title", "and or not")),
    "brackets inside string": ('title eq "a[b](c)"', eq("title", "a[b](c)")),
    # case-insensitive operators and keywords; names kept as written
    "upper operator": ('userName EQ "x"', eq("userName", "x")),
    "mixed operator": ('UserName Eq "x"', eq("UserName", "x")),
    "upper PR": ("title PR", Present(attr("title"))),
    "upper AND OR NOT": (
        'a pr AND NOT (b pr) OR c pr',
        Or(And(Present(attr("a")), Not(Present(attr("b")))), Present(attr("c"))),
    ),
    # precedence and grouping
    "and binds tighter (left)": (
        "a pr or b pr and c pr",
        Or(Present(attr("a")), And(Present(attr("b")), Present(attr("c")))),
    ),
    "and binds tighter (right)": (
        "a pr and b pr or c pr",
        Or(And(Present(attr("a")), Present(attr("b"))), Present(attr("c"))),
    ),
    "left associative and": (
        "a pr and b pr and c pr",
        And(And(Present(attr("a")), Present(attr("b"))), Present(attr("c"))),
    ),
    "left associative or": ("a pr or b pr or c pr", Or(Or(Present(attr("a")), Present(attr("b"))), Present(attr("c")))),
    "parentheses": (
        "(a pr or b pr) and c pr",
        And(Or(Present(attr("a")), Present(attr("b"))), Present(attr("c"))),
    ),
    "redundant parentheses": ('((userName eq "x"))', eq("userName", "x")),
    "not": ('not (userName eq "x")', Not(eq("userName", "x"))),
    "not without space": ('not(userName eq "x")', Not(eq("userName", "x"))),
    "double not": ("not (not (a pr))", Not(Not(Present(attr("a"))))),
    "extra spaces": ('  userName   eq   "x"  ', eq("userName", "x")),
    # attribute paths
    "sub-attribute": ('name.familyName eq "O\'Malley"', eq("name", "O'Malley", sub="familyName")),
    "$ref sub-attribute": ('manager.$ref eq "u"', eq("manager", "u", sub="$ref")),
    "hyphen and underscore": ("x-y_z pr", Present(attr("x-y_z"))),
    "core URN": (
        f'{USER_URN}:userName eq "x"',
        eq("userName", "x", schema=USER_URN),
    ),
    "enterprise URN": (
        f'{ENTERPRISE_USER_URN}:employeeNumber eq "1"',
        eq("employeeNumber", "1", schema=ENTERPRISE_USER_URN),
    ),
    "enterprise URN sub-attribute": (
        f'{ENTERPRISE_USER_URN}:manager.value eq "x"',
        eq("manager", "x", sub="value", schema=ENTERPRISE_USER_URN),
    ),
    "URN kept as written": (
        'URN:IETF:params:scim:schemas:core:2.0:User:userName eq "x"',
        eq("userName", "x", schema="URN:IETF:params:scim:schemas:core:2.0:User"),
    ),
    # value paths (RFC form)
    "value path": ('emails[type eq "work"]', ValuePath(attr("emails"), eq("type", "work"))),
    "value path with logic": (
        'emails[type eq "work" and value co "@example.com"]',
        ValuePath(attr("emails"), And(eq("type", "work"), Comparison(attr("value"), "co", "@example.com"))),
    ),
    "value path with not": (
        'emails[not (type eq "work")]',
        ValuePath(attr("emails"), Not(eq("type", "work"))),
    ),
    "value path with pr": ("x509Certificates[value pr]", ValuePath(attr("x509Certificates"), Present(attr("value")))),
    "value path in logic": (
        'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
        And(
            eq("userType", "Employee"),
            Or(Comparison(attr("emails"), "co", "example.com"), Comparison(attr("emails", "value"), "co", "example.org")),
        ),
    ),
    "RFC example with value path": (
        'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
        And(
            eq("userType", "Employee"),
            ValuePath(attr("emails"), And(eq("type", "work"), Comparison(attr("value"), "co", "@example.com"))),
        ),
    ),
    "URN value path": (
        f'{ENTERPRISE_USER_URN}:manager[value eq "x"]',
        ValuePath(attr("manager", schema=ENTERPRISE_USER_URN), eq("value", "x")),
    ),
    "entra form with pr": (
        'emails[type eq "work"].value pr',
        ValuePath(attr("emails"), And(eq("type", "work"), Present(attr("value")))),
    ),
    "no space before keyword after string": ('title eq "x"and b pr', And(eq("title", "x"), Present(attr("b")))),
}


@pytest.mark.parametrize(("text", "expected"), VALID.values(), ids=VALID.keys())
def test_valid_filters_parse_to_the_exact_tree(text, expected):
    assert parse_filter(text) == expected


@pytest.mark.parametrize(("text", "expected"), VALID.values(), ids=VALID.keys())
def test_format_filter_round_trips(text, expected):
    assert parse_filter(format_filter(expected)) == expected


MALFORMED = {
    "empty": "",
    "blank": "   ",
    "attribute only": "userName",
    "missing value": "userName eq",
    "missing operator": 'userName "x"',
    "unknown operator": 'userName is "x"',
    "symbolic operator": 'userName == "x"',
    "single quotes": "userName eq 'x'",
    "unterminated string": 'userName eq "x',
    "bad escape": r'userName eq "\x41"',
    "lone surrogate escape": r'userName eq "\ud800"',
    "escaped NUL": r'userName eq "a\u0000"',
    "raw control char in string": 'userName eq "a\x01b"',
    "tab": 'userName\teq "x"',
    "newline": 'userName eq "x"\n',
    "NUL": 'userName eq "x\x00"',
    "DEL": 'userName eq "x"\x7f',
    "bare keyword value": "userName eq and",
    "bare keyword value pr": "userName eq pr",
    "bare word with ne": "externalId ne jyoung",
    "bare word with co": "externalId co jyoung",
    "bare word with colon": "externalId eq urn:x",
    "bare word with $": "externalId eq $ref",
    "bare word starting with digit": "externalId eq 123abc",
    "at sign": "userName eq alice@contoso.com",
    "trailing and": 'userName eq "x" and',
    "leading and": 'and userName eq "x"',
    "double and": 'a pr and and b pr',
    "trailing or": "a pr or",
    "dangling paren": '(userName eq "x"',
    "extra close paren": 'userName eq "x")',
    "empty parens": "()",
    "not without parens": 'not userName eq "x"',
    "not alone": "not",
    "unclosed bracket": 'emails[type eq "work"',
    "unopened bracket": 'emails type eq "work"]',
    "empty brackets": "emails[]",
    "nested value path": 'emails[type[value eq "x"] pr]',
    "URN inside brackets": f'emails[{USER_URN}:type eq "x"]',
    "dotted inside brackets": 'emails[type.x eq "x"]',
    "value path on sub-attribute": 'name.givenName[value eq "x"]',
    "space before dot": 'emails[type eq "work"] .value eq "x"',
    "dot without name": 'emails[type eq "work"]. eq "x"',
    "dot then keyword": 'emails[type eq "work"].and eq "x"',
    "two sub-attributes": 'name.given.name eq "x"',
    "trailing dot": 'name. eq "x"',
    "leading dot": '.name eq "x"',
    "attribute starting with digit": '1name eq "x"',
    "attribute starting with hyphen": '-name eq "x"',
    "bad URN": 'foo:userName eq "x"',
    "URN without attribute": f'{USER_URN}: eq "x"',
    "co with number": "x co 1",
    "sw with boolean": "x sw true",
    "ew with null": "x ew null",
    "gt with boolean": "x gt true",
    "lt with null": "x lt null",
    "number with letters": "x eq 1a",
    "leading zero": "x eq 01",
    "bare minus": "x eq -",
    "trailing decimal point": "x eq 1.",
    "huge exponent": "x eq 1e999",
    "hex number": "x eq 0x10",
    "keyword as attribute": 'eq eq "x"',
    "and as attribute": 'and pr',
    "two expressions": 'a pr b pr',
    "comma": 'a pr, b pr',
    "ampersand": 'a pr && b pr',
    "unicode attribute": 'nåme eq "x"',
    "unicode whitespace": 'userName\u00a0eq "x"',
    "too long": 'userName eq "' + "x" * MAX_LENGTH + '"',
    "deep parentheses": "(" * (MAX_DEPTH + 1) + "a pr" + ")" * (MAX_DEPTH + 1),
    "very deep parentheses": "(" * 2000,
    "deep not": "not (" * (MAX_DEPTH + 1) + "a pr" + ")" * (MAX_DEPTH + 1),
    "long and chain": " and ".join(["a pr"] * (MAX_DEPTH + 2)),
    "long or chain": " or ".join(["a pr"] * (MAX_DEPTH + 2)),
}


@pytest.mark.parametrize("text", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_filters_raise_invalid_filter(text):
    with pytest.raises(InvalidFilterError) as caught:
        parse_filter(text)
    assert caught.value.detail


@pytest.mark.parametrize("value", [None, 1, b'userName eq "x"', ["userName eq"]])
def test_non_string_filter_is_invalid(value):
    with pytest.raises(InvalidFilterError):
        parse_filter(value)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('userName eq "x" )', "')' at position 16"),
        ('userName ~ "x"', "'~' at position 9"),
        ("userName eq", "end of input"),
        ('userName eq "x', "position 12"),
    ],
)
def test_error_detail_names_the_token_and_position(text, fragment):
    with pytest.raises(InvalidFilterError) as caught:
        parse_filter(text)
    assert fragment in caught.value.detail


def test_chain_at_the_depth_limit_is_accepted():
    expr = parse_filter(" and ".join(["a pr"] * MAX_DEPTH))
    assert isinstance(expr, And)


def test_nesting_at_the_depth_limit_is_accepted():
    text = "(" * (MAX_DEPTH - 1) + "a pr" + ")" * (MAX_DEPTH - 1)
    assert parse_filter(text) == Present(attr("a"))


# --- parse_path --------------------------------------------------------------------------

VALID_PATHS = {
    "simple": ("active", PatchPath(attr("active"))),
    "sub-attribute": ("name.givenName", PatchPath(attr("name"), None, "givenName")),
    "enterprise attribute": (
        f"{ENTERPRISE_USER_URN}:employeeNumber",
        PatchPath(attr("employeeNumber", schema=ENTERPRISE_USER_URN)),
    ),
    "enterprise manager": (f"{ENTERPRISE_USER_URN}:manager", PatchPath(attr("manager", schema=ENTERPRISE_USER_URN))),
    "enterprise manager.value": (
        f"{ENTERPRISE_USER_URN}:manager.value",
        PatchPath(attr("manager", schema=ENTERPRISE_USER_URN), None, "value"),
    ),
    "whole extension": (ENTERPRISE_USER_URN, PatchPath(AttrPath(ENTERPRISE_USER_URN, "", None))),
    "whole extension any case": (
        ENTERPRISE_USER_URN.upper(),
        PatchPath(AttrPath(ENTERPRISE_USER_URN.upper(), "", None)),
    ),
    "core URN attribute": (f"{USER_URN}:userName", PatchPath(attr("userName", schema=USER_URN))),
    "work email value": (
        'emails[type eq "work"].value',
        PatchPath(attr("emails"), eq("type", "work"), "value"),
    ),
    "work address locality": (
        'addresses[type eq "work"].locality',
        PatchPath(attr("addresses"), eq("type", "work"), "locality"),
    ),
    "mobile phone": ('phoneNumbers[type eq "mobile"].value', PatchPath(attr("phoneNumbers"), eq("type", "mobile"), "value")),
    "filter without sub-attribute": ('emails[type eq "work"]', PatchPath(attr("emails"), eq("type", "work"))),
    "manager remove filter": ('manager[value eq "m1"]', PatchPath(attr("manager"), eq("value", "m1"))),
    "members remove filter": (
        'members[value eq "2819c223-7f76-453a-919d-413861904646"]',
        PatchPath(attr("members"), eq("value", "2819c223-7f76-453a-919d-413861904646")),
    ),
    "conjunction filter": (
        'emails[type eq "work" and primary eq true].value',
        PatchPath(attr("emails"), And(eq("type", "work"), eq("primary", True)), "value"),
    ),
    "surrounding spaces": ("  displayName ", PatchPath(attr("displayName"))),
    "unknown attribute still parses": ("favouriteColour", PatchPath(attr("favouriteColour"))),
    "unknown extension": (
        "urn:ietf:params:scim:schemas:extension:Custom:2.0:User:costCode",
        PatchPath(attr("costCode", schema="urn:ietf:params:scim:schemas:extension:Custom:2.0:User")),
    ),
}


@pytest.mark.parametrize(("text", "expected"), VALID_PATHS.values(), ids=VALID_PATHS.keys())
def test_valid_paths(text, expected):
    assert parse_path(text) == expected


@pytest.mark.parametrize(("text", "expected"), VALID_PATHS.values(), ids=VALID_PATHS.keys())
def test_path_str_round_trips(text, expected):
    assert parse_path(str(expected)) == expected


MALFORMED_PATHS = {
    "empty": "",
    "blank": "  ",
    "filter syntax": 'userName eq "x"',
    "unclosed bracket": 'emails[type eq "work"',
    "empty brackets": "emails[]",
    "bad filter": "emails[type eq]",
    "trailing text": 'emails[type eq "work"].value x',
    "two sub-attributes": "name.givenName.x",
    "filter after sub-attribute": 'name.givenName[type eq "x"]',
    "space before dot": 'emails[type eq "work"] .value',
    "dot without name": 'emails[type eq "work"].',
    "two filters": 'emails[type eq "work"][value pr]',
    "leading bracket": '[type eq "work"]',
    "keyword": "and",
    "string": '"active"',
    "control character": "active\n",
    "bad URN": "foo:bar:active",
    "too long": "a" * (MAX_LENGTH + 1),
    "deep filter": "emails[" + "(" * 200 + "value pr" + ")" * 200 + "]",
}


@pytest.mark.parametrize("text", MALFORMED_PATHS.values(), ids=MALFORMED_PATHS.keys())
def test_malformed_paths_raise_invalid_path(text):
    with pytest.raises(InvalidPathError):
        parse_path(text)


def test_non_string_path_is_invalid():
    with pytest.raises(InvalidPathError):
        parse_path(42)  # type: ignore[arg-type]


# --- matches -----------------------------------------------------------------------------

ALICE = {
    "schemas": [USER_URN, ENTERPRISE_USER_URN],
    "id": "48af03ac28ad4fb88478",
    "externalId": "Alice",
    "userName": "Alice@Contoso.com",
    "active": False,
    "displayName": "Alice Smith",
    "name": {"givenName": "Alice", "familyName": "Smith"},
    "emails": [
        {"value": "alice@contoso.com", "type": "work", "primary": True},
        {"value": "alice@home.example", "type": "home"},
    ],
    "phoneNumbers": [{"value": "+1 425 555 0100", "type": "work"}],
    "meta": {"resourceType": "User", "lastModified": "2024-05-01T10:00:00Z"},
    ENTERPRISE_USER_URN: {"employeeNumber": "1001", "department": "Finance", "manager": {"value": "m-1"}},
    "x-count": 5,
}

MATCHES = {
    "userName is case-insensitive": ('userName eq "alice@contoso.com"', True),
    "userName upper": ('USERNAME eq "ALICE@CONTOSO.COM"', True),
    "userName mismatch": ('userName eq "bob@contoso.com"', False),
    "guid miss (test connection)": ('userName eq "7d420df3-9995-4831-a406-ecf8166f5f6a"', False),
    "externalId is case-exact": ('externalId eq "alice"', False),
    "externalId exact": ('externalId eq "Alice"', True),
    "legacy bare externalId": ("externalId eq Alice", True),
    "id is case-exact": ('id eq "48AF03AC28AD4FB88478"', False),
    "id exact": ('id eq "48af03ac28ad4fb88478"', True),
    "inactive user is found": ('userName eq "alice@contoso.com" and active eq false', True),
    "boolean does not equal string": ('active eq "false"', False),
    "manager check": ('id eq "48af03ac28ad4fb88478" and manager eq "m-1"', True),
    "manager check other manager": ('id eq "48af03ac28ad4fb88478" and manager eq "m-2"', False),
    "manager value via URN": (f'{ENTERPRISE_USER_URN}:manager.value eq "m-1"', True),
    "employeeNumber via URN": (f'{ENTERPRISE_USER_URN}:employeeNumber eq "1001"', True),
    "department without URN": ('department eq "finance"', True),
    "core URN": (f'{USER_URN}:userName eq "alice@contoso.com"', True),
    "work email (entra form)": ('emails[type eq "work"].value eq "alice@contoso.com"', True),
    "work email wrong type": ('emails[type eq "home"].value eq "alice@contoso.com"', False),
    "work email type case-insensitive": ('emails[type eq "WORK"].value eq "Alice@Contoso.com"', True),
    "any email element": ('emails.value eq "alice@home.example"', True),
    "emails without sub-attribute compares value": ('emails co "home.example"', True),
    "primary": ("emails[primary eq true]", True),
    "value path not": ('emails[not (type eq "work")]', True),
    "value path no match": ('emails[type eq "other"]', False),
    "sub-attribute": ('name.familyName eq "smith"', True),
    "co": ('displayName co "ice Sm"', True),
    "sw": ('displayName sw "alice"', True),
    "ew": ('displayName ew "SMITH"', True),
    "ne present": ('displayName ne "Bob"', True),
    "ne equal": ('displayName ne "alice smith"', False),
    "ne absent": ('title ne "x"', True),
    "gt string": ('meta.lastModified gt "2024-01-01T00:00:00Z"', True),
    "lt string": ('meta.lastModified lt "2024-01-01T00:00:00Z"', False),
    "ge number": ("x-count ge 5", True),
    "gt number": ("x-count gt 5", False),
    "le number": ("x-count le 5.0", True),
    "lt number": ("x-count lt 6", True),
    "number vs string": ('x-count eq "5"', False),
    "pr present": ("displayName pr", True),
    "pr absent": ("title pr", False),
    "pr complex": ("name pr", True),
    "pr multi-valued": ("emails pr", True),
    "pr extension attribute": ("manager pr", True),
    "eq null absent": ("title eq null", True),
    "eq null present": ("displayName eq null", False),
    "ne null present": ("displayName ne null", True),
    "or": ('userName eq "x" or displayName eq "Alice Smith"', True),
    "and false": ('userName eq "x" and displayName eq "Alice Smith"', False),
    "not": ('not (userName eq "x")', True),
    "unknown attribute": ('favouriteColour eq "red"', False),
    "unknown extension": ('urn:example:ext:1.0:User:x eq "red"', False),
}


@pytest.mark.parametrize(("text", "expected"), MATCHES.values(), ids=MATCHES.keys())
def test_matches(text, expected):
    assert matches(parse_filter(text), ALICE) is expected


def test_matches_case_insensitive_keys_in_data():
    data = {"USERNAME": "bob", "Emails": [{"Type": "work", "VALUE": "b@x"}]}
    assert matches(parse_filter('userName eq "BOB"'), data)
    assert matches(parse_filter('emails[type eq "work"].value eq "b@x"'), data)


def test_matches_a_single_element_within_its_attribute():
    emails = USER.attribute("emails")
    element = {"type": "Work", "value": "a@b.c"}
    assert matches(parse_filter('type eq "work"'), element, within=emails)
    assert not matches(parse_filter('type eq "home"'), element, within=emails)


def test_matches_tolerates_odd_shapes():
    odd = {"emails": "not a list", "name": ["x"], ENTERPRISE_USER_URN: "not an object"}
    assert not matches(parse_filter('emails[type eq "work"]'), odd)
    assert not matches(parse_filter('name.givenName eq "x"'), odd)
    assert not matches(parse_filter('manager eq "x"'), odd)
