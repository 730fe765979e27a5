"""Reads of the SCIM request log: the Azure AD page's activity panel, user timelines, status.

Every query is scoped to one organisation (or one SCIM user) and bounded by time or by a limit,
so it is served by the log's indexes however much history an organisation has.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncHour
from django.utils import timezone

from organisations.models import Organisation

from ..codes import tokens
from ..models import OAuthClient, ProvisioningCode, ScimRequest, ScimUser
from ..oauth.tokens import active_secrets_q

# Entra ID runs a provisioning cycle about every 40 minutes; two hours of silence means trouble.
QUIET_AFTER = timedelta(hours=2)
CHART_HOURS = 7 * 24
RECENT_FAILURES = 10
TIMELINE_LIMIT = 50
FAILED_STATUS = 400

# The actions counted on the panel, in display order.
COUNTED_ACTIONS = (
    ScimRequest.Action.CREATED,
    ScimRequest.Action.UPDATED,
    ScimRequest.Action.DEACTIVATED,
    ScimRequest.Action.REACTIVATED,
    ScimRequest.Action.DELETED,
)

# Attribute names whose values are secrets: the timeline names the change but never the value.
_SECRET_MARKERS = ("password", "secret", "token")
HIDDEN_VALUE = "(hidden)"

_FAILED = Q(status__gte=FAILED_STATUS)
_SUCCEEDED = Q(status__lt=FAILED_STATUS)
_USER_PATH = re.compile(r"/Users/(?P<id>[0-9a-fA-F-]{36})")


@dataclass(frozen=True)
class ActivityCounts:
    """How many users each action touched, and how many requests failed, in one period."""

    created: int = 0
    updated: int = 0
    deactivated: int = 0
    reactivated: int = 0
    deleted: int = 0
    failed: int = 0
    requests: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "created": self.created,
            "updated": self.updated,
            "deactivated": self.deactivated,
            "reactivated": self.reactivated,
            "deleted": self.deleted,
            "failed": self.failed,
        }


@dataclass(frozen=True)
class HourBucket:
    """Requests that started in one clock hour (UTC), split by outcome."""

    start: datetime
    successes: int = 0
    failures: int = 0

    @property
    def total(self) -> int:
        return self.successes + self.failures


@dataclass(frozen=True)
class ChartBar:
    """One hour of the requests-per-hour chart, in SVG user units (y grows downwards)."""

    bucket: HourBucket
    x: int
    success_y: float
    success_height: float
    failure_y: float
    failure_height: float


@dataclass(frozen=True)
class ChartDay:
    """A UTC midnight on the chart: where its gridline goes and where its label starts or ends."""

    x: int
    start: datetime
    label_x: int
    anchor: str


@dataclass(frozen=True)
class FailedRequest:
    """A request Entra ID made that we answered with an error."""

    created_at: datetime
    method: str
    path: str
    status: int
    scim_type: str
    detail: str
    user_id: int | None
    username: str


@dataclass(frozen=True)
class ActivitySummary:
    """What the Azure AD page's "Provisioning activity" panel shows."""

    now: datetime
    provisioning_enabled: bool
    last_request_at: datetime | None
    last_24_hours: ActivityCounts
    last_7_days: ActivityCounts
    hourly: list[HourBucket]
    recent_failures: list[FailedRequest]

    CHART_BAR_WIDTH = 4
    CHART_HEIGHT = 60
    CHART_LABEL_WIDTH = 56

    @property
    def is_quiet(self) -> bool:
        """Whether provisioning is on but Entra ID has not called for more than two hours."""
        return _is_quiet(self.provisioning_enabled, self.last_request_at, self.now)

    @property
    def chart_peak(self) -> int:
        return max((bucket.total for bucket in self.hourly), default=0)

    @property
    def chart_width(self) -> int:
        return len(self.hourly) * self.CHART_BAR_WIDTH

    @property
    def chart_bars(self) -> list[ChartBar]:
        """Stacked bars (failures on top of successes) scaled to the busiest hour."""
        peak = self.chart_peak or 1
        scale = self.CHART_HEIGHT / peak
        bars = []
        for index, bucket in enumerate(self.hourly):
            success_height = round(bucket.successes * scale, 2)
            failure_height = round(bucket.failures * scale, 2)
            success_y = round(self.CHART_HEIGHT - success_height, 2)
            bars.append(
                ChartBar(
                    bucket=bucket,
                    x=index * self.CHART_BAR_WIDTH,
                    success_y=success_y,
                    success_height=success_height,
                    failure_y=round(success_y - failure_height, 2),
                    failure_height=failure_height,
                )
            )
        return bars

    @property
    def chart_days(self) -> list[ChartDay]:
        """Day boundaries (UTC midnights) inside the chart, for gridlines and day labels."""
        width = self.chart_width
        days = []
        for index, bucket in enumerate(self.hourly):
            if index and bucket.start.hour == 0:
                x = index * self.CHART_BAR_WIDTH
                # A label that would run off the right edge ends at the edge instead.
                fits = width - x >= self.CHART_LABEL_WIDTH
                days.append(
                    ChartDay(
                        x=x, start=bucket.start, label_x=x + 2 if fits else width, anchor="start" if fits else "end"
                    )
                )
        return days

    @property
    def chart_successes(self) -> int:
        return sum(bucket.successes for bucket in self.hourly)

    @property
    def chart_failures(self) -> int:
        return sum(bucket.failures for bucket in self.hourly)


@dataclass(frozen=True)
class FieldChange:
    """One attribute a request changed, with both values ready to display."""

    attribute: str
    old: str
    new: str


@dataclass(frozen=True)
class TimelineEntry:
    """A request that changed a user, or tried to and failed."""

    created_at: datetime
    action: str
    action_label: str
    method: str
    status: int
    scim_type: str
    detail: str
    changes: list[FieldChange] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.status >= FAILED_STATUS


@dataclass(frozen=True)
class CodeStatus:
    """A code that still authenticates, described without its secret."""

    last_characters: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None


@dataclass(frozen=True)
class ClientSecretStatus:
    """An active OAuth client secret, described without its secret."""

    last_characters: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime
    # Within the warning period before expiry: a new secret should go into Entra ID.
    expiring: bool


@dataclass(frozen=True)
class OAuthClientStatus:
    client_id: str
    application_id: str | None
    object_id: str | None
    accepts_code: bool
    secrets: list[ClientSecretStatus]


# Secrets this close to expiry are flagged on the Azure AD page and by provisioning_status.
SECRET_EXPIRY_WARNING = timedelta(days=30)


@dataclass(frozen=True)
class OrganisationStatus:
    """One organisation's line in ``provisioning_status``."""

    now: datetime
    organisation: Organisation
    codes: list[CodeStatus]
    last_request_at: datetime | None
    oldest_request_at: datetime | None
    last_24_hours: ActivityCounts
    recent_failures: list[FailedRequest]
    oauth_client: OAuthClientStatus | None = None

    @property
    def is_quiet(self) -> bool:
        """Whether provisioning is on but Entra ID has not called for more than two hours."""
        return _is_quiet(self.organisation.provisioning_enabled, self.last_request_at, self.now)


def _is_quiet(provisioning_enabled: bool, last_request_at: datetime | None, now: datetime) -> bool:
    if not provisioning_enabled:
        return False
    return last_request_at is None or now - last_request_at > QUIET_AFTER


def _requests(organisation: Organisation):
    # The model orders newest first; aggregates must not inherit that ordering (it would group by it).
    return ScimRequest.objects.filter(organisation=organisation).order_by()


def _last_request_at(organisation: Organisation) -> datetime | None:
    # A backwards scan of (organisation, created_at) that stops at the first row.
    return (
        _requests(organisation).order_by("-created_at").values_list("created_at", flat=True).first()
    )


def _oldest_request_at(organisation: Organisation) -> datetime | None:
    return _requests(organisation).order_by("created_at").values_list("created_at", flat=True).first()


def _counts(organisation: Organisation, *, now: datetime, periods: dict[str, timedelta]) -> dict[str, ActivityCounts]:
    """Count actions and failures over several periods ending now, in one index range scan."""
    longest = max(periods.values())
    # COUNT(created_at), not COUNT(id): every column read is in the covering index, so PostgreSQL
    # can answer from the index alone.
    aggregates = {}
    for name, length in periods.items():
        in_period = Q(created_at__gt=now - length)
        aggregates[f"{name}__requests"] = Count("created_at", filter=in_period)
        aggregates[f"{name}__failed"] = Count("created_at", filter=in_period & _FAILED)
        for action in COUNTED_ACTIONS:
            aggregates[f"{name}__{action}"] = Count("created_at", filter=in_period & _SUCCEEDED & Q(action=action))
    row = _requests(organisation).filter(created_at__gt=now - longest, created_at__lte=now).aggregate(**aggregates)
    return {
        name: ActivityCounts(
            **{key.split("__", 1)[1]: value or 0 for key, value in row.items() if key.startswith(f"{name}__")}
        )
        for name in periods
    }


def _hourly(organisation: Organisation, *, now: datetime) -> list[HourBucket]:
    """Requests per clock hour (UTC) over the last seven days, oldest first, one row per hour."""
    current_hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    first_hour = current_hour - timedelta(hours=CHART_HOURS - 1)
    rows = (
        _requests(organisation)
        .filter(created_at__gte=first_hour, created_at__lte=now)
        .annotate(hour=TruncHour("created_at", tzinfo=UTC))
        .values("hour")
        .annotate(successes=Count("created_at", filter=_SUCCEEDED), failures=Count("created_at", filter=_FAILED))
    )
    found = {row["hour"].astimezone(UTC): row for row in rows}
    buckets = []
    for offset in range(CHART_HOURS):
        start = first_hour + timedelta(hours=offset)
        row = found.get(start)
        buckets.append(
            HourBucket(start=start, successes=row["successes"], failures=row["failures"])
            if row
            else HourBucket(start=start)
        )
    return buckets


def _user_ids_in_paths(organisation: Organisation, rows) -> dict[str, tuple[int, str]]:
    """Map ``/Users/{id}`` paths of failed requests without a recorded user to that user."""
    ids = set()
    for row in rows:
        match = _USER_PATH.fullmatch(row["path"]) if row["scim_user__user_id"] is None else None
        if match:
            ids.add(match["id"])
    if not ids:
        return {}
    found = ScimUser.objects.filter(user__organisation=organisation, pk__in=ids).values_list(
        "pk", "user_id", "user__username"
    )
    return {f"/Users/{pk}": (user_id, username) for pk, user_id, username in found}


def _recent_failures(organisation: Organisation, *, limit: int) -> list[FailedRequest]:
    # Served by the partial index on failed requests: no scan through successful ones.
    rows = list(
        ScimRequest.objects.filter(_FAILED, organisation=organisation)
        .order_by("-created_at", "-pk")
        .values(
            "created_at", "method", "path", "status", "scim_type", "detail", "scim_user__user_id",
            "scim_user__user__username",
        )[:limit]
    )
    # A failed request may be recorded without its user; its path still names the resource.
    by_path = _user_ids_in_paths(organisation, rows)
    failures = []
    for row in rows:
        user_id, username = row["scim_user__user_id"], row["scim_user__user__username"]
        if user_id is None:
            user_id, username = by_path.get(row["path"], (None, ""))
        failures.append(
            FailedRequest(
                created_at=row["created_at"],
                method=row["method"],
                path=row["path"],
                status=row["status"],
                scim_type=row["scim_type"],
                detail=row["detail"],
                user_id=user_id,
                username=username or "",
            )
        )
    return failures


def activity_summary(*, organisation: Organisation, now: datetime | None = None) -> ActivitySummary:
    """Return the provisioning activity panel's figures for one organisation.

    Four queries, and a fifth when a recent failure names a user only by its path.
    """
    now = now or timezone.now()
    counts = _counts(organisation, now=now, periods={"day": timedelta(hours=24), "week": timedelta(days=7)})
    return ActivitySummary(
        now=now,
        provisioning_enabled=organisation.provisioning_enabled,
        last_request_at=_last_request_at(organisation),
        last_24_hours=counts["day"],
        last_7_days=counts["week"],
        hourly=_hourly(organisation, now=now),
        recent_failures=_recent_failures(organisation, limit=RECENT_FAILURES),
    )


def _is_secret(attribute: str) -> bool:
    lowered = attribute.lower()
    return any(marker in lowered for marker in _SECRET_MARKERS)


def _display(value) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _field_changes(changes) -> list[FieldChange]:
    if not isinstance(changes, dict):
        return []
    result = []
    for attribute, values in sorted(changes.items()):
        old, new = values if isinstance(values, (list, tuple)) and len(values) == 2 else (None, values)
        if _is_secret(attribute):
            result.append(FieldChange(attribute=attribute, old=HIDDEN_VALUE, new=HIDDEN_VALUE))
        else:
            result.append(FieldChange(attribute=attribute, old=_display(old), new=_display(new)))
    return result


def user_timeline(
    *, organisation: Organisation, scim_user: ScimUser, limit: int = TIMELINE_LIMIT
) -> list[TimelineEntry]:
    """Return the requests that changed a SCIM user (or failed on it), newest first."""
    labels = dict(ScimRequest.Action.choices)
    rows = (
        ScimRequest.objects.filter(Q(action__in=COUNTED_ACTIONS) | _FAILED, scim_user=scim_user)
        .filter(organisation=organisation)
        .order_by("-created_at", "-pk")
        .only("created_at", "action", "method", "status", "scim_type", "detail", "changes")[:limit]
    )
    return [
        TimelineEntry(
            created_at=row.created_at,
            action=row.action,
            action_label=labels[row.action]
            if row.action == ScimRequest.Action.HELD
            else "Failed" if row.status >= FAILED_STATUS else labels.get(row.action, row.action),
            method=row.method,
            status=row.status,
            scim_type=row.scim_type,
            detail=row.detail,
            changes=_field_changes(row.changes),
        )
        for row in rows
    ]


def organisation_status(*, organisation: Organisation, now: datetime | None = None) -> OrganisationStatus:
    """Return one organisation's provisioning state for operators (five or six queries)."""
    now = now or timezone.now()
    codes = ProvisioningCode.objects.filter(tokens.active_codes_q(now), organisation=organisation).order_by(
        "-created_at", "-pk"
    )
    return OrganisationStatus(
        now=now,
        organisation=organisation,
        codes=[
            CodeStatus(
                last_characters=code.last_characters,
                created_at=code.created_at,
                last_used_at=code.last_used_at,
                expires_at=code.expires_at,
            )
            for code in codes.only("last_characters", "created_at", "last_used_at", "expires_at")
        ],
        last_request_at=_last_request_at(organisation),
        oldest_request_at=_oldest_request_at(organisation),
        last_24_hours=_counts(organisation, now=now, periods={"day": timedelta(hours=24)})["day"],
        recent_failures=_recent_failures(organisation, limit=5),
        oauth_client=_oauth_client_status(organisation, now=now),
    )


def _oauth_client_status(organisation: Organisation, *, now: datetime) -> OAuthClientStatus | None:
    client = OAuthClient.objects.filter(organisation=organisation).first()
    if client is None:
        return None
    secrets = client.secrets.filter(active_secrets_q(now)).order_by("-created_at", "-pk")
    return OAuthClientStatus(
        client_id=client.client_id,
        application_id=str(client.application_id) if client.application_id else None,
        object_id=str(client.object_id) if client.object_id else None,
        accepts_code=client.accepts_code,
        secrets=[
            ClientSecretStatus(
                last_characters=secret.last_characters,
                created_at=secret.created_at,
                last_used_at=secret.last_used_at,
                expires_at=secret.expires_at,
                expiring=secret.expires_at - now <= SECRET_EXPIRY_WARNING,
            )
            for secret in secrets
        ],
    )
