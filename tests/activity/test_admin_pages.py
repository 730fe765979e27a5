"""The activity panel on the Azure AD page and the timeline on a user's change page, over HTTP."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from organisations.models import Role
from scim_provisioning.models import ScimRequest

from ..factories import UserFactory, provisioned_organisation
from .factories import (
    ScimRequestFactory,
    ScimUserFactory,
    scim_users_bulk,
    year_of_activity,
)

Action = ScimRequest.Action

# Every query the Azure AD page makes with the panel, whatever the history's size: session, user,
# organisation, the form's current defaults, sign-in domains and choices, codes and last reveal,
# the recent changes, the OAuth client and its secrets, and the panel's four (five when a failure
# names its user only by path); the placement rules' rows and the choices of their selects (four),
# and their report (four); the brake (one, two while it holds), the health conditions that
# share it (three or four: codes, Entra's last request, the first secret when it never called,
# the hour's failures) and the open alerts of the problems found (one).
PAGE_QUERIES = 33


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def azure_ad_url(organisation) -> str:
    return reverse("admin:organisations_organisation_azure_ad", args=[organisation.pk])


def test_azure_ad_page_shows_the_panel_in_a_bounded_number_of_queries(organisation, provisioning_code):
    admin = signed_in(UserFactory(organisation=organisation, role=Role.ADMIN))

    with CaptureQueriesContext(connection) as empty:
        response = admin.get(azure_ad_url(organisation))
    assert response.status_code == 200
    assert response.context["activity"].last_request_at is None
    assert '<h2 id="provisioning-activity-heading">Provisioning activity</h2>' in response.content.decode()

    now = timezone.now()
    scim_users = scim_users_bulk(organisation=organisation, count=200)
    rows = year_of_activity(organisation=organisation, scim_users=scim_users, now=now, seed=4)
    ScimRequest.objects.bulk_create(rows, batch_size=2000)

    with CaptureQueriesContext(connection) as year:
        response = admin.get(azure_ad_url(organisation))
    assert response.status_code == 200
    activity = response.context["activity"]
    assert activity.last_request_at == max(row.created_at for row in rows)
    assert activity.last_7_days.requests == sum(1 for row in rows if now - timedelta(days=7) < row.created_at)
    body = response.content.decode()
    assert f'<td class="number">{activity.last_7_days.requests}</td>' in body

    assert len(empty.captured_queries) <= PAGE_QUERIES
    assert len(year.captured_queries) <= PAGE_QUERIES
    # A year of history costs at most the one extra lookup of users named by failed requests' paths.
    assert len(year.captured_queries) - len(empty.captured_queries) <= 1


def test_user_change_page_shows_the_timeline_to_admins_who_may_see_the_user(organisation):
    person = ScimUserFactory(organisation=organisation, user__username="grace@contoso.example")
    ScimRequestFactory(
        organisation=organisation, scim_user=person, created_at=timezone.now() - timedelta(hours=1),
        method="PATCH", status=200, action=Action.UPDATED, changes={"title": ["Analyst", "Rear Admiral"]},
    )
    url = reverse("admin:organisations_user_change", args=[person.user_id])

    response = signed_in(UserFactory(organisation=organisation, role=Role.ADMIN)).get(url)

    assert response.status_code == 200
    body = response.content.decode()
    assert '<div id="provisioning-timeline">' in body
    assert '<span class="value old">Analyst</span>' in body and '<span class="value new">Rear Admiral</span>' in body

    outsider = UserFactory(organisation=provisioned_organisation(), role=Role.ADMIN)
    response = signed_in(outsider).get(url, follow=True)
    assert "Rear Admiral" not in response.content.decode()
    assert response.status_code in (403, 404) or response.redirect_chain


@pytest.mark.django_db
def test_user_add_page_has_no_timeline(organisation):
    response = signed_in(UserFactory(organisation=organisation, role=Role.ADMIN)).get(
        reverse("admin:organisations_user_add")
    )
    assert response.status_code == 200
    assert "provisioning-timeline" not in response.content.decode()
