"""Writes of the mass-deactivation brake: Entra ID's deactivations counted or held, and an admin's answer.

``brake_admit`` runs inside the transaction of every deactivation Entra ID asks for (PATCH or
PUT with ``active: false``, DELETE), after the person is locked. It locks the organisation's
brake row, so the window's count is right across app processes and concurrent requests. A held
deactivation writes nothing to the person; the caller commits the hold and answers 429, which
Entra ID retries on later cycles. Only a provisioning credential is ever held: a deactivation
an admin makes in Prompt, or a command, goes straight through.

``brake_release``, ``brake_keep`` and ``brake_settings_save`` are what the Azure AD page and
``provisioning_brake`` call; each takes its actor, asks the reach rule and records an audit event.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Min, Sum
from django.utils import timezone

from organisations import roles
from organisations.access import Actor, access_organisation, reach
from organisations.audit import audit_record
from organisations.models import AuditEvent, Organisation

from ..models import BrakeMinute, DeactivationBrake, HeldDeactivation, ScimUser
from ..protocol.errors import TooManyRequestsError
from .threshold import WINDOW, Threshold

BRAKE_NAME = "Mass-deactivation brake"
# Entra ID retries a 429 on a later cycle (entra-scim.md §6, MS-LOGS "TooManyRequests:
# automatically retried"); asking for one cycle's wait gives an admin time to decide.
RETRY_AFTER_SECONDS = 40 * 60
MAX_PEOPLE_LIMIT = 100_000


class DeactivationHeldError(TooManyRequestsError):
    """Entra ID's deactivation was held by the brake: answered 429 with ``Retry-After``."""

    retry_after = RETRY_AFTER_SECONDS

    def __init__(self, *, organisation: Organisation, scim_user: ScimUser) -> None:
        super().__init__(
            "Deactivations are on hold: Entra ID asked to deactivate more people at once than this "
            f"organisation's mass-deactivation brake allows. An administrator of {organisation.name} reviews "
            "them on the Azure AD page; once released, this request succeeds when it is retried."
        )
        self.scim_user = scim_user


def _brake_locked(organisation_id: int) -> DeactivationBrake:
    """Lock the organisation's brake row, creating it (with the defaults) the first time."""
    brake = DeactivationBrake.objects.select_for_update().filter(organisation_id=organisation_id).first()
    if brake is None:
        try:
            with transaction.atomic():
                DeactivationBrake.objects.create(organisation_id=organisation_id)
        except IntegrityError:
            pass  # a concurrent request created it; the lock below waits for its transaction
        brake = DeactivationBrake.objects.select_for_update().get(organisation_id=organisation_id)
    return brake


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _window(organisation_id: int, now: datetime):
    """The minutes of the window ending now: the sixty most recent, this one included."""
    return BrakeMinute.objects.filter(organisation_id=organisation_id, minute__gt=_minute(now) - WINDOW)


def _population(brake: DeactivationBrake, threshold: Threshold, *, admitted: int, now: datetime) -> int:
    """The active provisioned people when the window opened, counted at most once a window.

    People the window deactivated were active when it opened, so they are added back; the count
    stops at the threshold's cap, beyond which only the number of people decides.
    """
    if brake.population is not None and brake.population_counted_at and now - brake.population_counted_at < WINDOW:
        return brake.population
    active = ScimUser.objects.filter(
        user__organisation_id=brake.organisation_id, user__is_active=True, deleted_at__isnull=True
    ).values("pk")[: threshold.population_cap()]
    brake.population = active.count() + admitted
    brake.population_counted_at = now
    brake.save(update_fields=["population", "population_counted_at"])
    return brake.population


def _count(organisation_id: int, now: datetime) -> None:
    """Add one deactivation to this minute's count: one statement, whether the minute's row exists or not."""
    quote = connection.ops.quote_name
    table = quote(BrakeMinute._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({quote('organisation_id')}, {quote('minute')}, {quote('deactivations')}) "
            f"VALUES (%s, %s, 1) ON CONFLICT ({quote('organisation_id')}, {quote('minute')}) "
            f"DO UPDATE SET {quote('deactivations')} = {table}.{quote('deactivations')} + 1",
            [organisation_id, _minute(now)],
        )


def brake_minutes_prune(*, before: datetime) -> int:
    """Delete the per-minute counts no window reaches any more; return how many went."""
    deleted, _ = BrakeMinute.objects.filter(minute__lt=before - WINDOW).delete()
    return deleted


def brake_admit(*, acting: Actor, scim_user: ScimUser, method: str) -> bool:
    """Count a deactivation ``acting`` asks for and return True, or hold it and return False.

    Call it inside the deactivation's transaction once the person is locked, and write nothing
    to the person when it returns False: the transaction then commits the hold alone.
    """
    if acting.kind != AuditEvent.ActorKind.CREDENTIAL:
        return True
    organisation_id = acting.organisation.pk
    brake = _brake_locked(organisation_id)
    now = timezone.now()
    open_hold = HeldDeactivation.objects.filter(
        scim_user=scim_user, status__in=[HeldDeactivation.Status.HELD, HeldDeactivation.Status.RELEASED]
    ).first()
    if not brake.enabled or (open_hold is not None and open_hold.status == HeldDeactivation.Status.RELEASED):
        # Released by an admin (or the brake switched off): Entra's retry goes through, uncounted.
        if open_hold is not None:
            HeldDeactivation.objects.filter(pk=open_hold.pk).update(status=HeldDeactivation.Status.DONE)
        return True
    if brake.engaged_at is None:
        window = _window(organisation_id, now)
        admitted = window.aggregate(total=Sum("deactivations"))["total"] or 0
        threshold = Threshold(max_people=brake.max_people, max_percent=brake.max_percent)
        population = _population(brake, threshold, admitted=admitted, now=now)
        if not threshold.holds(admitted=admitted, population=population):
            _count(organisation_id, now)
            return True
        brake.engaged_at = now
        brake.episode_started_at = window.aggregate(first=Min("minute"))["first"] or _minute(now)
        brake.episode_admitted = admitted
        brake.kept_at, brake.kept_by = None, ""
        brake.save(update_fields=["engaged_at", "episode_started_at", "episode_admitted", "kept_at", "kept_by"])
        audit_record(
            acting=acting,
            action="brake.engaged",
            organisation_id=organisation_id,
            target_label=BRAKE_NAME,
            note=f"{admitted} people were deactivated within {WINDOW.seconds // 60} minutes; further "
            "deactivations by Entra ID are held until an administrator releases them.",
        )
    if open_hold is not None:
        HeldDeactivation.objects.filter(pk=open_hold.pk).update(
            attempts=F("attempts") + 1, last_held_at=now, method=method[:8]
        )
    else:
        HeldDeactivation.objects.create(
            organisation_id=organisation_id, scim_user=scim_user, method=method[:8], first_held_at=now, last_held_at=now
        )
    return False


# --- an admin's answers ---------------------------------------------------------------------------


def _organisation_managed(acting: Actor, organisation: Organisation) -> Organisation:
    """Lock the organisation if ``acting`` may change its settings (its Admins and above, the system)."""
    if not reach(acting).allows("organisation", roles.CHANGE):
        raise PermissionDenied("You cannot change this organisation's provisioning.")
    return access_organisation(acting=acting, organisation_id=organisation.pk, for_update=True)


def _release(acting: Actor, organisation: Organisation, brake: DeactivationBrake, *, now: datetime) -> int:
    released = HeldDeactivation.objects.filter(organisation=organisation, status=HeldDeactivation.Status.HELD).update(
        status=HeldDeactivation.Status.RELEASED, released_at=now, released_by=str(acting)[:300]
    )
    brake.engaged_at = brake.episode_started_at = brake.kept_at = None
    brake.kept_by, brake.episode_admitted = "", 0
    brake.save(update_fields=["engaged_at", "episode_started_at", "episode_admitted", "kept_at", "kept_by"])
    # The window starts again: what Entra ID deactivated before the release no longer counts.
    BrakeMinute.objects.filter(organisation=organisation).delete()
    return released


@dataclass(frozen=True)
class BrakeRelease:
    """What a release did: whether the brake was holding, and how many deactivations it let go."""

    was_engaged: bool
    released: int


@transaction.atomic
def brake_release(*, acting: Actor, organisation: Organisation) -> BrakeRelease:
    """Let the held deactivations through on Entra ID's next retry, and start a new window."""
    locked = _organisation_managed(acting, organisation)
    brake = _brake_locked(locked.pk)
    was_engaged = brake.engaged_at is not None
    pending = HeldDeactivation.objects.filter(organisation=locked, status=HeldDeactivation.Status.HELD).exists()
    if not was_engaged and not pending:
        return BrakeRelease(was_engaged=False, released=0)
    released = _release(acting, locked, brake, now=timezone.now())
    noun = "deactivation goes" if released == 1 else "deactivations go"
    audit_record(
        acting=acting,
        action="brake.released",
        organisation_id=locked.pk,
        target_label=BRAKE_NAME,
        note=f"{released} held {noun} through on Entra ID's next retry; the count starts again.",
    )
    return BrakeRelease(was_engaged=was_engaged, released=released)


@transaction.atomic
def brake_keep(*, acting: Actor, organisation: Organisation) -> bool:
    """Record that an admin keeps the deactivations on hold; return False if nothing is held."""
    locked = _organisation_managed(acting, organisation)
    brake = _brake_locked(locked.pk)
    if brake.engaged_at is None:
        return False
    brake.kept_at, brake.kept_by = timezone.now(), str(acting)[:300]
    brake.save(update_fields=["kept_at", "kept_by"])
    held = HeldDeactivation.objects.filter(organisation=locked, status=HeldDeactivation.Status.HELD).count()
    audit_record(
        acting=acting,
        action="brake.kept",
        organisation_id=locked.pk,
        target_label=BRAKE_NAME,
        note=f"Deactivations stay on hold ({held} held so far).",
    )
    return True


@dataclass(frozen=True)
class BrakeSettings:
    enabled: bool
    max_people: int
    max_percent: int


def brake_settings_errors(settings: BrakeSettings) -> dict[str, list[str]]:
    """Return why these limits cannot be stored, by field."""
    errors: dict[str, list[str]] = {}
    if not 1 <= settings.max_people <= MAX_PEOPLE_LIMIT:
        errors["max_people"] = [f"Enter a number of people from 1 to {MAX_PEOPLE_LIMIT:,}."]
    if not 1 <= settings.max_percent <= 100:
        errors["max_percent"] = ["Enter a percentage from 1 to 100."]
    return errors


_LABELS = {"enabled": "Hold mass deactivations", "max_people": "Brake: people", "max_percent": "Brake: percent"}


@transaction.atomic
def brake_settings_save(*, acting: Actor, organisation: Organisation, settings: BrakeSettings) -> list[str]:
    """Store the brake's switch and limits; return the labels of what changed.

    Switching the brake off while it holds releases what it held: nothing would hold it any more.
    """
    errors = brake_settings_errors(settings)
    if errors:
        raise ValidationError(errors)
    locked = _organisation_managed(acting, organisation)
    brake = _brake_locked(locked.pk)
    changes = {}
    for name in ("enabled", "max_people", "max_percent"):
        old, new = getattr(brake, name), getattr(settings, name)
        if old != new:
            changes[_LABELS[name]] = [old, new]
            setattr(brake, name, new)
    if not changes:
        return []
    brake.save(update_fields=["enabled", "max_people", "max_percent"])
    note = ""
    if not brake.enabled and brake.engaged_at is not None:
        released = _release(acting, locked, brake, now=timezone.now())
        note = f"Switched off while holding: {released} held deactivation(s) go through on Entra ID's next retry."
    audit_record(
        acting=acting,
        action="brake.settings_changed",
        organisation_id=locked.pk,
        target_label=BRAKE_NAME,
        changes=changes,
        note=note,
    )
    return list(changes)
