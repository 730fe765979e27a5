"""The benchmark's floor: SCIM-shaped Users views doing the least a Django view can.

No middleware and no DRF; the bearer check is a constant comparison and the organisation is
fixed, both from the environment. Per request: lookup and GET one indexed query; create a
uniqueness check and two INSERTs (the user and its SCIM user) in one transaction; PATCH one
locked read and one UPDATE of each row it changes, in one transaction. A group PATCH of
members: one query that the ids are the organisation's users, one locked read of the group, one
INSERT (or DELETE) of the membership rows and one UPDATE of the group. No activity record,
no audit event, no validation beyond what the shape needs.
"""
from __future__ import annotations

import hmac
import json
import os
import re
import uuid

from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone

from organisations.usernames import name_key

from .models import FloorGroup, FloorMember, Person, ScimPerson

_BEARER = f"Bearer {os.environ.get('BENCH_FLOOR_CODE', '')}".encode()
_ORGANISATION_ID = int(os.environ.get("BENCH_FLOOR_ORGANISATION", "0"))
_USER_NAME_EQ = re.compile(r'^\s*userName\s+eq\s+"(.*)"\s*$', re.IGNORECASE)
_CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
_COLUMNS = ("id", "attributes", "created", "last_modified", "user__username", "user__is_active")


def _scim(status: int, body: dict | None) -> HttpResponse:
    return HttpResponse(json.dumps(body) if body is not None else b"", status=status, content_type="application/scim+json")


def _authorised(request) -> bool:
    return hmac.compare_digest(request.META.get("HTTP_AUTHORIZATION", "").encode(), _BEARER)


def _rows():
    return ScimPerson.objects.filter(user__organisation_id=_ORGANISATION_ID, deleted_at=None).values_list(*_COLUMNS)


def _resource(row) -> dict:
    scim_id, attributes, created, last_modified, username, is_active = row
    return {
        "schemas": [_CORE],
        "id": str(scim_id),
        "userName": username,
        **{k: v for k, v in attributes.items() if k != "active"},
        "active": is_active,
        "meta": {
            "resourceType": "User",
            "created": created.isoformat(),
            "lastModified": last_modified.isoformat(),
            "location": f"/api/authentication/scim/Users/{scim_id}",
        },
    }


def users(request):
    """Look a user up by ``userName eq`` (GET) or create one (POST)."""
    if not _authorised(request):
        return _scim(401, {"status": "401"})
    if request.method == "GET":
        match = _USER_NAME_EQ.match(request.GET.get("filter", ""))
        if not match:
            return _scim(400, {"status": "400", "scimType": "invalidFilter"})
        found = list(_rows().filter(user__username_key=name_key(match.group(1)))[:2])
        return _scim(200, {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": len(found),
            "startIndex": 1,
            "itemsPerPage": len(found),
            "Resources": [_resource(row) for row in found],
        })
    if request.method == "POST":
        return _create(json.loads(request.body))
    return _scim(405, {"status": "405"})


def _create(body: dict) -> HttpResponse:
    emails = body.get("emails") or [{}]
    name = body.get("name") or {}
    key = name_key(body["userName"])
    now = timezone.now()
    try:
        with transaction.atomic():
            if Person.objects.filter(username_key=key).exists():
                return _scim(409, {"status": "409", "scimType": "uniqueness"})
            person = Person.objects.create(
                username=body["userName"],
                username_key=key,
                email=emails[0].get("value", ""),
                first_name=name.get("givenName", ""),
                last_name=name.get("familyName", ""),
                is_active=str(body.get("active", True)).lower() == "true",
                organisation_id=_ORGANISATION_ID,
                date_joined=now,
            )
            attributes = {k: v for k, v in body.items() if k not in ("schemas", "userName", "meta")}
            scim = ScimPerson.objects.create(
                user=person, attributes=attributes, external_id=body.get("externalId", ""), created=now, last_modified=now
            )
    except IntegrityError:
        return _scim(409, {"status": "409", "scimType": "uniqueness"})
    return _scim(201, _resource((scim.id, attributes, now, now, person.username, person.is_active)))


def user(request, scim_id: uuid.UUID):
    """Read a user (GET) or apply a PATCH of attributes and ``active``, in either Entra form."""
    if not _authorised(request):
        return _scim(401, {"status": "401"})
    if request.method == "GET":
        row = _rows().filter(pk=scim_id).first()
        return _scim(404, {"status": "404"}) if row is None else _scim(200, _resource(row))
    if request.method == "PATCH":
        return _patch(scim_id, json.loads(request.body))
    return _scim(405, {"status": "405"})


def _patch(scim_id: uuid.UUID, body: dict) -> HttpResponse:
    with transaction.atomic():
        row = (
            ScimPerson.objects.select_for_update(of=("self",))
            .filter(pk=scim_id, user__organisation_id=_ORGANISATION_ID, deleted_at=None)
            .values_list("id", "attributes", "created", "user_id", "user__username", "user__is_active")
            .first()
        )
        if row is None:
            return _scim(404, {"status": "404"})
        scim_id, attributes, created, person_id, username, is_active = row
        was_active = is_active
        for operation in body.get("Operations", []):
            path, value = operation.get("path"), operation.get("value")
            changes = {path: value} if path else value
            for key, item in changes.items():
                if key == "active":
                    is_active = str(item).lower() == "true"
                elif "." in key:  # "name.givenName"
                    parent, _, child = key.partition(".")
                    attributes.setdefault(parent, {})[child] = item
                else:
                    attributes[key] = item
        now = timezone.now()
        if is_active != was_active:
            Person.objects.filter(pk=person_id).update(is_active=is_active, session_version=uuid.uuid4())
        ScimPerson.objects.filter(pk=scim_id).update(attributes=attributes, last_modified=now)
    return _scim(200, _resource((scim_id, attributes, created, now, username, is_active)))


def group(request, scim_id: uuid.UUID):
    """Add or remove a group's members with Entra's legacy PATCH (a value list per operation)."""
    if not _authorised(request):
        return _scim(401, {"status": "401"})
    if request.method != "PATCH":
        return _scim(405, {"status": "405"})
    operations = json.loads(request.body).get("Operations", [])
    with transaction.atomic():
        if not FloorGroup.objects.select_for_update().filter(pk=scim_id, organisation_id=_ORGANISATION_ID).exists():
            return _scim(404, {"status": "404"})
        for operation in operations:
            ids = [uuid.UUID(member["value"]) for member in operation.get("value") or []]
            found = ScimPerson.objects.filter(
                pk__in=ids, user__organisation_id=_ORGANISATION_ID, deleted_at=None
            ).count()
            if found != len(set(ids)):
                return _scim(400, {"status": "400", "scimType": "invalidValue"})
            if operation["op"].lower() == "add":
                FloorMember.objects.bulk_create(
                    [FloorMember(group_id=scim_id, scim_user_id=pk) for pk in ids], ignore_conflicts=True
                )
            else:
                FloorMember.objects.filter(group_id=scim_id, scim_user_id__in=ids).delete()
        FloorGroup.objects.filter(pk=scim_id).update(last_modified=timezone.now())
    return _scim(204, None)
