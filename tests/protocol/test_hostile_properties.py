"""Property tests with hostile text: any string, surrogates, NUL, huge and deeply nested input.

Whatever arrives, the filter parser and the PATCH normaliser answer with a ScimError or a
result that holds only text a database can store.
"""
from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scim_provisioning.protocol.constants import PATCH_OP_URN
from scim_provisioning.protocol.errors import InvalidFilterError, InvalidPathError, ScimError
from scim_provisioning.protocol.filters import MAX_LENGTH, format_filter, parse_filter, parse_path
from scim_provisioning.protocol.patch import apply_patch, normalise_patch
from scim_provisioning.protocol.resource import normalise_user

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Every code point, lone surrogates and NUL included.
any_character = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
any_text = st.text(any_character, max_size=60)
hostile_text = st.one_of(
    any_text,
    st.sampled_from(["\x00", "\ud800", "\udfff", "\u202e", "\ufeff", "\x7f", "'; DROP TABLE x; --", "{{7*7}}"]),
    st.builds(lambda n, c: c * n, st.integers(MAX_LENGTH - 2, MAX_LENGTH + 2), st.sampled_from(["a", "\u00e9", " "])),
)
filter_words = st.sampled_from(['userName', 'eq', '"x"', 'and', 'or', 'not', '(', ')', '[', ']', 'emails', 'pr', '.', ' '])
hostile_filters = st.one_of(
    hostile_text,
    st.lists(st.one_of(filter_words, any_text), max_size=10).map(" ".join),
    st.builds(lambda inner: f'userName eq "{inner}"', any_text),
    st.builds(lambda inner: f"emails[type eq {json.dumps(inner)}].value pr", any_text),
)


def storable(value: object) -> bool:
    """Whether every string in a parsed structure could be stored (no NUL, valid UTF-8)."""
    if isinstance(value, str):
        return "\x00" not in value and _encodes(value)
    if isinstance(value, dict):
        return all(storable(k) and storable(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(storable(item) for item in value)
    return True


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@PROPERTY
@given(hostile_filters)
def test_any_filter_text_is_parsed_or_an_invalid_filter(text):
    try:
        expr = parse_filter(text)
    except InvalidFilterError as error:
        assert isinstance(error.detail, str) and error.detail
    else:
        assert len(text) <= MAX_LENGTH
        assert all(ord(char) >= 0x20 and char != "\x7f" for char in text)
        assert parse_filter(format_filter(expr)) == expr
        assert storable(format_filter(expr))


@PROPERTY
@given(hostile_filters)
def test_any_path_text_is_parsed_or_an_invalid_path(text):
    try:
        path = parse_path(text)
    except InvalidPathError as error:
        assert error.detail
    else:
        assert storable(str(path))


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), hostile_text)
hostile_json = st.recursive(
    json_scalars,
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(hostile_text, children, max_size=3)),
    max_leaves=12,
)


def nest(value: object, depth: int) -> object:
    for level in range(depth):
        value = [value] if level % 2 else {"value": value}
    return value


deep_json = st.builds(nest, hostile_json, st.integers(0, 400))
paths = st.one_of(
    hostile_text,
    st.sampled_from(["displayName", "active", 'emails[type eq "work"].value', "name.givenName", "manager", "title"]),
)
operations = st.fixed_dictionaries(
    {"op": st.one_of(st.sampled_from(["add", "Replace", "remove"]), hostile_text)},
    optional={"path": st.one_of(paths, json_scalars), "value": st.one_of(hostile_json, deep_json)},
)
patch_bodies = st.one_of(
    hostile_json,
    deep_json,
    st.fixed_dictionaries(
        {"schemas": st.just([PATCH_OP_URN]), "Operations": st.one_of(st.lists(operations, min_size=1, max_size=4), deep_json)}
    ),
)
STORED = {"id": "1", "userName": "alice", "active": True, "emails": [{"value": "a@b.c", "type": "work"}]}


@PROPERTY
@given(patch_bodies)
def test_any_patch_body_is_a_scim_error_or_a_storable_resource(body):
    try:
        result = apply_patch(STORED, normalise_patch(body))
    except ScimError as error:
        assert error.detail
        return
    resource = {key: value for key, value in result.resource.items() if key != "id"}
    try:
        normalised = normalise_user(resource)
    except ScimError:
        return
    assert storable(normalised.resource)


@PROPERTY
@given(st.one_of(hostile_json, deep_json, st.dictionaries(hostile_text, st.one_of(hostile_json, deep_json), max_size=5)))
def test_any_user_body_is_a_scim_error_or_storable(body):
    try:
        normalised = normalise_user({"userName": "alice", **body} if isinstance(body, dict) else body)
    except ScimError as error:
        assert error.detail
    else:
        assert storable(normalised.resource)
