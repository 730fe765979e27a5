"""The SCIM request log: one record per authenticated request, for the activity panel."""
from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from organisations.models import Organisation

from ..models import ScimRequest, ScimUser
from .writer import activity_writer


def _storable(text: str) -> str:
    """Return request text a database column can hold: no NUL, no lone surrogates."""
    # The path, and the ignored attribute names in the detail, are whatever the caller sent.
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def scim_request_record(
    *,
    organisation: Organisation,
    method: str,
    path: str,
    status: int,
    duration_ms: int,
    scim_type: str = "",
    detail: str = "",
    action: str = "",
    scim_user: ScimUser | None = None,
    changes: dict | None = None,
    credential: str = "",
) -> ScimRequest:
    """Record one SCIM request for the organisation's provisioning activity.

    Written through ``SCIM_ACTIVITY_DATABASE``, which on PostgreSQL does not wait for the disk:
    queued for the process's background writer when ``SCIM_ACTIVITY_QUEUED``, else one INSERT now.
    """
    record = ScimRequest(
        # Ids only: a queued record keeps no model instances alive.
        organisation_id=organisation.pk,
        created_at=timezone.now(),
        method=_storable(method)[:8],
        path=_storable(path)[:255],
        status=status,
        scim_type=_storable(scim_type)[:32],
        detail=_storable(detail)[:500],
        action=action,
        scim_user_id=scim_user.pk if scim_user else None,
        changes=changes or None,
        duration_ms=max(0, duration_ms),
        credential=credential[:64],
    )
    if settings.SCIM_ACTIVITY_QUEUED:
        activity_writer(settings.SCIM_ACTIVITY_DATABASE).put(record)
    else:
        record.save(using=settings.SCIM_ACTIVITY_DATABASE, force_insert=True)
    return record
