"""The SCIM representation of a group (RFC 7643 §4.2)."""
from __future__ import annotations

from collections.abc import Callable

from ..models import ScimGroup
from ..protocol.constants import GROUP_URN


def _timestamp(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def group_resource(
    group: ScimGroup,
    *,
    member_ids: list | None,
    group_location: Callable[[object], str],
    user_location: Callable[[object], str],
) -> dict:
    """Return a group's representation; ``member_ids`` None leaves ``members`` out (not read)."""
    body: dict = {"schemas": [GROUP_URN], "id": str(group.pk)}
    if group.external_id:
        body["externalId"] = group.external_id
    body["displayName"] = group.display_name
    if member_ids is not None:
        body["members"] = [{"value": str(pk), "$ref": user_location(pk), "type": "User"} for pk in member_ids]
    body["meta"] = {
        "resourceType": "Group",
        "created": _timestamp(group.created),
        "lastModified": _timestamp(group.last_modified),
        "location": group_location(group.pk),
    }
    return body
