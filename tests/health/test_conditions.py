"""health_conditions: each problem on and off at its boundaries, with the exact sentence an Admin reads."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from scim_provisioning.brake.selectors import brake_state
from scim_provisioning.health.conditions import HealthCondition, health_conditions
from scim_provisioning.models import DeactivationBrake, HeldDeactivation, ScimRequest
from tests.activity.factories import scim_users_bulk
from tests.brake.conftest import brake_with, entra_deactivates

from ..factories import provisioned_organisation
from .conftest import NOW, ago, code_at, requests_at, secret_at

Action = ScimRequest.Action
SILENCE = "Entra ID has stopped calling"
FAILURES = "Many requests failed"
BRAKE = "Deactivations are on hold"
CODE_AGE = "The code in use is old"

QUARANTINE = (
    "Check the provisioning job in Entra ID: it may be in quarantine, or its credential may have been revoked."
)
NEVER_CALLED = (
    "Check that the provisioning job in Entra ID is started and that its Tenant URL and Secret Token are the "
    "ones on the Azure AD page."
)


def silence(detail: str) -> list[HealthCondition]:
    return [HealthCondition(kind="silence", title=SILENCE, detail=detail)]


# --- silence ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("last_request", "expected"),
    [
        (timedelta(hours=3), []),
        (
            timedelta(hours=3, microseconds=1),
            silence(f"Provisioning is on, but Entra ID has not called for 3 hours (since 2026-12-02 16:03 UTC). {QUARANTINE}"),
        ),
        (
            timedelta(hours=47, minutes=59),
            silence(f"Provisioning is on, but Entra ID has not called for 47 hours (since 2026-11-30 19:04 UTC). {QUARANTINE}"),
        ),
        (
            timedelta(days=9, hours=5),
            silence(f"Provisioning is on, but Entra ID has not called for 9 days (since 2026-11-23 14:03 UTC). {QUARANTINE}"),
        ),
    ],
    ids=["exactly-3-hours", "just-past-3-hours", "hours", "days"],
)
def test_silence_counts_from_the_newest_request(organisation, last_request, expected):
    code_at(organisation, created_at=ago(days=30), last_used_at=NOW - last_request)
    # Older requests, and another organisation's recent ones, do not matter.
    requests_at(organisation, NOW - last_request - timedelta(hours=5), count=3)
    requests_at(organisation, NOW - last_request)
    requests_at(provisioned_organisation(), NOW)

    assert health_conditions(organisation=organisation, now=NOW) == expected


def test_a_held_deactivation_is_a_call_too(organisation):
    requests_at(organisation, ago(hours=5))
    requests_at(organisation, ago(hours=1), status=429, action=Action.HELD)

    assert health_conditions(organisation=organisation, now=NOW) == []


def test_silence_before_the_first_call_counts_from_the_first_active_credential(organisation):
    assert health_conditions(organisation=organisation, now=NOW) == [], "no credential: nothing to wait for"

    code_at(organisation, created_at=ago(days=20), revoked_at=ago(days=10))
    code_at(organisation, created_at=ago(days=21), expires_at=ago(days=1))
    secret_at(organisation, created_at=ago(days=30), expires_at=ago(days=2))
    secret_at(organisation, created_at=ago(days=30), expires_at=NOW + timedelta(days=300), revoked_at=ago(days=3))
    assert health_conditions(organisation=organisation, now=NOW) == [], "revoked or ended credentials do not count"

    code_at(organisation, created_at=ago(hours=3))
    assert health_conditions(organisation=organisation, now=NOW) == []

    secret_at(organisation, created_at=ago(hours=3, seconds=1), expires_at=NOW + timedelta(days=300))
    assert health_conditions(organisation=organisation, now=NOW) == silence(
        "Provisioning is on, but Entra ID has not called since its credential was issued 3 hours ago "
        f"(2026-12-02 16:03 UTC). {NEVER_CALLED}"
    )

    code_at(organisation, created_at=ago(days=4, hours=2), expires_at=NOW + timedelta(hours=1))
    assert health_conditions(organisation=organisation, now=NOW) == silence(
        "Provisioning is on, but Entra ID has not called since its credential was issued 4 days ago "
        f"(2026-11-28 17:03 UTC). {NEVER_CALLED}"
    )


# --- failures -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("succeeded", "failed", "held", "expected"),
    [
        (4, 1, 0, None),
        (7, 2, 0, "2 of the 9 requests Entra ID made in the last 60 minutes failed (22 %)."),
        (0, 4, 0, None),
        (0, 5, 0, "5 of the 5 requests Entra ID made in the last 60 minutes failed (100 %)."),
        # Held deactivations are answered 429 by design: counted, they would make 11 of 15.
        (4, 1, 10, None),
        (3, 2, 10, "2 of the 5 requests Entra ID made in the last 60 minutes failed (40 %)."),
    ],
    ids=["20-percent", "just-above-20-percent", "fewer-than-5", "5-all-failed", "held-excluded", "held-excluded-failing"],
)
def test_failures_of_the_last_hour(organisation, succeeded, failed, held, expected):
    requests_at(organisation, ago(minutes=59, seconds=59), count=succeeded)
    requests_at(organisation, ago(minutes=30), count=failed, status=409, action=Action.NONE)
    requests_at(organisation, ago(minutes=1), count=held, status=429, action=Action.HELD)
    # Outside the hour (exactly 60 minutes ago is outside), or another organisation's.
    requests_at(organisation, ago(minutes=60), count=10, status=500, action=Action.NONE)
    requests_at(provisioned_organisation(), NOW, count=10, status=500, action=Action.NONE)

    found = health_conditions(organisation=organisation, now=NOW)
    if expected is None:
        assert found == []
    else:
        detail = f"{expected} The Azure AD page lists the recent failures and what went wrong."
        assert found == [HealthCondition(kind="failures", title=FAILURES, detail=detail)]


def test_requests_after_now_are_not_counted(organisation):
    requests_at(organisation, ago(minutes=5))
    requests_at(organisation, NOW + timedelta(seconds=1), count=10, status=500, action=Action.NONE)

    assert health_conditions(organisation=organisation, now=NOW) == []


# --- brake --------------------------------------------------------------------------------------

HOLD_ADVICE = "Deactivations are on hold: review them on the Azure AD page, then release them or keep them on hold."


@pytest.mark.parametrize(
    ("enabled", "engaged", "expected"),
    [
        (True, True, f"Entra ID tried to deactivate 37 people in 14 minutes. {HOLD_ADVICE}"),
        (False, True, None),
        (True, False, None),
    ],
    ids=["engaged", "engaged-but-switched-off", "not-engaged"],
)
def test_brake(organisation, enabled, engaged, expected):
    requests_at(organisation, ago(minutes=1))
    people = scim_users_bulk(organisation=organisation, count=12)
    DeactivationBrake.objects.create(
        organisation=organisation,
        enabled=enabled,
        engaged_at=ago(minutes=2) if engaged else None,
        episode_started_at=ago(minutes=14) if engaged else None,
        episode_admitted=25 if engaged else 0,
    )
    HeldDeactivation.objects.bulk_create(
        HeldDeactivation(
            organisation=organisation, scim_user=person, method="PATCH", first_held_at=ago(minutes=2), last_held_at=NOW
        )
        for person in people
    )

    expected_conditions = [HealthCondition(kind="brake", title=BRAKE, detail=expected)] if expected else []
    assert health_conditions(organisation=organisation, now=NOW) == expected_conditions


def test_no_brake_row_is_a_brake_that_holds_nothing(organisation):
    requests_at(organisation, ago(minutes=1))

    assert health_conditions(organisation=organisation, now=NOW) == []


def test_the_brake_engaged_by_entra_deactivations(organisation):
    now = timezone.now()
    requests_at(organisation, now)
    people = scim_users_bulk(organisation=organisation, count=40)
    brake_with(organisation, max_people=3, max_percent=50)
    assert entra_deactivates(organisation, people[:6]) == [True, True, True, False, False, False]

    state = brake_state(organisation=organisation)
    assert (state.attempted, state.held) == (6, 3)
    assert health_conditions(organisation=organisation, now=now) == [
        HealthCondition(kind="brake", title=BRAKE, detail=f"{state.headline} {HOLD_ADVICE}")
    ]


# --- code age -----------------------------------------------------------------------------------

ROTATE = (
    "Rotate it: generate a new code on the Azure AD page and paste it into Entra ID as the Secret Token."
)


@pytest.mark.parametrize(
    ("age", "used", "changes", "expected"),
    [
        (timedelta(days=365), True, {}, None),
        (
            timedelta(days=365, seconds=1),
            True,
            {},
            (
                "The Provisioning Authentication Code ending …k9Qz was created 365 days ago (2025-12-02) and Entra ID "
                f"still uses it (last used 2026-12-02 18:53 UTC). {ROTATE}"
            ),
        ),
        (
            timedelta(days=500),
            True,
            {},
            (
                "The Provisioning Authentication Code ending …k9Qz was created 500 days ago (2025-07-20) and Entra ID "
                f"still uses it (last used 2026-12-02 18:53 UTC). {ROTATE}"
            ),
        ),
        (timedelta(days=500), False, {}, None),
        (timedelta(days=500), True, {"revoked_at": ago(days=1)}, None),
        # A newer code has been issued: rotating is under way until this one's grace period ends.
        (timedelta(days=500), True, {"expires_at": NOW + timedelta(hours=3)}, None),
    ],
    ids=["exactly-365-days", "just-past-365-days", "500-days", "never-used", "revoked", "superseded"],
)
def test_code_age(organisation, age, used, changes, expected):
    requests_at(organisation, ago(minutes=10))
    code_at(organisation, created_at=ago(days=10), last_used_at=ago(minutes=10), ending="n3wC")
    code_at(organisation, created_at=NOW - age, last_used_at=ago(minutes=10) if used else None, **changes)

    expected_conditions = [HealthCondition(kind="code_age", title=CODE_AGE, detail=expected)] if expected else []
    assert health_conditions(organisation=organisation, now=NOW) == expected_conditions


def test_the_oldest_code_in_use_is_named(organisation):
    requests_at(organisation, ago(minutes=10))
    code_at(organisation, created_at=ago(days=400), last_used_at=ago(days=30), ending="mid1")
    code_at(organisation, created_at=ago(days=420), last_used_at=ago(days=2), ending="old1")
    code_at(organisation, created_at=ago(days=800), ending="unus")

    [condition] = health_conditions(organisation=organisation, now=NOW)
    assert condition.detail.startswith(
        "The Provisioning Authentication Code ending …old1 was created 420 days ago (2025-10-08) and Entra ID "
        "still uses it (last used 2026-11-30 19:03 UTC)."
    )


# --- together -----------------------------------------------------------------------------------


def engaged_brake(organisation) -> None:
    DeactivationBrake.objects.create(
        organisation=organisation, engaged_at=ago(hours=5), episode_started_at=ago(hours=5, minutes=3), episode_admitted=30
    )


def test_failures_brake_and_code_age_at_once_in_kind_order(organisation, django_assert_num_queries):
    requests_at(organisation, ago(minutes=30), count=5, status=500, action=Action.NONE)
    code_at(organisation, created_at=ago(days=400), last_used_at=ago(minutes=30))
    engaged_brake(organisation)

    # The codes, the newest request, the hour's counts, the brake and its held people.
    with django_assert_num_queries(5):
        found = health_conditions(organisation=organisation, now=NOW)

    assert [condition.kind for condition in found] == ["failures", "brake", "code_age"]


def test_silence_brake_and_code_age_at_once_in_kind_order(organisation, django_assert_num_queries):
    code_at(organisation, created_at=ago(days=400), last_used_at=ago(hours=4))
    engaged_brake(organisation)

    # As above, and the client secrets, since Entra ID has never called.
    with django_assert_num_queries(6):
        found = health_conditions(organisation=organisation, now=NOW)

    assert [condition.kind for condition in found] == ["silence", "brake", "code_age"]


def test_an_organisation_without_provisioning_has_no_problems_and_costs_no_query(organisation, django_assert_num_queries):
    code_at(organisation, created_at=ago(days=400), last_used_at=ago(hours=4))
    engaged_brake(organisation)
    organisation.provisioning_enabled = False
    organisation.save()

    with django_assert_num_queries(0):
        assert health_conditions(organisation=organisation, now=NOW) == []
