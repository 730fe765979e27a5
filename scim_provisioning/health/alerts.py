"""Provisioning health alerts: episodes opened, emailed once and cleared, and what the Azure AD page shows of them.

``provisioning_alerts_run`` is what ``provisioning_alerts`` runs every ten minutes, possibly on
several hosts at once. Each episode of a problem is one ``ProvisioningAlert`` row. The unique
constraint on open episodes lets exactly one INSERT open it; a conditional UPDATE of
``notified_at`` lets exactly one run claim its sending, so every recipient gets one email per
episode. A run whose sending fails gives its claim back, and a later run sends it again.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from organisations.access import Actor, reach
from organisations.models import Organisation, Role, User

from ..brake.selectors import BrakeState
from ..models import ProvisioningAlert
from .conditions import HealthCondition, health_conditions

Kind = ProvisioningAlert.Kind

SUBJECT_TEMPLATE = "emails/provisioning_alert_subject.txt"
BODY_TEMPLATE = "emails/provisioning_alert.txt"


class Outcome(StrEnum):
    """What a run did about one alert."""

    # Emailed by this run (in a dry run: would be).
    EMAILED = "emailed"
    # Sending failed; the episode waits for the next run to try again.
    FAILED = "failed"
    # Emailed already, by an earlier run or by another one running now.
    OPEN = "open"
    # The condition went, and with it the episode (in a dry run: would).
    CLEARED = "cleared"


@dataclass(frozen=True)
class AlertNotice:
    """One alert of one organisation, and what the run did about it."""

    organisation: Organisation
    kind: str
    title: str
    detail: str
    outcome: Outcome
    # Whether the run opened the episode (in a dry run: would).
    opened: bool = False
    # How many people the episode's email went (or goes) to, and their addresses when this run knows them.
    recipients: int = 0
    addresses: tuple[str, ...] = ()
    notified_at: datetime | None = None
    # Why sending failed, as the email backend said it.
    error: str = ""


@dataclass(frozen=True)
class AlertsRun:
    """What one run of the health alerts found and did, organisation by organisation."""

    now: datetime
    dry_run: bool
    organisations: list[Organisation]
    notices: list[AlertNotice] = field(default_factory=list)

    def _with(self, outcome: Outcome) -> list[AlertNotice]:
        return [notice for notice in self.notices if notice.outcome is outcome]

    @property
    def opened(self) -> list[AlertNotice]:
        return [notice for notice in self.notices if notice.opened]

    @property
    def emailed(self) -> list[AlertNotice]:
        return self._with(Outcome.EMAILED)

    @property
    def failed(self) -> list[AlertNotice]:
        return self._with(Outcome.FAILED)

    @property
    def still_open(self) -> list[AlertNotice]:
        return self._with(Outcome.OPEN)

    @property
    def cleared(self) -> list[AlertNotice]:
        return self._with(Outcome.CLEARED)

    @property
    def emails(self) -> int:
        """How many emails the run sent (in a dry run: would send)."""
        return sum(notice.recipients for notice in self.emailed)


@dataclass(frozen=True)
class HealthItem:
    """A problem the Azure AD page shows, with its open alert episode: since when, and whom it was emailed to."""

    condition: HealthCondition
    # None until ``provisioning_alerts`` has run since the problem appeared.
    alert: ProvisioningAlert | None = None

    @property
    def emailed(self) -> bool:
        return self.alert is not None and self.alert.notified_at is not None


def health_state(
    *, organisation: Organisation, now: datetime | None = None, brake: BrakeState | None = None
) -> list[HealthItem]:
    """Return the organisation's current problems, each with its open alert episode if there is one.

    ``brake``: the organisation's brake, when the caller (the Azure AD page) has read it already.
    """
    conditions = health_conditions(organisation=organisation, now=now, brake=brake)
    if not conditions:
        return []
    alerts = {
        alert.kind: alert
        for alert in ProvisioningAlert.objects.filter(organisation=organisation, cleared_at__isnull=True)
    }
    return [HealthItem(condition=condition, alert=alerts.get(condition.kind)) for condition in conditions]


def _recipients(organisation: Organisation) -> tuple[str, ...]:
    """The organisation's active Admins and every active Prompt Admin with an address, each address once."""
    addresses = (
        User.objects.filter(Q(role=Role.ADMIN, organisation=organisation) | Q(role=Role.PROMPT_ADMIN), is_active=True)
        .exclude(email="")
        .order_by(Lower("email"), "pk")
        .values_list("email", flat=True)
    )
    unique: dict[str, str] = {}
    for address in addresses:
        unique.setdefault(address.strip().lower(), address.strip())
    return tuple(unique.values())


def _messages(
    organisation: Organisation, condition: HealthCondition, *, started_at: datetime, addresses: tuple[str, ...]
) -> list[EmailMessage]:
    """One message per recipient, so that nobody sees who else was told."""
    context = {
        "organisation": organisation,
        "kind": condition.kind,
        "title": condition.title,
        "detail": condition.detail,
        "started_at": f"{started_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
        "azure_ad_url": settings.SITE_URL
        + reverse("admin:organisations_organisation_azure_ad", args=[organisation.pk]),
    }
    # A header is one line, whatever the organisation's name holds.
    subject = " ".join(render_to_string(SUBJECT_TEMPLATE, context).split())
    body = render_to_string(BODY_TEMPLATE, context)
    return [EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [address]) for address in addresses]


def _send(messages: list[EmailMessage]) -> str:
    """Send over one connection; return why it failed, or "" when every message went."""
    try:
        with get_connection(fail_silently=False) as connection:
            sent = connection.send_messages(messages) or 0
    # Whatever the backend raises (a refused connection, an SMTP error, a misconfigured EMAIL_URL)
    # must give the claim back and be reported, not end the run with a traceback.
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    if sent < len(messages):
        return f"the email backend sent {sent} of {len(messages)} messages"
    return ""


def _open(
    organisation: Organisation, condition: HealthCondition, *, now: datetime
) -> tuple[ProvisioningAlert | None, bool]:
    """Open the episode; return it, and whether this run opened it."""
    try:
        with transaction.atomic():
            alert = ProvisioningAlert.objects.create(
                organisation=organisation, kind=condition.kind, started_at=now, detail=condition.detail[:500]
            )
        return alert, True
    except IntegrityError:
        # Another host opened it at the same moment: carry on with theirs.
        alert = ProvisioningAlert.objects.filter(
            organisation=organisation, kind=condition.kind, cleared_at__isnull=True
        ).first()
        return alert, False


def _alert(
    organisation: Organisation,
    condition: HealthCondition,
    alert: ProvisioningAlert | None,
    *,
    now: datetime,
    dry_run: bool,
) -> AlertNotice:
    """Open the condition's episode if it has none, and email it unless it has been emailed."""

    def notice(outcome: Outcome, **values) -> AlertNotice:
        return AlertNotice(
            organisation=organisation,
            kind=condition.kind,
            title=condition.title,
            detail=condition.detail,
            outcome=outcome,
            **values,
        )

    if alert is not None and alert.notified_at is not None:
        return notice(Outcome.OPEN, notified_at=alert.notified_at, recipients=alert.recipients)
    addresses = _recipients(organisation)
    if dry_run:
        return notice(Outcome.EMAILED, opened=alert is None, recipients=len(addresses), addresses=addresses)
    opened = False
    if alert is None:
        alert, opened = _open(organisation, condition, now=now)
        if alert is None:
            # Opened and cleared again by other runs between two of our statements.
            return notice(Outcome.OPEN)
    claimed = ProvisioningAlert.objects.filter(pk=alert.pk, notified_at__isnull=True, cleared_at__isnull=True).update(
        notified_at=now, recipients=len(addresses), detail=condition.detail[:500]
    )
    if not claimed:
        # Another run is emailing it, or has.
        current = ProvisioningAlert.objects.filter(pk=alert.pk).values("notified_at", "recipients").first() or {}
        return notice(
            Outcome.OPEN, opened=opened, notified_at=current.get("notified_at"), recipients=current.get("recipients", 0)
        )
    # With nobody to tell, the claim alone records that the episode was dealt with.
    error = ""
    if addresses:
        error = _send(_messages(organisation, condition, started_at=alert.started_at, addresses=addresses))
    if error:
        ProvisioningAlert.objects.filter(pk=alert.pk, notified_at=now).update(notified_at=None, recipients=0)
        return notice(Outcome.FAILED, opened=opened, recipients=len(addresses), addresses=addresses, error=error)
    return notice(Outcome.EMAILED, opened=opened, recipients=len(addresses), addresses=addresses, notified_at=now)


def _clear(organisation: Organisation, alert: ProvisioningAlert, *, now: datetime, dry_run: bool) -> AlertNotice | None:
    """End the episode; return None when another run ended it first."""
    if not dry_run and not ProvisioningAlert.objects.filter(pk=alert.pk, cleared_at__isnull=True).update(
        cleared_at=now
    ):
        return None
    return AlertNotice(
        organisation=organisation,
        kind=alert.kind,
        title=Kind(alert.kind).label,
        detail=alert.detail,
        outcome=Outcome.CLEARED,
        notified_at=alert.notified_at,
        recipients=alert.recipients,
    )


def provisioning_alerts_run(
    *,
    acting: Actor,
    organisation: Organisation | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
) -> AlertsRun:
    """Check every organisation with provisioning on (or one), email new problems and clear those gone.

    Organisations whose provisioning is off have no problems: their open episodes are cleared.
    A dry run writes and sends nothing and says what a run would do.
    """
    if not reach(acting).is_everything:
        raise PermissionDenied("Only the system runs the provisioning health alerts.")
    now = now or timezone.now()
    open_alerts = ProvisioningAlert.objects.filter(cleared_at__isnull=True)
    if organisation is not None:
        organisations = [organisation]
        open_alerts = open_alerts.filter(organisation=organisation)
    else:
        organisations = list(
            Organisation.objects.filter(
                Q(provisioning_enabled=True) | Q(pk__in=open_alerts.values("organisation_id"))
            ).order_by("slug")
        )
    by_organisation: dict[int, dict[str, ProvisioningAlert]] = {}
    for alert in open_alerts:
        by_organisation.setdefault(alert.organisation_id, {})[alert.kind] = alert
    run = AlertsRun(now=now, dry_run=dry_run, organisations=organisations)
    for org in organisations:
        conditions = {condition.kind: condition for condition in health_conditions(organisation=org, now=now)}
        alerts = by_organisation.get(org.pk, {})
        for kind in Kind.values:
            condition, alert = conditions.get(kind), alerts.get(kind)
            if condition is not None:
                run.notices.append(_alert(org, condition, alert, now=now, dry_run=dry_run))
            elif alert is not None:
                cleared = _clear(org, alert, now=now, dry_run=dry_run)
                if cleared is not None:
                    run.notices.append(cleared)
    return run
