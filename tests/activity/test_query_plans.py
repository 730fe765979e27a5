"""Every activity query can be served by an index of the request log (PostgreSQL plans)."""
from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from scim_provisioning.activity.summary import activity_summary, user_timeline
from scim_provisioning.models import ScimRequest

from ..factories import OrganisationFactory
from .conftest import NOW
from .factories import ScimUserFactory

TABLE = ScimRequest._meta.db_table


def plans_of(queries) -> list[tuple[str, str]]:
    """EXPLAIN each captured query touching the log, with sequential scans priced out of the running."""
    plans = []
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for query in queries:
            if TABLE not in query["sql"]:
                continue
            cursor.execute("EXPLAIN " + query["sql"])
            plans.append((query["sql"], "\n".join(row[0] for row in cursor.fetchall())))
    return plans


@pytest.fixture
def history(organisation):
    """A year of requests, an hour apart, for two organisations; statistics refreshed so the
    planner sees a log where a week is a small slice of an organisation's history."""
    other = OrganisationFactory()
    person = ScimUserFactory(organisation=organisation)
    ScimRequest.objects.bulk_create(
        ScimRequest(
            organisation=org,
            created_at=NOW - timedelta(hours=hours),
            method="PATCH",
            path="/Users/x",
            status=400 if hours % 50 == 0 else 200,
            action="updated",
            scim_user=person if org == organisation and hours % 10 == 0 else None,
        )
        for hours in range(365 * 24)
        for org in (organisation, other)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {TABLE}")
    return person


@pytest.mark.postgres
@pytest.mark.django_db
def test_panel_queries_use_the_organisation_time_indexes(organisation, history):
    with CaptureQueriesContext(connection) as captured:
        activity_summary(organisation=organisation, now=NOW)

    plans = plans_of(captured.captured_queries)

    assert len(plans) == 4
    for sql, plan in plans:
        assert f"Seq Scan on {TABLE}" not in plan, (sql, plan)
    counts, last_request, chart, failures = (plan for sql, plan in plans)
    # A week's range of one organisation, from either (organisation, created_at, ...) index; once
    # autovacuum has marked the pages all-visible, the covering one answers without the table.
    week_range = re.compile(
        r"(Index|Index Only|Bitmap Index) Scan on scimrequest_org_(time|activity)_idx.*\n\s+Index Cond: "
        r"\(\(organisation_id = \d+\) AND \(created_at >=? '[^']+'::timestamp with time zone\) AND \(created_at <= "
    )
    assert week_range.search(counts.replace("using ", "on ")), counts
    assert week_range.search(chart.replace("using ", "on ")), chart
    backwards = re.compile(r"Index (Only )?Scan Backward using scimrequest_org_(time|activity)_idx")
    assert backwards.search(last_request), last_request
    assert "Index Scan Backward using scimrequest_org_failed_idx" in failures, failures


@pytest.mark.postgres
@pytest.mark.django_db
def test_timeline_query_uses_the_user_time_index(organisation, history):
    with CaptureQueriesContext(connection) as captured:
        user_timeline(organisation=organisation, scim_user=history)

    [(sql, plan)] = plans_of(captured.captured_queries)
    # Either index on the user (the composite one or the foreign key's) bounds it to their rows.
    assert f"Seq Scan on {TABLE}" not in plan, plan
    assert re.search(r"Index Cond: \(scim_user_id = ", plan), plan


@pytest.mark.postgres
@pytest.mark.django_db
def test_prune_batches_use_the_organisation_time_index(organisation, history):
    with CaptureQueriesContext(connection) as captured:
        # A daily run finds about a day of expired rows: a sliver of each organisation's history.
        call_command("prune_provisioning_activity", "--older-than", "360", stdout=StringIO())

    plans = plans_of(captured.captured_queries)

    assert len(plans) == 2  # 120 old rows in each organisation: one batch each.
    for sql, plan in plans:
        assert sql.startswith("DELETE") and f"Seq Scan on {TABLE}" not in plan, plan
        assert re.search(r"Index Cond: \(\(organisation_id = \d+\) AND \(created_at < ", plan), plan
        assert re.search(r"Index Cond: \(id = ", plan), plan
