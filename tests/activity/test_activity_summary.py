"""The activity panel's figures, checked against figures computed independently in Python."""
from __future__ import annotations

from collections import Counter
from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from scim_provisioning.activity.summary import (
    ActivityCounts,
    HourBucket,
    activity_summary,
)
from scim_provisioning.models import ScimRequest

from .conftest import NOW
from .factories import ScimRequestFactory

Action = ScimRequest.Action
HOUR = timedelta(hours=1)


def expected_counts(rows, *, length: timedelta) -> ActivityCounts:
    window = [row for row in rows if NOW - length < row.created_at <= NOW]
    succeeded = Counter(row.action for row in window if row.status < 400)
    return ActivityCounts(
        created=succeeded[Action.CREATED],
        updated=succeeded[Action.UPDATED],
        deactivated=succeeded[Action.DEACTIVATED],
        reactivated=succeeded[Action.REACTIVATED],
        deleted=succeeded[Action.DELETED],
        failed=sum(1 for row in window if row.status >= 400),
        requests=len(window),
    )


def expected_hours(rows) -> list[HourBucket]:
    first_hour = NOW.replace(minute=0, second=0, microsecond=0) - 167 * HOUR
    tallies = [[0, 0] for _ in range(168)]
    for row in rows:
        if first_hour <= row.created_at <= NOW:
            tallies[(row.created_at - first_hour) // HOUR][row.status >= 400] += 1
    return [
        HourBucket(start=first_hour + index * HOUR, successes=ok, failures=failed)
        for index, (ok, failed) in enumerate(tallies)
    ]


def expected_failures(rows, scim_users, limit=10):
    """The latest failures, each with the user it was recorded with or whose path it requested."""
    by_path = {f"/Users/{scim_user.pk}": scim_user for scim_user in scim_users}
    failed = sorted((row for row in rows if row.status >= 400), key=lambda row: (row.created_at, row.pk), reverse=True)
    expected = []
    for row in failed[:limit]:
        concerned = row.scim_user or by_path.get(row.path)
        expected.append(
            (
                row.created_at,
                row.method,
                row.path,
                row.status,
                row.scim_type,
                row.detail,
                concerned.user_id if concerned else None,
                concerned.user.username if concerned else "",
            )
        )
    return expected


def as_tuples(failures):
    return [
        (f.created_at, f.method, f.path, f.status, f.scim_type, f.detail, f.user_id, f.username) for f in failures
    ]


@pytest.mark.django_db
def test_a_year_of_history_matches_independent_figures(year_of_history, django_assert_num_queries):
    rows = year_of_history.rows
    assert len(rows) > 20000, "the generated history should be a realistic year"

    # The fifth query finds users that failed requests name only in their path.
    with django_assert_num_queries(5):
        summary = activity_summary(organisation=year_of_history.organisation, now=NOW)

    assert summary.last_request_at == max(row.created_at for row in rows)
    assert summary.last_24_hours == expected_counts(rows, length=timedelta(hours=24))
    assert summary.last_7_days == expected_counts(rows, length=timedelta(days=7))
    assert summary.hourly == expected_hours(rows)
    assert as_tuples(summary.recent_failures) == expected_failures(rows, year_of_history.scim_users)

    # The comparison means something only if the week has every kind of figure in it.
    week = summary.last_7_days
    assert min(week.created, week.updated, week.deactivated, week.reactivated, week.failed) > 0
    assert summary.last_24_hours.requests > 0
    assert any(bucket.failures for bucket in summary.hourly)
    linked = [failure for failure in summary.recent_failures if failure.user_id]
    assert linked and len(linked) < len(summary.recent_failures)
    assert any(row.scim_user is None and row.path.startswith("/Users/") for row in rows if row.status >= 400)
    assert summary.is_quiet is False

    # The chart's hours are UTC hours whatever the site's time zone (UTC+10:30 is not a whole hour).
    with timezone.override("Australia/Adelaide"):
        assert activity_summary(organisation=year_of_history.organisation, now=NOW) == summary


@pytest.mark.django_db
def test_period_and_hour_boundaries(organisation):
    first_hour = NOW.replace(minute=0, second=0, microsecond=0) - 167 * HOUR
    create = ScimRequestFactory.create
    create(organisation=organisation, created_at=NOW, method="POST", status=201, action=Action.CREATED)
    create(organisation=organisation, created_at=NOW + timedelta(seconds=1), status=201, action=Action.CREATED)
    # Exactly 24 hours old: no longer in the last 24 hours, still in the last 7 days.
    create(organisation=organisation, created_at=NOW - timedelta(hours=24), method="PATCH", action=Action.UPDATED)
    create(organisation=organisation, created_at=NOW - timedelta(days=7), method="PATCH", action=Action.UPDATED)
    # A failed request that would have created a user counts as a failure only.
    create(organisation=organisation, created_at=NOW - HOUR, method="POST", status=409, action=Action.CREATED,
           scim_type="uniqueness", detail="A user with that userName already exists.")
    create(organisation=organisation, created_at=first_hour, method="DELETE", status=204, action=Action.DELETED)
    create(organisation=organisation, created_at=first_hour - timedelta(microseconds=1), status=500)

    summary = activity_summary(organisation=organisation, now=NOW)

    assert summary.last_24_hours == ActivityCounts(created=1, failed=1, requests=2)
    assert summary.last_7_days == ActivityCounts(created=1, updated=1, deleted=1, failed=2, requests=5)
    assert summary.last_request_at == NOW + timedelta(seconds=1)
    assert len(summary.hourly) == 168
    assert summary.hourly[0] == HourBucket(start=first_hour, successes=1, failures=0)
    assert summary.hourly[-1] == HourBucket(start=NOW.replace(minute=0, second=0, microsecond=0), successes=1)
    assert summary.hourly[-2] == HourBucket(start=NOW.replace(minute=0, second=0, microsecond=0) - HOUR, failures=1)
    assert sum(bucket.total for bucket in summary.hourly) == 4
    assert [(f.status, f.scim_type) for f in summary.recent_failures] == [(409, "uniqueness"), (500, "")]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("provisioning_enabled", "last_request_ago", "quiet"),
    [
        (True, timedelta(hours=1, minutes=59), False),
        (True, timedelta(hours=2), False),
        (True, timedelta(hours=2, seconds=1), True),
        (True, None, True),
        (False, timedelta(days=3), False),
        (False, None, False),
    ],
)
def test_quiet_warning(organisation, provisioning_enabled, last_request_ago, quiet):
    organisation.provisioning_enabled = provisioning_enabled
    organisation.save()
    if last_request_ago is not None:
        ScimRequestFactory(organisation=organisation, created_at=NOW - last_request_ago)
    assert activity_summary(organisation=organisation, now=NOW).is_quiet is quiet


@pytest.mark.django_db
def test_an_empty_history(organisation, django_assert_num_queries):
    with django_assert_num_queries(4):
        summary = activity_summary(organisation=organisation, now=NOW)
    assert summary.last_request_at is None
    assert summary.last_24_hours == summary.last_7_days == ActivityCounts()
    assert [bucket.total for bucket in summary.hourly] == [0] * 168
    assert summary.hourly[0].start.tzinfo == UTC
    assert summary.recent_failures == []
    assert summary.chart_peak == 0


@pytest.mark.django_db
def test_chart_bars_are_scaled_to_the_busiest_hour(organisation):
    current_hour = NOW.replace(minute=0, second=0, microsecond=0)
    for minute in range(3):
        ScimRequestFactory(organisation=organisation, created_at=current_hour + timedelta(minutes=minute))
    ScimRequestFactory(organisation=organisation, created_at=current_hour + timedelta(minutes=4), status=400)
    ScimRequestFactory(organisation=organisation, created_at=current_hour - HOUR, status=400)

    summary = activity_summary(organisation=organisation, now=NOW)
    bars = summary.chart_bars

    assert summary.chart_peak == 4
    assert (bars[-1].x, bars[-1].success_y, bars[-1].success_height) == (167 * 4, 15.0, 45.0)
    assert (bars[-1].failure_y, bars[-1].failure_height) == (0.0, 15.0)
    assert (bars[-2].success_height, bars[-2].failure_y, bars[-2].failure_height) == (0.0, 45.0, 15.0)
    assert all(bar.success_height == bar.failure_height == 0 for bar in bars[:-2])
    # Seven midnights; the last one's label, too close to the right edge to start there, ends at it.
    days = summary.chart_days
    assert [(day.x, day.start.day, day.anchor) for day in days] == [
        (56, 20, "start"), (152, 21, "start"), (248, 22, "start"), (344, 23, "start"), (440, 24, "start"),
        (536, 25, "start"), (632, 26, "end"),
    ]
    assert days[-1].label_x == summary.chart_width == 672
