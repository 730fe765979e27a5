"""The benchmark's yardstick: SCIM-shaped Users views in plain Django, about one query each.

Served by the same gunicorn configuration as the site (``gunicorn bench.reference``), against
the same database, so the site's throughput can be quoted as a ratio that means the same on any
machine. The bearer check is a constant comparison and the organisation is fixed, both from the
environment; there is no DRF, no parsing beyond ``json.loads`` and no activity record.

Queries per request: lookup 1, GET by id 1, create 2 (user, SCIM user) in one transaction,
PATCH 3 (read with lock, user, SCIM user) in one transaction.
"""
from __future__ import annotations

import hmac
import json
import os
import re
import uuid

from django.db import IntegrityError, transaction
from django.db.models import Value
from django.db.models.functions import Lower
from django.http import HttpResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.reference_settings")

_BEARER = f"Bearer {os.environ.get('BENCH_REFERENCE_CODE', '')}".encode()
_ORGANISATION_ID = int(os.environ.get("BENCH_REFERENCE_ORGANISATION", "0"))
_USER_NAME_EQ = re.compile(r'^\s*userName\s+eq\s+"(.*)"\s*$', re.IGNORECASE)
_CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
_ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
_CONTENT_TYPE = "application/scim+json"


def _scim(status: int, body: dict | None) -> HttpResponse:
    return HttpResponse(json.dumps(body) if body is not None else b"", status=status, content_type=_CONTENT_TYPE)


def _authorised(request) -> bool:
    return hmac.compare_digest(request.META.get("HTTP_AUTHORIZATION", "").encode(), _BEARER)


def _scim_users():
    from scim_provisioning.models import ScimUser

    return ScimUser.objects.select_related("user").filter(user__organisation_id=_ORGANISATION_ID, deleted_at=None)


def _resource(scim_user) -> dict:
    attributes = {k: v for k, v in scim_user.attributes.items() if k not in ("schemas", "userName", "active", "meta")}
    return {
        "schemas": [_CORE, _ENTERPRISE],
        "id": str(scim_user.id),
        "userName": scim_user.user.username,
        "active": scim_user.user.is_active,
        **attributes,
        "meta": {
            "resourceType": "User",
            "created": scim_user.created.isoformat(),
            "lastModified": scim_user.last_modified.isoformat(),
            "location": f"/api/authentication/scim/Users/{scim_user.id}",
        },
    }


@csrf_exempt
def users(request):
    """Look a user up by ``userName eq`` (GET) or create one (POST)."""
    if not _authorised(request):
        return _scim(401, {"status": "401"})
    if request.method == "GET":
        match = _USER_NAME_EQ.match(request.GET.get("filter", ""))
        if not match:
            return _scim(400, {"status": "400", "scimType": "invalidFilter"})
        # The same expression as the case-insensitive unique index on the username.
        found = list(_scim_users().alias(lower_username=Lower("user__username")).filter(
            lower_username=Lower(Value(match.group(1)))
        )[:2])
        return _scim(200, {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": len(found),
            "startIndex": 1,
            "itemsPerPage": len(found),
            "Resources": [_resource(scim_user) for scim_user in found],
        })
    if request.method == "POST":
        return _create(json.loads(request.body))
    return _scim(405, {"status": "405"})


def _create(body: dict) -> HttpResponse:
    from organisations.models import User
    from scim_provisioning.models import ScimUser

    emails = body.get("emails") or [{}]
    name = body.get("name") or {}
    try:
        with transaction.atomic():
            user = User.objects.create(
                username=body["userName"],
                email=emails[0].get("value", ""),
                first_name=name.get("givenName", ""),
                last_name=name.get("familyName", ""),
                is_active=str(body.get("active", True)).lower() == "true",
                organisation_id=_ORGANISATION_ID,
                password="!",
            )
            scim_user = ScimUser.objects.create(
                user=user,
                attributes=body,
                external_id=body.get("externalId", ""),
                email=user.email,
            )
    except IntegrityError:
        return _scim(409, {"status": "409", "scimType": "uniqueness"})
    return _scim(201, _resource(scim_user))


@csrf_exempt
def user(request, scim_id: uuid.UUID):
    """Read a user (GET) or apply Entra's legacy PATCH of ``displayName`` and ``active``."""
    if not _authorised(request):
        return _scim(401, {"status": "401"})
    if request.method == "GET":
        scim_user = _scim_users().filter(pk=scim_id).first()
        if scim_user is None:
            return _scim(404, {"status": "404"})
        return _scim(200, _resource(scim_user))
    if request.method == "PATCH":
        return _patch(scim_id, json.loads(request.body))
    return _scim(405, {"status": "405"})


def _patch(scim_id: uuid.UUID, body: dict) -> HttpResponse:
    with transaction.atomic():
        scim_user = _scim_users().select_for_update(of=("self",)).filter(pk=scim_id).first()
        if scim_user is None:
            return _scim(404, {"status": "404"})
        account = scim_user.user
        for operation in body.get("Operations", []):
            if operation.get("path") == "active":
                active = str(operation.get("value")).lower() == "true"
                if active != account.is_active:
                    account.is_active = active
                    account.session_version = uuid.uuid4()
                    account.save(update_fields=["is_active", "session_version"])
            elif operation.get("path"):
                scim_user.attributes[operation["path"]] = operation.get("value")
        scim_user.last_modified = timezone.now()
        scim_user.save(update_fields=["attributes", "last_modified"])
    return _scim(200, _resource(scim_user))


urlpatterns = [
    path("api/authentication/scim/Users", users),
    path("api/authentication/scim/Users/<uuid:scim_id>", user),
]


def _application():
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


application = _application()
