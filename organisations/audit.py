"""The audit trail: one event per change an action makes, and the reads that show them."""
from __future__ import annotations

import json

from django.db.models import Q, QuerySet

from .access import Actor
from .models import AuditEvent, Organisation, User

# Events about an organisation's own settings (not about one person), for the Azure AD page.
ORGANISATION_ACTIONS_PREFIXES = ("azure_ad.", "code.", "domain.", "client.", "brake.")
HIDDEN = "(hidden)"


def audit_record(
    *,
    acting: Actor,
    action: str,
    organisation_id: int | None,
    target_user: User | None = None,
    target_label: str = "",
    changes: dict | None = None,
    note: str = "",
) -> AuditEvent:
    """Write one audit event; call it inside the transaction of the change it records."""
    event = audit_event(
        acting=acting,
        action=action,
        organisation_id=organisation_id,
        target_user=target_user,
        target_label=target_label,
        changes=changes,
        note=note,
    )
    event.save(force_insert=True)
    return event


def audit_event(
    *,
    acting: Actor,
    action: str,
    organisation_id: int | None,
    target_user: User | None = None,
    target_label: str = "",
    changes: dict | None = None,
    note: str = "",
) -> AuditEvent:
    """Return one audit event, unsaved: for an action that records many changes with one INSERT."""
    person = acting.user if acting.kind == AuditEvent.ActorKind.PERSON else None
    return AuditEvent(
        actor_kind=acting.kind,
        actor_user=person,
        actor_label=str(acting)[:300],
        organisation_id=organisation_id,
        target_user=target_user,
        target_label=(target_label or (target_user.username if target_user else ""))[:300],
        action=action,
        changes=_json_safe(changes or {}),
        note=note[:500],
    )


def _json_safe(changes: dict) -> dict:
    # Values come from models and SCIM bodies: anything JSON cannot hold is shown as text.
    return json.loads(json.dumps(changes, default=str))


def audit_events_for_user(*, user: User, limit: int = 50) -> QuerySet[AuditEvent]:
    """The newest events about one person."""
    return AuditEvent.objects.filter(target_user=user).order_by("-created_at", "-id")[:limit]


def audit_events_for_organisation(*, organisation: Organisation, limit: int = 30) -> list[AuditEvent]:
    """The newest events about an organisation's settings, codes and domains (not its people)."""
    about_settings = Q()
    for prefix in ORGANISATION_ACTIONS_PREFIXES:
        about_settings |= Q(action__startswith=prefix)
    events = AuditEvent.objects.filter(about_settings, organisation=organisation, target_user__isnull=True)
    return list(events.order_by("-created_at", "-id")[:limit])
