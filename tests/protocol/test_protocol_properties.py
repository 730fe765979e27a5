"""Property tests: whatever arrives, the protocol layer answers with a ScimError or a result."""
from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scim_provisioning.protocol.constants import ENTERPRISE_USER_URN, PATCH_OP_URN, USER_URN
from scim_provisioning.protocol.errors import InvalidFilterError, InvalidPathError, ScimError
from scim_provisioning.protocol.filters import (
    And,
    AttrPath,
    Comparison,
    Not,
    Or,
    Present,
    ValuePath,
    format_filter,
    matches,
    parse_filter,
    parse_path,
)
from scim_provisioning.protocol.patch import apply_patch, normalise_patch
from scim_provisioning.protocol.resource import normalise_user, project

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Generating nested JSON dominates the run time; fewer examples keep the file fast.
JSON_PROPERTY = settings(PROPERTY, max_examples=200)
ENT = ENTERPRISE_USER_URN

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["", "True", "False", "true", "false", "work", "home", "m-1", "a@b.c"]),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=10), children, max_size=4),
    ),
    max_leaves=10,
)

ATTRIBUTE_NAMES = [
    "userName", "USERNAME", "externalId", "id", "active", "displayName", "name", "name.givenName", "name.bogus",
    "emails", "emails.value", "emails.primary", "phoneNumbers", "addresses", "roles", "groups", "meta", "schemas",
    "password", "manager", "manager.value", "manager.$ref", "title", "x509Certificates", "favouriteColour",
    ENT, f"{ENT}:department", f"{ENT}:manager", f"{ENT}:manager.value", f"{USER_URN}:userName",
    "urn:ietf:params:scim:schemas:extension:Custom:2.0:User:x",
]
PATHS = ATTRIBUTE_NAMES + [
    'emails[type eq "work"].value', 'emails[type eq "work"]', 'emails[type eq "work" and primary eq true].value',
    'addresses[type eq "work"].locality', 'phoneNumbers[type eq "mobile"].value', 'manager[value eq "m-1"]',
    'emails[type ne "work"].value', 'emails[value pr]', 'emails[type eq "work" or type eq "home"].display',
    'name[givenName eq "x"]', 'roles[primary eq true].value', "emails[", "a b", "",
]

json_objects = st.dictionaries(st.one_of(st.sampled_from(ATTRIBUTE_NAMES), st.text(max_size=10)), json_values, max_size=6)

user_bodies = st.one_of(
    json_values,
    json_objects,
    json_objects.map(lambda body: {**body, "userName": "alice"}),
    st.tuples(st.one_of(st.just("u"), json_scalars), st.dictionaries(st.sampled_from(ATTRIBUTE_NAMES), json_values, max_size=5))
    .map(lambda pair: {"userName": pair[0], **pair[1]}),
)

operations = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "Add", "replace", "Replace", "remove", "Remove", "copy"])},
    optional={
        "path": st.one_of(st.sampled_from(PATHS), st.text(max_size=30), json_scalars),
        "value": st.one_of(json_values, json_objects),
    },
)
patch_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"Operations": st.one_of(st.lists(operations, min_size=1, max_size=5), json_values)},
        optional={"schemas": st.one_of(st.just([PATCH_OP_URN]), json_values)},
    ),
)

STORED = {
    "id": "1",
    "userName": "alice",
    "active": True,
    "name": {"givenName": "A"},
    "emails": [{"value": "a@b.c", "type": "work", "primary": True}, {"value": "h@x", "type": "home"}],
    ENT: {"department": "F", "manager": {"value": "m-1"}},
}
# Stored resources are normally canonical, but a bug elsewhere must not turn into a crash here.
resources = st.one_of(
    st.just(STORED),
    json_objects,
    st.dictionaries(st.sampled_from(["emails", "name", ENT, "manager", "id", "userName"]), json_values, max_size=4),
)

filter_tokens = st.sampled_from([
    "userName", "emails", "type", "value", "name.givenName", f"{ENT}:manager", "eq", "ne", "co", "sw", "gt",
    "pr", "and", "or", "not", "(", ")", "[", "]", ".", '"work"', '"x', "true", "null", "1", "-2.5e3", "jyoung",
    "EQ", "And", ":", "$ref", "\\", '"\\u00e9"', "01",
])
filter_like_text = st.lists(filter_tokens, max_size=12).map(" ".join) | st.lists(filter_tokens, max_size=12).map("".join)


@PROPERTY
@given(st.one_of(st.text(max_size=200), filter_like_text))
def test_parse_filter_raises_only_invalid_filter(text):
    try:
        expr = parse_filter(text)
    except InvalidFilterError as error:
        assert isinstance(error.detail, str) and error.detail
    else:
        assert parse_filter(format_filter(expr)) == expr


@PROPERTY
@given(st.one_of(st.text(max_size=200), filter_like_text, st.sampled_from(PATHS)))
def test_parse_path_raises_only_invalid_path(text):
    try:
        path = parse_path(text)
    except InvalidPathError as error:
        assert error.detail
    else:
        assert parse_path(str(path)) == path


names = st.sampled_from([
    "userName", "id", "externalId", "active", "emails", "type", "value", "primary", "name", "givenName", "manager",
    "department", "meta", "x-y_z", "Z9", "$ref", "notX", "order", "andy",
])
schemas = st.sampled_from([None, USER_URN, ENT])
# NUL and lone surrogates are excluded: the parser refuses them on purpose (they
# cannot be stored), so no parsed tree contains them.
storable_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=10)
literal_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    storable_text,
    st.just("a\x7f\n\"\\"),
)


def _comparison(path_strategy):
    def build(args):
        path, op, value = args
        if op in ("co", "sw", "ew"):
            value = value if isinstance(value, str) else str(value)
        elif op in ("gt", "ge", "lt", "le") and (value is None or isinstance(value, bool)):
            value = 1
        return Comparison(path, op, value)

    return st.tuples(path_strategy, st.sampled_from(["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]),
                     literal_values).map(build)


def _tree(leaves):
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.builds(And, children, children), st.builds(Or, children, children), st.builds(Not, children)
        ),
        max_leaves=8,
    )


attribute_names = names.filter(lambda name: name != "$ref")
top_paths = st.builds(AttrPath, schemas, attribute_names, st.none() | names)
inner_paths = st.builds(AttrPath, st.none(), names, st.none())
inner_filters = _tree(st.one_of(_comparison(inner_paths), st.builds(Present, inner_paths)))
filters = _tree(st.one_of(
    _comparison(top_paths),
    st.builds(Present, top_paths),
    st.builds(ValuePath, st.builds(AttrPath, schemas, attribute_names, st.none()), inner_filters),
))


@PROPERTY
@given(filters)
def test_format_then_parse_is_identity(expr):
    assert parse_filter(format_filter(expr)) == expr


@JSON_PROPERTY
@given(filters, json_objects)
def test_matches_never_raises(expr, data):
    assert matches(expr, data) in (True, False)
    assert matches(expr, STORED) in (True, False)


@JSON_PROPERTY
@given(user_bodies)
def test_normalise_user_raises_only_scim_errors_and_is_idempotent(body):
    snapshot = copy.deepcopy(body)
    try:
        result = normalise_user(body)
    except ScimError:
        pass
    else:
        assert normalise_user(result.resource).resource == result.resource
    assert body == snapshot


@JSON_PROPERTY
@given(patch_bodies, resources)
def test_patch_raises_only_scim_errors_and_never_mutates_input(body, resource):
    snapshot = copy.deepcopy(resource)
    try:
        result = apply_patch(resource, normalise_patch(body))
    except ScimError:
        pass
    else:
        assert isinstance(result.resource, dict)
        assert all(isinstance(item, str) for item in result.ignored)
    assert resource == snapshot


@JSON_PROPERTY
@given(st.lists(operations, min_size=1, max_size=6))
def test_patching_a_canonical_user_keeps_it_canonical(raw_operations):
    try:
        result = apply_patch(STORED, normalise_patch({"schemas": [PATCH_OP_URN], "Operations": raw_operations}))
    except ScimError:
        return
    # What PATCH produces must be acceptable as a PUT body and survive normalisation unchanged.
    resource = {key: value for key, value in result.resource.items() if key != "id"}
    assert normalise_user(resource).resource == resource


@JSON_PROPERTY
@given(
    resources,
    st.none() | st.lists(st.sampled_from(ATTRIBUTE_NAMES) | st.text(max_size=10), max_size=4),
    st.none() | st.lists(st.sampled_from(ATTRIBUTE_NAMES) | st.text(max_size=10), max_size=4),
)
def test_project_never_raises(resource, attributes, excluded):
    result = project(resource, attributes=attributes, excluded=excluded)
    assert isinstance(result, dict)
    if "id" in resource:
        assert result["id"] == resource["id"]
