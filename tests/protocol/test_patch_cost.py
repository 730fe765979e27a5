"""A PATCH costs linear time in its size, whatever its shape: counted, not timed.

The cost of applying a PATCH is the number of Python function calls it makes, which is the same
on every run and machine. For each shape, applying N, 2N and 4N of it must grow the cost by
about as much from 2N to 4N as from N to 2N, twice over: the increments of a linear cost double,
those of a quadratic one quadruple.
"""
from __future__ import annotations

import sys

import pytest

from scim_provisioning.protocol.elements import WorkBudget
from scim_provisioning.protocol.errors import InvalidValueError
from scim_provisioning.protocol.patch import MAX_OPERATIONS, apply_patch, normalise_patch
from scim_provisioning.protocol.resource import MAX_ELEMENTS, normalise_user

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def calls(function) -> int:
    """Return how many Python function calls ``function()`` makes."""
    count = 0

    def profile(frame, event, arg):
        nonlocal count
        if event == "call":
            count += 1

    sys.setprofile(profile)
    try:
        function()
    finally:
        sys.setprofile(None)
    return count


def body(*operations) -> dict:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def user(emails: int = 0) -> dict:
    resource = {"id": "1", "userName": "ada@contoso.com"}
    if emails:
        resource["emails"] = [{"type": f"t{i}", "value": f"ada{i}@contoso.com"} for i in range(emails)]
    return resource


# Each shape: n -> (stored resource, PATCH body), for n up to four times its base in BASE (each
# staying within the caps on operations and on the values of one attribute).
SHAPES = {
    # The reported case: n emails added, then n removed one by one by value.
    "add n emails, then remove each by value": lambda n: (
        user(),
        body(
            {"op": "add", "path": "emails", "value": [{"value": f"e{i}@contoso.com"} for i in range(n)]},
            *({"op": "remove", "path": f'emails[value eq "e{i}@contoso.com"]'} for i in range(n)),
        ),
    ),
    "remove each of n stored emails by a value list": lambda n: (
        user(emails=n),
        body({"op": "remove", "path": "emails", "value": [{"value": f"ada{i}@contoso.com"} for i in range(n)]}),
    ),
    "n typed replaces of n stored emails": lambda n: (
        user(emails=n),
        body(*({"op": "replace", "path": f'emails[type eq "t{i}"].value', "value": f"new{i}@x"} for i in range(n))),
    ),
    "n adds of one element each to n stored emails": lambda n: (
        user(emails=n),
        body(*({"op": "add", "path": "emails", "value": [{"value": f"more{i}@x", "primary": True}]} for i in range(n))),
    ),
    "n path-less replaces of several attributes": lambda n: (
        user(),
        body(*({"op": "replace", "value": {"displayName": f"D{i}", "name.givenName": f"G{i}"}} for i in range(n))),
    ),
}


BASE = {
    "add n emails, then remove each by value": MAX_ELEMENTS // 4,
    "remove each of n stored emails by a value list": MAX_ELEMENTS // 4,
    "n typed replaces of n stored emails": MAX_OPERATIONS // 4,
    "n adds of one element each to n stored emails": MAX_OPERATIONS // 4,
    "n path-less replaces of several attributes": MAX_OPERATIONS // 8,
}


def cost_of(shape, n: int) -> int:
    resource, patch = SHAPES[shape](n)
    operations = normalise_patch(patch)
    return calls(lambda: apply_patch(resource, operations))


@pytest.mark.parametrize("shape", SHAPES)
def test_cost_grows_linearly(shape):
    n = BASE[shape]
    small, double, quadruple = (cost_of(shape, n * k) for k in (1, 2, 4))

    first, second = double - small, quadruple - double
    # Linear: second ≈ 2 × first. Quadratic: second ≈ 4 × first.
    assert second <= 2.5 * first, (shape, small, double, quadruple)
    assert quadruple <= 4.5 * small


def test_the_reported_case_applies_correctly():
    resource, patch = SHAPES["add n emails, then remove each by value"](3)
    result = apply_patch(resource, normalise_patch(patch))
    assert "emails" not in result.resource


def test_more_operations_than_the_cap_are_refused():
    too_many = body(*({"op": "replace", "path": "displayName", "value": str(i)} for i in range(MAX_OPERATIONS + 1)))

    with pytest.raises(InvalidValueError) as refused:
        normalise_patch(too_many)

    assert str(MAX_OPERATIONS) in refused.value.detail


def test_a_path_less_value_counts_each_attribute_against_the_cap():
    wide = body({"op": "replace", "value": {f"x{i}": i for i in range(MAX_OPERATIONS + 1)}})

    with pytest.raises(InvalidValueError) as refused:
        normalise_patch(wide)

    assert f"at most {MAX_OPERATIONS} operations" in refused.value.detail


def test_more_values_than_the_cap_are_refused():
    emails = [{"value": f"e{i}@contoso.com"} for i in range(MAX_ELEMENTS + 1)]

    with pytest.raises(InvalidValueError) as refused:
        normalise_user({"userName": "ada@contoso.com", "emails": emails})

    assert refused.value.detail == f"emails may hold at most {MAX_ELEMENTS} values; this one has {MAX_ELEMENTS + 1}."


def test_filters_that_cannot_be_looked_up_are_held_to_a_linear_budget():
    # "co" cannot use an index: every such operation walks the list, so enough of them on a
    # long list exceed the budget instead of taking quadratic time.
    n = 2000
    resource = user(emails=n)
    operations = normalise_patch(
        body(*({"op": "remove", "path": f'emails[value co "nobody{i}"]'} for i in range(MAX_OPERATIONS)))
    )
    assert n * MAX_OPERATIONS > WorkBudget.FLOOR + WorkBudget.FACTOR * (n + MAX_OPERATIONS)

    with pytest.raises(InvalidValueError) as refused:
        apply_patch(resource, operations)

    assert "too many elements" in refused.value.detail
