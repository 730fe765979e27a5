"""Writes of the mass-deactivation brake: Entra ID's deactivations counted or held, and an admin's answer.

``brake_admit`` is the last step of every deactivation Entra ID asks for (PATCH or PUT with
``active: false``, DELETE), inside its transaction once the person's rows are written. It locks
the organisation's brake row, so the window's count is right across app processes and concurrent
requests. Every deactivation of the organisation queues for that lock, so it is taken in a short
transaction of its own (``PROVISIONING_BRAKE_DATABASE``), released once the count is written.
When it holds, it raises ``DeactivationHeldError``: the deactivation's transaction rolls back,
and the caller records the hold with ``brake_hold`` in a transaction of its own and answers 429,
which Entra ID retries on later cycles. Only a provisioning credential is ever held: a
deactivation an admin makes in Prompt, or a command, goes straight through.

``brake_release``, ``brake_keep`` and ``brake_settings_save`` are what the Azure AD page and
``provisioning_brake`` call; each takes its actor, asks the reach rule and records an audit event.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from organisations.access import Actor, access_organisation_to_change
from organisations.audit import audit_record
from organisations.models import AuditEvent, Organisation

from ..models import DeactivationBrake, HeldDeactivation, ScimUser
from ..protocol.errors import TooManyRequestsError
from .threshold import WINDOW, Threshold, window_add, window_count, window_start

BRAKE_NAME = "Mass-deactivation brake"
# Entra ID retries a 429 on a later cycle (entra-scim.md §6, MS-LOGS "TooManyRequests:
# automatically retried"); asking for one cycle's wait gives an admin time to decide.
RETRY_AFTER_SECONDS = 40 * 60
MAX_PEOPLE_LIMIT = 100_000
_OPEN = [HeldDeactivation.Status.HELD, HeldDeactivation.Status.RELEASED]


class DeactivationHeldError(TooManyRequestsError):
    """Entra ID's deactivation was held by the brake: answered 429 with ``Retry-After``.

    ``engaged`` carries what engaged the brake (the window's deactivations and its first
    minute) when this very deactivation did, so that ``brake_hold`` can record it.
    """

    retry_after = RETRY_AFTER_SECONDS

    def __init__(
        self, *, organisation: Organisation, scim_user: ScimUser, method: str, engaged: tuple[int, datetime] | None
    ) -> None:
        super().__init__(
            "Deactivations are on hold: Entra ID asked to deactivate more people at once than this "
            f"organisation's mass-deactivation brake allows. An administrator of {organisation.name} reviews "
            "them on the Azure AD page; once released, this request succeeds when it is retried."
        )
        self.organisation = organisation
        self.scim_user = scim_user
        self.method = method
        self.engaged = engaged


def _brake_locked(organisation_id: int, *, using: str = DEFAULT_DB_ALIAS) -> DeactivationBrake:
    """Lock the organisation's brake row, creating it (with the defaults) the first time."""
    brakes = DeactivationBrake.objects.using(using).select_for_update()
    brake = brakes.filter(organisation_id=organisation_id).first()
    if brake is None:
        try:
            with transaction.atomic(using=using):
                DeactivationBrake.objects.using(using).create(organisation_id=organisation_id)
        except IntegrityError:
            pass  # a concurrent request created it; the lock below waits for its transaction
        brake = brakes.get(organisation_id=organisation_id)
    return brake


def _population(
    brake: DeactivationBrake, threshold: Threshold, *, admitted: int, now: datetime, scim_user: ScimUser, was_active: bool
) -> int:
    """The active provisioned people when the window opened, counted at most once a window.

    People the window deactivated were active when it opened, so they are added back, and so is
    the person this transaction is deactivating; the count stops at the threshold's cap, beyond
    which only the number of people decides.
    """
    if brake.population is not None and brake.population_counted_at and now - brake.population_counted_at < WINDOW:
        return brake.population
    active = (
        ScimUser.objects.filter(user__organisation_id=brake.organisation_id, user__is_active=True, deleted_at__isnull=True)
        .exclude(pk=scim_user.pk)
        .values("pk")[: threshold.population_cap()]
    )
    brake.population = active.count() + admitted + int(was_active)
    brake.population_counted_at = now
    return brake.population


def brake_admit(*, acting: Actor, scim_user: ScimUser, method: str, was_active: bool = True) -> None:
    """Count a deactivation ``acting`` asks for, or raise ``DeactivationHeldError`` to hold it.

    Call it last in the deactivation's transaction, once the person is locked and written
    (``was_active``: whether they were active before); let the error roll that transaction
    back, then record the hold with ``brake_hold``.
    """
    if acting.kind != AuditEvent.ActorKind.CREDENTIAL:
        return
    organisation = acting.organisation
    # The person is locked: their open hold cannot change under us, so it is read before the brake.
    open_hold = HeldDeactivation.objects.filter(scim_user=scim_user, status__in=_OPEN).values("pk", "status").first()
    if open_hold is not None and open_hold["status"] == HeldDeactivation.Status.RELEASED:
        # Released by an admin: Entra's retry goes through, uncounted.
        HeldDeactivation.objects.filter(pk=open_hold["pk"]).update(status=HeldDeactivation.Status.DONE)
        return
    # Counted in a transaction of its own through PROVISIONING_BRAKE_DATABASE (on PostgreSQL a
    # connection whose commits do not wait for the disk): the lock is released as soon as the
    # count is written, not when the deactivation commits. Should that commit fail after all,
    # the window counts one deactivation too many, which errs on the side of holding.
    alias = settings.PROVISIONING_BRAKE_DATABASE
    # No savepoint where it nests in the deactivation's transaction: a hold rolls back both.
    with transaction.atomic(using=alias, savepoint=False):
        brake = _brake_locked(organisation.pk, using=alias)
        enabled = brake.enabled
        if enabled:
            _count_or_hold(brake, organisation=organisation, scim_user=scim_user, method=method, was_active=was_active)
            brake.save(using=alias, update_fields=["minute_counts", "population", "population_counted_at"])
    if not enabled and open_hold is not None:
        HeldDeactivation.objects.filter(pk=open_hold["pk"]).update(status=HeldDeactivation.Status.DONE)


def _count_or_hold(
    brake: DeactivationBrake, *, organisation: Organisation, scim_user: ScimUser, method: str, was_active: bool
) -> None:
    """Add the deactivation to the locked brake's window, or raise ``DeactivationHeldError``."""
    if brake.engaged_at is not None:
        raise DeactivationHeldError(organisation=organisation, scim_user=scim_user, method=method, engaged=None)
    now = timezone.now()
    admitted = window_count(brake.minute_counts, now=now)
    threshold = Threshold(max_people=brake.max_people, max_percent=brake.max_percent)
    population = _population(brake, threshold, admitted=admitted, now=now, scim_user=scim_user, was_active=was_active)
    if threshold.holds(admitted=admitted, population=population):
        raise DeactivationHeldError(
            organisation=organisation,
            scim_user=scim_user,
            method=method,
            engaged=(admitted, window_start(brake.minute_counts, now=now)),
        )
    brake.minute_counts = window_add(brake.minute_counts, now=now)


@transaction.atomic
def brake_hold(*, acting: Actor, held: DeactivationHeldError) -> None:
    """Record a deactivation the brake held, engaging the brake if this one did; its own transaction."""
    organisation_id = held.organisation.pk
    brake = _brake_locked(organisation_id)
    now = timezone.now()
    if not brake.enabled or (brake.engaged_at is None and held.engaged is None):
        # Released or switched off since this request found it holding: Entra's retry is counted afresh.
        return
    if brake.engaged_at is None:
        admitted, started = held.engaged
        brake.engaged_at = now
        brake.episode_started_at = started
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
    updated = HeldDeactivation.objects.filter(scim_user=held.scim_user, status=HeldDeactivation.Status.HELD).update(
        attempts=F("attempts") + 1, last_held_at=now, method=held.method[:8]
    )
    if not updated:
        HeldDeactivation.objects.create(
            organisation_id=organisation_id,
            scim_user=held.scim_user,
            method=held.method[:8],
            first_held_at=now,
            last_held_at=now,
        )


# --- an admin's answers ---------------------------------------------------------------------------


def _release(acting: Actor, organisation: Organisation, brake: DeactivationBrake, *, now: datetime) -> int:
    released = HeldDeactivation.objects.filter(organisation=organisation, status=HeldDeactivation.Status.HELD).update(
        status=HeldDeactivation.Status.RELEASED, released_at=now, released_by=str(acting)[:300]
    )
    brake.engaged_at = brake.episode_started_at = brake.kept_at = None
    brake.kept_by, brake.episode_admitted = "", 0
    # The window starts again: what Entra ID deactivated before the release no longer counts.
    brake.minute_counts = {}
    brake.save(
        update_fields=["engaged_at", "episode_started_at", "episode_admitted", "kept_at", "kept_by", "minute_counts"]
    )
    return released


@dataclass(frozen=True)
class BrakeRelease:
    """What a release did: whether the brake was holding, and how many deactivations it let go."""

    was_engaged: bool
    released: int


@transaction.atomic
def brake_release(*, acting: Actor, organisation: Organisation) -> BrakeRelease:
    """Let the held deactivations through on Entra ID's next retry, and start a new window."""
    locked = access_organisation_to_change(acting=acting, organisation_id=organisation.pk, for_update=True)
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
    locked = access_organisation_to_change(acting=acting, organisation_id=organisation.pk, for_update=True)
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
    locked = access_organisation_to_change(acting=acting, organisation_id=organisation.pk, for_update=True)
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
