"""Reads of the mass-deactivation brake, for the Azure AD page, its review list, the command and alerts."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Max, QuerySet

from organisations.models import Organisation

from ..models import DeactivationBrake, HeldDeactivation
from .threshold import DEFAULT_MAX_PEOPLE, DEFAULT_MAX_PERCENT


@dataclass(frozen=True)
class BrakeState:
    """An organisation's brake as people are shown it."""

    enabled: bool = True
    max_people: int = DEFAULT_MAX_PEOPLE
    max_percent: int = DEFAULT_MAX_PERCENT
    engaged_at: datetime | None = None
    episode_started_at: datetime | None = None
    kept_at: datetime | None = None
    kept_by: str = ""
    # People whose deactivation is held now.
    held: int = 0
    # People Entra ID tried to deactivate since the window that engaged the brake opened.
    attempted: int = 0
    last_attempt_at: datetime | None = None

    @property
    def engaged(self) -> bool:
        return self.engaged_at is not None

    @property
    def minutes(self) -> int:
        """Over how many minutes Entra ID asked for the ``attempted`` deactivations (at least 1)."""
        if self.episode_started_at is None:
            return 0
        end = max(self.last_attempt_at or self.engaged_at, self.engaged_at)
        return max(1, math.ceil((end - self.episode_started_at).total_seconds() / 60))

    @property
    def headline(self) -> str:
        """"Entra ID tried to deactivate 312 people in 14 minutes." as the banner and the email say it."""
        people = "person" if self.attempted == 1 else "people"
        minutes = "minute" if self.minutes == 1 else "minutes"
        return f"Entra ID tried to deactivate {self.attempted} {people} in {self.minutes} {minutes}."


def brake_state(*, organisation: Organisation) -> BrakeState:
    """Return the organisation's brake (two queries)."""
    brake = DeactivationBrake.objects.filter(organisation=organisation).first()
    if brake is None:
        return BrakeState()
    held = HeldDeactivation.objects.filter(organisation=organisation, status=HeldDeactivation.Status.HELD).aggregate(
        people=Count("pk"), last=Max("last_held_at")
    )
    return BrakeState(
        enabled=brake.enabled,
        max_people=brake.max_people,
        max_percent=brake.max_percent,
        engaged_at=brake.engaged_at,
        episode_started_at=brake.episode_started_at,
        kept_at=brake.kept_at,
        kept_by=brake.kept_by,
        held=held["people"],
        attempted=(brake.episode_admitted if brake.engaged_at else 0) + held["people"],
        last_attempt_at=held["last"],
    )


def held_deactivations(*, organisation: Organisation) -> QuerySet[HeldDeactivation]:
    """The deactivations held now, oldest first, with the people they concern."""
    return (
        HeldDeactivation.objects.filter(organisation=organisation, status=HeldDeactivation.Status.HELD)
        .select_related("scim_user__user")
        .order_by("first_held_at", "pk")
    )
