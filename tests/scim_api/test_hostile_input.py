"""Hostile input: every answer is a SCIM error or an exact round trip, never a 500, nothing half-stored."""
from __future__ import annotations

import io
import json
import uuid

import pytest
from django.test import Client

from organisations.models import Role, User
from scim_provisioning.api.parsers import MAX_DEPTH, ScimJSONParser
from scim_provisioning.models import ScimRequest, ScimUser
from scim_provisioning.protocol.errors import PayloadTooLargeError
from tests.factories import UserFactory

from .conftest import BASE, ENTERPRISE, ERROR, USERS, entra_user, error, patch_op

SCIM_JSON = "application/scim+json; charset=utf-8"
EMOJI = "\U0001F600"  # four bytes in UTF-8


def assert_scim_error(response, status: int, scim_type: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/scim+json"
    body = response.json()
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def post_raw(client, body: bytes | str, content_type: str = SCIM_JSON, **extra):
    return client.generic("POST", USERS, data=body, content_type=content_type, **extra)


def nested(depth: int) -> str:
    """A user body whose unknown attribute nests ``depth`` levels of arrays and objects in all."""
    inner = "[" * (depth - 1) + "]" * (depth - 1)
    return '{"userName": "deep@contoso.com", "x": ' + inner + "}"


# --- Bodies ------------------------------------------------------------------------------------

BAD_BODIES = [
    pytest.param("[" * 100_000 + "]" * 100_000, "invalidSyntax", id="100000-deep-arrays"),
    pytest.param('{"a":' * 50_000 + "1" + "}" * 50_000, "invalidSyntax", id="50000-deep-objects"),
    pytest.param(nested(MAX_DEPTH + 1), "invalidSyntax", id="one-level-too-deep"),
    pytest.param(b'{"userName": "\xff\xfe@contoso.com"}', "invalidSyntax", id="invalid-utf8"),
    pytest.param(b'{"userName": "\xc0\xafa@contoso.com"}', "invalidSyntax", id="overlong-utf8"),
    pytest.param(b'{"userName": "\xed\xa0\x80a@contoso.com"}', "invalidSyntax", id="utf8-encoded-surrogate"),
    pytest.param(b'{"userName": "a\x00b@contoso.com"}', "invalidSyntax", id="raw-nul-byte"),
    pytest.param(b'{"userName": "a@contoso.com"}\x00', "invalidSyntax", id="nul-after-body"),
    pytest.param('{"userName": "a\\u0000b@contoso.com"}', "invalidValue", id="escaped-nul-in-userName"),
    pytest.param('{"userName": "a@contoso.com", "displayName": "A\\u0000"}', "invalidValue", id="nul-in-displayName"),
    pytest.param('{"userName": "a@contoso.com", "name": {"givenName": "\\u0000"}}', "invalidValue", id="nul-in-name"),
    pytest.param(
        '{"userName": "a@contoso.com", "emails": [{"type": "work", "value": "a\\u0000@x"}]}',
        "invalidValue",
        id="nul-in-email",
    ),
    pytest.param(
        '{"userName": "a@contoso.com", "%s": {"department": "F\\u0000"}}' % ENTERPRISE,
        "invalidValue",
        id="nul-in-enterprise-attribute",
    ),
    pytest.param(
        '{"userName": "a@contoso.com", "%s": {"manager": "\\u0000"}}' % ENTERPRISE, "invalidValue", id="nul-in-manager"
    ),
    pytest.param('{"userName": "a\\ud800@contoso.com"}', "invalidValue", id="lone-surrogate-in-userName"),
    pytest.param('{"userName": "a@contoso.com", "title": "\\udfff"}', "invalidValue", id="lone-surrogate-in-title"),
    pytest.param('{"userName": "a@contoso.com", "displayName": 1e400}', "invalidSyntax", id="infinite-number"),
    pytest.param('{"userName": "a@contoso.com", "x": -1e999}', "invalidSyntax", id="negative-infinite-number"),
    pytest.param('{"userName": "a@contoso.com", "x": ' + "9" * 5000 + "}", "invalidSyntax", id="5000-digit-integer"),
    pytest.param('{"userName": "a@contoso.com", "x": NaN}', "invalidSyntax", id="NaN"),
    pytest.param('{"userName": "a@contoso.com", "x": Infinity}', "invalidSyntax", id="Infinity"),
    pytest.param('{"userName": "a@contoso.com",}', "invalidSyntax", id="trailing-comma"),
    pytest.param("\ufeff" + '{"userName": "a@contoso.com"}', "invalidSyntax", id="byte-order-mark"),
    pytest.param('{"userName": "a@contoso.com", "externalId": "%s"}' % ("x" * 1025), "invalidValue", id="externalId-1025-chars"),
    pytest.param(
        json.dumps({"userName": "a@contoso.com", "externalId": EMOJI * 1024}),
        "invalidValue",
        id="externalId-1024-emoji",
    ),
    pytest.param(
        json.dumps({"userName": "a@contoso.com", "emails": [{"type": "work", "value": EMOJI * 600}]}),
        "invalidValue",
        id="work-email-2400-bytes",
    ),
    pytest.param(
        json.dumps({"userName": "a@contoso.com", ENTERPRISE: {"employeeNumber": "\u4e00" * 1000}}),
        "invalidValue",
        id="employeeNumber-3000-bytes",
    ),
    pytest.param(json.dumps({"userName": "u" * 257}), "invalidValue", id="userName-257-chars"),
]


@pytest.mark.parametrize("body, scim_type", BAD_BODIES)
def test_hostile_post_bodies_are_400_and_store_nothing(organisation, scim_client, body, scim_type):
    users_before = User.objects.count()

    response = post_raw(scim_client, body)

    assert_scim_error(response, 400, scim_type)
    assert ScimUser.objects.count() == 0
    assert User.objects.count() == users_before
    # The failure is still in the organisation's activity, with text the database could hold.
    [record] = ScimRequest.objects.all()
    assert (record.status, record.scim_type) == (400, scim_type)


def test_hostile_error_details(scim_client):
    assert post_raw(scim_client, "[" * 100_000 + "]" * 100_000).json() == error(
        400, f"The request body is nested more than {MAX_DEPTH} levels deep.", "invalidSyntax"
    )
    assert post_raw(scim_client, json.dumps({"userName": "a@contoso.com", "externalId": EMOJI * 1024})).json() == error(
        400, "externalId is longer than 2048 bytes in UTF-8.", "invalidValue"
    )
    assert post_raw(scim_client, '{"userName": "a@contoso.com", "displayName": 1e400}').json() == error(
        400, "The request body is not valid JSON: the number 1e400 is out of range.", "invalidSyntax"
    )


def test_nesting_up_to_the_limit_is_accepted(scim_client):
    response = post_raw(scim_client, nested(MAX_DEPTH))

    assert response.status_code == 201, response.content
    assert response.json()["userName"] == "deep@contoso.com"


def test_long_values_without_an_index_are_kept_whole(scim_client):
    given = "G" * 10_000
    display = "\u4e00" * 100_000
    response = scim_client.post(USERS, entra_user("long@contoso.com", displayName=display, name={"givenName": given}))
    assert response.status_code == 201, response.content
    scim_id = response.json()["id"]

    body = scim_client.get(f"{USERS}/{scim_id}").json()
    assert (body["displayName"], body["name"]) == (display, {"givenName": given})
    # Prompt's own first name is a copy, cut to its column.
    assert User.objects.get(username="long@contoso.com").first_name == "G" * 150


# --- Size limit ------------------------------------------------------------------------------


def padded_user(size: int) -> bytes:
    body = json.dumps(entra_user("big@contoso.com")).encode()
    return body[:-1] + b" " * (size - len(body)) + b"}"


def test_body_at_the_limit_is_accepted_and_one_byte_more_is_413(scim_client, settings):
    settings.SCIM_MAX_BODY_BYTES = 4096

    too_big = post_raw(scim_client, padded_user(4097))
    assert too_big.json() == error(413, "The request body is larger than 4096 bytes.")
    assert too_big.status_code == 413
    assert not ScimUser.objects.exists()

    assert post_raw(scim_client, padded_user(4096)).status_code == 201


def test_default_limit_is_one_mebibyte(scim_client, settings):
    assert settings.SCIM_MAX_BODY_BYTES == 1024 * 1024
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE >= settings.SCIM_MAX_BODY_BYTES

    response = post_raw(scim_client, padded_user(1024 * 1024 + 1))

    assert_scim_error(response, 413)
    assert post_raw(scim_client, padded_user(1024 * 1024)).status_code == 201


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_content_length_over_the_limit_is_refused_before_reading(scim_client, create_user, settings, method):
    created = create_user("alice@contoso.com")
    settings.SCIM_MAX_BODY_BYTES = 100
    path = USERS if method == "POST" else f"{USERS}/{created['id']}"
    # The declared length alone decides: the body is never read.
    response = scim_client.generic(method, path, data=b"{}", content_type=SCIM_JSON, CONTENT_LENGTH="1000000000")

    assert response.json() == error(413, "The request body is larger than 100 bytes.")
    assert ScimRequest.objects.filter(status=413).count() == 1
    settings.SCIM_MAX_BODY_BYTES = 1024 * 1024
    assert scim_client.get(f"{USERS}/{created['id']}").json() == created


def test_parser_counts_the_bytes_it_reads(settings):
    # Content-Length can be missing or understated under ASGI; what is read is checked too.
    settings.SCIM_MAX_BODY_BYTES = 10
    parser = ScimJSONParser()

    with pytest.raises(PayloadTooLargeError) as raised:
        parser.parse(io.BytesIO(b'{"userName": "a"}'), parser_context={})

    assert raised.value.detail == "The request body is larger than 10 bytes."
    assert parser.parse(io.BytesIO(b'{"a": 1}  '), parser_context={}) == {"a": 1}


# --- PATCH and PUT -----------------------------------------------------------------------------

BAD_PATCHES = [
    pytest.param(patch_op({"op": "Replace", "path": "displayName", "value": "x\u0000"}), "invalidValue", id="nul-value"),
    pytest.param(patch_op({"op": "Replace", "path": "title\u0000", "value": "x"}), "invalidPath", id="nul-in-path"),
    pytest.param(
        patch_op({"op": "Replace", "path": 'emails[type eq "work\u0000"].value', "value": "x"}),
        "invalidPath",
        id="nul-in-path-filter",
    ),
    pytest.param(patch_op({"op": "Replace", "path": "title\n", "value": "x"}), "invalidPath", id="newline-in-path"),
    pytest.param(patch_op({"op": "Replace", "value": {"displayName": "\ud800"}}), "invalidValue", id="surrogate-value"),
    pytest.param(
        patch_op({"op": "Replace", "path": "externalId", "value": EMOJI * 1024}), "invalidValue", id="long-externalId"
    ),
    pytest.param(
        patch_op({"op": "Replace", "path": "userName", "value": "u" * 257}), "invalidValue", id="long-userName"
    ),
    pytest.param(
        patch_op({"op": "Replace", "path": "x" * 10_000, "value": "x"}), "invalidPath", id="10000-character-path"
    ),
]


@pytest.mark.parametrize("body, scim_type", BAD_PATCHES)
def test_hostile_patches_are_400_and_change_nothing(scim_client, create_user, body, scim_type):
    created = create_user("alice@contoso.com")
    # Bundled with a deactivation: the whole PATCH must be refused, not half-applied.
    body = {**body, "Operations": [{"op": "Replace", "path": "active", "value": "False"}, *body["Operations"]]}

    response = scim_client.patch(f"{USERS}/{created['id']}", body)

    assert_scim_error(response, 400, scim_type)
    assert scim_client.get(f"{USERS}/{created['id']}").json() == created
    assert User.objects.get(username="alice@contoso.com").is_active is True


def test_hostile_put_is_400_and_changes_nothing(scim_client, create_user):
    created = create_user("alice@contoso.com")

    for body in (
        '{"userName": "alice@contoso.com", "displayName": "\\u0000"}',
        "[" * 10_000 + "]" * 10_000,
        b'{"userName": "alice@contoso.com", "displayName": "\xff"}',
    ):
        response = scim_client.generic("PUT", f"{USERS}/{created['id']}", data=body, content_type=SCIM_JSON)
        assert_scim_error(response, 400, response.json().get("scimType"))
        assert response.json()["scimType"] in ("invalidValue", "invalidSyntax")
    assert scim_client.get(f"{USERS}/{created['id']}").json() == created


# --- Filters, paths and query parameters ---------------------------------------------------------

CONTROL_CHARACTERS = ["\x01", "\t", "\n", "\r", "\x0b", "\x1b", "\x7f", "\x00"]


@pytest.mark.parametrize("char", CONTROL_CHARACTERS, ids=[f"U+{ord(c):04X}" for c in CONTROL_CHARACTERS])
@pytest.mark.parametrize("where", ["in-value", "between-tokens", "in-attribute"])
def test_control_characters_in_filters_are_400_invalid_filter(scim_client, create_user, char, where):
    create_user("alice@contoso.com")
    text = {
        "in-value": f'userName eq "alice{char}@contoso.com"',
        "between-tokens": f'userName{char}eq "alice@contoso.com"',
        "in-attribute": f'user{char}Name eq "alice@contoso.com"',
    }[where]

    response = scim_client.get(USERS, {"filter": text})

    body = assert_scim_error(response, 400, "invalidFilter")
    assert "control character" in body["detail"]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('userName eq "a\\u0000"', id="escaped-nul"),
        pytest.param('userName eq "\\ud800"', id="escaped-surrogate"),
        pytest.param('userName eq "' + "x" * 5000 + '"', id="5000-characters"),
        pytest.param("(" * 500 + 'userName eq "a"' + ")" * 500, id="500-parentheses"),
        pytest.param(" and ".join(['userName eq "a"'] * 200), id="200-ands"),
        pytest.param("\ufffd\ufffe", id="replacement-characters"),
    ],
)
def test_hostile_filters_are_400_invalid_filter(scim_client, text):
    assert_scim_error(scim_client.get(USERS, {"filter": text}), 400, "invalidFilter")


@pytest.mark.parametrize(
    "query, status",
    [
        ("startIndex=%00", 400),
        ("count=%00", 400),
        ("startIndex=999999999999999999&count=100", 200),
        ("startIndex=-999999999999999999&count=-999999999999999999", 200),
        ("startIndex=" + "9" * 1000, 400),
        ("attributes=" + "%00," * 2000 + "userName", 200),
        ("excludedAttributes=%ff%fe,%ed%a0%80", 200),
        ("filter=%ff%fe", 400),
    ],
)
def test_hostile_query_parameters(scim_client, create_user, query, status):
    create_user("alice@contoso.com")

    response = scim_client.get(f"{USERS}?{query}")

    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/scim+json"
    if status == 400:
        assert_scim_error(response, 400, response.json().get("scimType"))


@pytest.mark.parametrize("segment", ["%00", "a%00b", "%ff", "%ed%a0%80", "..%2F..%2Fetc%2Fpasswd", "x" * 5000, "%0d%0aSet-Cookie:x=1"])
def test_hostile_ids_are_404(scim_client, segment):
    bodies = {
        "GET": None,
        "DELETE": None,
        "PUT": entra_user("a@contoso.com"),
        "PATCH": patch_op({"op": "Replace", "path": "title", "value": "x"}),
    }
    for method, body in bodies.items():
        data = json.dumps(body) if body else ""
        response = scim_client.generic(method, f"{USERS}/{segment}", data=data, content_type=SCIM_JSON)
        assert_scim_error(response, 404)
        assert "Set-Cookie" not in response
    assert ScimRequest.objects.filter(status=404).count() == 4


@pytest.mark.parametrize(
    "header",
    [
        "Bearer " + "x" * 10_000,
        "Bearer pscim_" + "\u00e9" * 43,
        "Bearer pscim_" + "a" * 42 + "\u0000",
        "Bearer \t",
        "Bearer " + "' OR '1'='1",
        "Bearer ${jndi:ldap://example.invalid/a}",
        "Basic " + "A" * 1000,
    ],
)
def test_hostile_authorization_headers_are_401(db, header):
    response = Client(HTTP_AUTHORIZATION=header).get(USERS)

    assert_scim_error(response, 401)
    assert response["WWW-Authenticate"] == 'Bearer realm="Prompt SCIM"'


def test_unknown_methods_are_405(scim_client):
    for method in ("TRACE", "CONNECT", "PROPFIND", "FOO"):
        assert_scim_error(scim_client.generic(method, USERS), 405)


# --- Injection strings: stored and returned verbatim ---------------------------------------------

INJECTIONS = [
    "'; DROP TABLE organisations_user; --",
    "Robert'); DROP TABLE scim_provisioning_scimuser;--",
    '" OR "1"="1',
    "' OR 1=1 --",
    "1; SELECT pg_sleep(10)",
    "%' OR username LIKE '%",
    "_%\\",
    "{{7*7}}",
    "{% debug %}",
    "{{ settings.SECRET_KEY }}",
    "${jndi:ldap://example.invalid/a}",
    "${7*7}",
    "#{7*7}",
    "<%= 7*7 %>",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "$(rm -rf /)",
    "`id`",
    "../../etc/passwd",
    '{"$gt": ""}',
    "%s%s%s%n",
    "\\u0000",
    "\u202eevil\u202c",
    "\U0001F600 \u4e00 \u00e9",
]


# Bidirectional overrides make one sign-in name look like another, so userName refuses them
# (tests/scim_api/test_user_names.py); every other attribute keeps them as sent.
INVISIBLE_IN_NAMES = {"\u202eevil\u202c"}


@pytest.mark.parametrize("value", INJECTIONS)
def test_injection_strings_are_stored_and_returned_verbatim(scim_client, value):
    user_name = "rlo@contoso.com" if value in INVISIBLE_IN_NAMES else f"{value}@contoso.com"
    sent = entra_user(
        "x@contoso.com",
        userName=user_name,
        externalId=value,
        displayName=value,
        title=value,
        name={"givenName": value, "familyName": value},
        emails=[{"type": "work", "value": value, "primary": True}],
        **{ENTERPRISE: {"department": value, "employeeNumber": value}},
    )

    created = scim_client.post(USERS, sent)

    assert created.status_code == 201, created.content
    scim_id = created.json()["id"]
    read = scim_client.get(f"{USERS}/{scim_id}").json()
    assert read == created.json()
    for attribute in ("userName", "externalId", "displayName", "title"):
        assert read[attribute] == sent[attribute]
    assert read["name"] == sent["name"]
    assert read["emails"] == sent["emails"]
    assert read[ENTERPRISE] == sent[ENTERPRISE]
    user = User.objects.get(pk=ScimUser.objects.get(pk=scim_id).user_id)
    assert (user.username, user.first_name, user.last_name, user.email) == (user_name, value, value, value)

    # The same text as a filter value finds exactly this user, and its wildcards match nothing else.
    for attribute, expected in (("userName", user_name), ("externalId", value), ("displayName", value)):
        found = scim_client.get(USERS, {"filter": f"{attribute} eq {json.dumps(expected)}"}).json()
        assert [resource["id"] for resource in found["Resources"]] == [scim_id], attribute
    assert scim_client.get(USERS, {"filter": f"displayName co {json.dumps(value)}"}).json()["totalResults"] == 1

    # PATCH writes it back just as exactly.
    patched = scim_client.patch(
        f"{USERS}/{scim_id}", patch_op({"op": "Replace", "path": "nickName", "value": value})
    ).json()
    assert patched["nickName"] == value


def test_sql_wildcards_in_filters_match_literally(scim_client, create_user):
    create_user("alice@contoso.com")
    create_user("bob@contoso.com")

    for text in ('userName co "%"', 'userName sw "_"', 'userName ew "%"', 'userName co "\\\\"', 'userName eq "%"'):
        body = scim_client.get(USERS, {"filter": text}).json()
        assert body["totalResults"] == 0, text
    assert scim_client.get(USERS, {"filter": 'userName co "@"'}).json()["totalResults"] == 2


def test_injection_strings_are_escaped_on_the_admin_pages(scim_client, organisation):
    for value in ("{{7*7}}", "{% debug %}", "<script>alert(1)</script>"):
        body = entra_user(f"u{uuid.uuid4().hex[:6]}@contoso.com", displayName=value, name={"givenName": value})
        response = scim_client.post(USERS, body)
        assert response.status_code == 201
    admin = UserFactory(role=Role.PROMPT_ADMIN)
    client = Client()
    client.force_login(admin)

    page = client.get("/admin/organisations/user/", {"q": "contoso"})

    assert page.status_code == 200
    html = page.content.decode()
    assert "{{7*7}}" in html and "{% debug %}" in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # Django's debug tag would have dumped the context; nothing was evaluated.
    assert "SECRET_KEY" not in html


def test_hostile_base_paths_are_scim_404s(scim_client):
    for path in (f"{BASE}/%00", f"{BASE}/Users/x/y", f"{BASE}/{{{{7*7}}}}", f"{BASE}/Schemas/%00", f"{BASE}/ResourceTypes/%ff"):
        assert_scim_error(scim_client.get(path), 404)


def test_unknown_attribute_names_with_nul_or_surrogates_are_ignored_and_recorded_safely(scim_client):
    response = post_raw(scim_client, '{"userName": "a@contoso.com", "x\\u0000y": 1, "\\ud800": 2}')

    assert response.status_code == 201, response.content
    assert ScimUser.objects.get().attributes == {}
    [record] = ScimRequest.objects.all()
    assert record.detail == "Ignored: x\ufffdy, ?"
