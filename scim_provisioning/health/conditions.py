"""What is wrong with an organisation's provisioning now: the conditions health alerts are sent for.

``health_conditions`` makes at most six small queries per organisation, each scoped to it and
bounded by time or by the organisation's few credentials, so it is served by the indexes however
much history the request log holds (see ``activity.summary``).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Count, Min, Q
from django.utils import timezone

from organisations.models import Organisation

from ..brake.selectors import BrakeState, brake_state
from ..codes.tokens import active_codes_q
from ..models import OAuthClientSecret, ProvisioningAlert, ProvisioningCode, ScimRequest
from ..oauth.tokens import active_secrets_q

Kind = ProvisioningAlert.Kind

FAILED_STATUS = 400
FAILURE_WINDOW = timedelta(minutes=60)
# One failed Test Connection, or a single bad cycle of two or three requests, is a blip an Admin
# need not be woken for: the share of failures only counts once the hour has this many requests.
FAILURE_MIN_REQUESTS = 5
# More than this share of the hour's requests failed (an integer percentage, compared exactly).
FAILURE_PERCENT = 20


@dataclass(frozen=True)
class HealthCondition:
    """One problem found: its kind (a ``ProvisioningAlert.Kind``), its title, and what an Admin reads."""

    kind: str
    title: str
    detail: str


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _elapsed(delta: timedelta) -> str:
    """A silence's length in whole hours, or whole days once it has lasted two days."""
    hours = int(delta.total_seconds() // 3600)
    if hours < 48:
        return f"{hours} hour" if hours == 1 else f"{hours} hours"
    return f"{hours // 24} days"


def _condition(kind: str, detail: str) -> HealthCondition:
    return HealthCondition(kind=kind, title=Kind(kind).label, detail=detail)


def _requests(organisation: Organisation):
    # The model orders newest first; aggregates must not inherit that ordering.
    return ScimRequest.objects.filter(organisation=organisation).order_by()


def _silence(
    organisation: Organisation, *, now: datetime, codes: list[ProvisioningCode]
) -> HealthCondition | None:
    silence = timedelta(hours=settings.PROVISIONING_SILENCE_HOURS)
    # A backwards scan of (organisation, created_at) that stops at the first row.
    last_request_at = _requests(organisation).order_by("-created_at").values_list("created_at", flat=True).first()
    if last_request_at is not None:
        if now - last_request_at <= silence:
            return None
        return _condition(
            Kind.SILENCE,
            f"Provisioning is on, but Entra ID has not called for {_elapsed(now - last_request_at)} "
            f"(since {_utc(last_request_at)}). Check the provisioning job in Entra ID: it may be in "
            "quarantine, or its credential may have been revoked.",
        )
    # Entra ID has never called: the clock starts when the first credential it could use was issued.
    issued = [code.created_at for code in codes]
    first_secret = (
        OAuthClientSecret.objects.filter(active_secrets_q(now), client__organisation=organisation)
        .order_by()
        .aggregate(first=Min("created_at"))["first"]
    )
    if first_secret is not None:
        issued.append(first_secret)
    if not issued or now - min(issued) <= silence:
        return None
    since = min(issued)
    return _condition(
        Kind.SILENCE,
        f"Provisioning is on, but Entra ID has not called since its credential was issued "
        f"{_elapsed(now - since)} ago ({_utc(since)}). Check that the provisioning job in Entra ID is "
        "started and that its Tenant URL and Secret Token are the ones on the Azure AD page.",
    )


def _failures(organisation: Organisation, *, now: datetime) -> HealthCondition | None:
    # Deactivations the brake held are answered 429 by design and have their own alert.
    # COUNT(created_at): every column read is in the covering activity index (index-only scans).
    row = (
        _requests(organisation)
        .filter(~Q(action=ScimRequest.Action.HELD), created_at__gt=now - FAILURE_WINDOW, created_at__lte=now)
        .aggregate(requests=Count("created_at"), failed=Count("created_at", filter=Q(status__gte=FAILED_STATUS)))
    )
    requests, failed = row["requests"], row["failed"]
    if requests < FAILURE_MIN_REQUESTS or failed * 100 <= FAILURE_PERCENT * requests:
        return None
    return _condition(
        Kind.FAILURES,
        f"{failed} of the {requests} requests Entra ID made in the last 60 minutes failed "
        f"({failed * 100 // requests} %). The Azure AD page lists the recent failures and what went wrong.",
    )


def _brake(state: BrakeState) -> HealthCondition | None:
    if not (state.enabled and state.engaged):
        return None
    return _condition(
        Kind.BRAKE,
        f"{state.headline} Deactivations are on hold: review them on the Azure AD page, then release "
        "them or keep them on hold.",
    )


def _code_age(*, now: datetime, codes: list[ProvisioningCode]) -> HealthCondition | None:
    max_age = timedelta(days=settings.PROVISIONING_CODE_MAX_AGE_DAYS)
    # A code with an end date has been superseded already: rotating is under way, not due.
    old = [
        code
        for code in codes
        if code.last_used_at is not None and code.expires_at is None and now - code.created_at > max_age
    ]
    if not old:
        return None
    code = min(old, key=lambda code: code.created_at)
    return _condition(
        Kind.CODE_AGE,
        f"The Provisioning Authentication Code ending …{code.last_characters} was created "
        f"{(now - code.created_at).days} days ago ({code.created_at.astimezone(UTC):%Y-%m-%d}) and Entra ID "
        f"still uses it (last used {_utc(code.last_used_at)}). Rotate it: generate a new code on the Azure "
        "AD page and paste it into Entra ID as the Secret Token.",
    )


def health_conditions(
    *, organisation: Organisation, now: datetime | None = None, brake: BrakeState | None = None
) -> list[HealthCondition]:
    """Return what is wrong with the organisation's provisioning now, in ``ProvisioningAlert.Kind`` order.

    Nothing is wrong with an organisation whose provisioning is off. Four to six queries, two
    fewer when the caller has read the ``brake`` already.
    """
    if not organisation.provisioning_enabled:
        return []
    now = now or timezone.now()
    # An organisation has a handful of active codes: one query serves both silence and code age.
    codes = list(
        ProvisioningCode.objects.filter(active_codes_q(now), organisation=organisation)
        .order_by()
        .only("last_characters", "created_at", "last_used_at", "expires_at")
    )
    found = [
        _silence(organisation, now=now, codes=codes),
        _failures(organisation, now=now),
        _brake(brake or brake_state(organisation=organisation)),
        _code_age(now=now, codes=codes),
    ]
    return [condition for condition in found if condition is not None]
