"""ListResponse bodies and pagination parameters (RFC 7644 §3.4.2.4)."""
from __future__ import annotations

import pytest

from scim_provisioning.protocol.errors import InvalidValueError
from scim_provisioning.protocol.messages import list_response, parse_pagination


def test_empty_list_response_is_the_test_connection_answer():
    assert list_response([], total_results=0, start_index=1, items_per_page=20) == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 0,
        "Resources": [],
        "startIndex": 1,
        "itemsPerPage": 20,
    }


def test_list_response_with_resources_accepts_any_iterable():
    body = list_response(iter([{"id": "1"}, {"id": "2"}]), total_results=7, start_index=6, items_per_page=2)
    assert body["Resources"] == [{"id": "1"}, {"id": "2"}]
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (7, 6, 2)


PAGINATION = [
    # (startIndex, count, expected)
    (None, None, (1, 100)),
    ("", "", (1, 100)),
    ("1", "5", (1, 5)),
    ("6", "5", (6, 5)),
    ("11", "5", (11, 5)),
    ("0", "5", (1, 5)),
    ("-3", "5", (1, 5)),
    ("2", "0", (2, 0)),
    ("2", "-1", (2, 0)),
    ("2", "1000", (2, 200)),
    ("2", "200", (2, 200)),
    (" 3 ", "+4", (3, 4)),
    (3, 4, (3, 4)),
    ("99999999999999", "5", (99999999999999, 5)),
]


@pytest.mark.parametrize(("start_index", "count", "expected"), PAGINATION)
def test_parse_pagination(start_index, count, expected):
    assert parse_pagination(start_index, count, default_count=100, max_count=200) == expected


@pytest.mark.parametrize(
    ("start_index", "count"),
    [("abc", "5"), ("1", "five"), ("1.5", "5"), ("1", "2.0"), ("1e3", "5"), ("0x10", "1"), (True, "1"),
     ("1" * 40, "1")],
)
def test_non_integers_are_invalid_values(start_index, count):
    with pytest.raises(InvalidValueError) as caught:
        parse_pagination(start_index, count, default_count=100, max_count=200)
    assert caught.value.as_body()["scimType"] == "invalidValue"
