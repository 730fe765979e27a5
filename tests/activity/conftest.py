"""Fixtures for provisioning activity: a fixed clock and a year of history."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from organisations.models import Organisation
from scim_provisioning.models import ScimRequest, ScimUser

from ..factories import provisioned_organisation
from .factories import scim_users_bulk, year_of_activity

# A fixed "now" with odd minutes and microseconds so period and hour boundaries are exercised.
NOW = datetime(2026, 11, 26, 9, 17, 30, 250000, tzinfo=UTC)


@dataclass
class YearOfActivity:
    organisation: Organisation
    scim_users: list[ScimUser]
    rows: list[ScimRequest]


@pytest.fixture
def year_of_history(organisation) -> YearOfActivity:
    """A year of Entra ID traffic for ``organisation`` (tens of thousands of rows) plus another
    organisation's recent traffic, which must never be counted."""
    scim_users = scim_users_bulk(organisation=organisation, count=300)
    rows = year_of_activity(organisation=organisation, scim_users=scim_users, now=NOW, seed=20261126)
    other = provisioned_organisation()
    other_users = scim_users_bulk(organisation=other, count=20, prefix="other")
    noise = year_of_activity(organisation=other, scim_users=other_users, now=NOW, seed=7, days=10, initial_users=50)
    ScimRequest.objects.bulk_create(rows, batch_size=2000)
    ScimRequest.objects.bulk_create(noise, batch_size=2000)
    if rows[0].pk is None:  # Back-ends that cannot return ids from a bulk insert.
        rows = list(ScimRequest.objects.filter(organisation=organisation).order_by("pk"))
    return YearOfActivity(organisation=organisation, scim_users=scim_users, rows=rows)
