"""The activity panel and the user timeline as rendered, and the data behind them."""
from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.template.loader import render_to_string
from pytest_django.asserts import assertInHTML

from scim_provisioning.activity.panels import (
    ACTIVITY_PANEL_TEMPLATE,
    render_user_timeline,
)
from scim_provisioning.activity.summary import (
    FieldChange,
    activity_summary,
    user_timeline,
)
from scim_provisioning.models import ScimRequest

from ..factories import UserFactory, provisioned_organisation
from .conftest import NOW
from .factories import ScimRequestFactory, ScimUserFactory

Action = ScimRequest.Action


@pytest.fixture
def ada(organisation):
    return ScimUserFactory(organisation=organisation, user__username="ada@contoso.example")


def render_panel(organisation):
    return render_to_string(ACTIVITY_PANEL_TEMPLATE, {"activity": activity_summary(organisation=organisation, now=NOW)})


@pytest.mark.django_db
def test_panel_renders_counts_chart_and_failures(organisation, ada, django_assert_max_num_queries):
    ScimRequestFactory(organisation=organisation, created_at=NOW - timedelta(minutes=25), method="GET")
    ScimRequestFactory(organisation=organisation, created_at=NOW - timedelta(hours=5), method="POST", status=201,
                       action=Action.CREATED, scim_user=ada)
    ScimRequestFactory(organisation=organisation, created_at=NOW - timedelta(days=3), method="PATCH", status=200,
                       action=Action.DEACTIVATED, scim_user=ada)
    ScimRequestFactory(organisation=organisation, created_at=NOW - timedelta(hours=1), method="PATCH",
                       path=f"/Users/{ada.pk}", status=400, scim_type="invalidValue",
                       detail="Attribute 'active' must be a boolean.", scim_user=None)

    with django_assert_max_num_queries(5):
        html = render_panel(organisation)

    assert 'id="provisioning-activity-warning"' not in html
    assertInHTML(
        """<tbody>
          <tr><th scope="row">Created</th><td class="number">1</td><td class="number">1</td></tr>
          <tr><th scope="row">Updated</th><td class="number">0</td><td class="number">0</td></tr>
          <tr><th scope="row">Deactivated</th><td class="number">0</td><td class="number">1</td></tr>
          <tr><th scope="row">Reactivated</th><td class="number">0</td><td class="number">0</td></tr>
          <tr><th scope="row">Deleted</th><td class="number">0</td><td class="number">0</td></tr>
          <tr><th scope="row">Failed requests</th><td class="number">1</td><td class="number">1</td></tr>
          <tr><th scope="row">All requests</th><td class="number">3</td><td class="number">4</td></tr>
        </tbody>""",
        html,
    )
    # One bar group per hour that had requests (08:00 UTC had two); the failure in its own colour.
    assert len(re.findall(r"<g><title>", html)) == 3
    assert len(re.findall(r'<rect class="bar-ok"', html)) == 3
    assert len(re.findall(r'<rect class="bar-failed"', html)) == 1
    assert re.search(r"<title>Thu 26 Nov 08:00 UTC: 1 succeeded, 1 failed</title>", html)
    assert re.search(r'<svg id="provisioning-activity-chart" role="img" aria-labelledby="[^"]+"', html)
    assert "3 successful and 1 failed requests; the busiest hour had 2." in html
    # The failure names the user its path requested, linked to their admin page when it exists.
    assert "<code>PATCH /Users/" + str(ada.pk) + "</code>" in html
    assert "Attribute &#x27;active&#x27; must be a boolean." in html
    assert "invalidValue" in html and ">ada@contoso.example<" in html
    # Nothing is fetched from elsewhere.
    assert not re.search(r"<script|<link|<img|https?://(?!www\.w3\.org/2000/svg)", html)


@pytest.mark.django_db
def test_panel_when_entra_has_gone_quiet(organisation):
    ScimRequestFactory(organisation=organisation, created_at=NOW - timedelta(hours=3))
    html = render_panel(organisation)
    assertInHTML(
        """<p class="activity-warning" id="provisioning-activity-warning" role="status">
        Provisioning is on, but Entra ID has not called for more than two hours (it normally calls about every 40
        minutes). Check the provisioning job's status and logs in Entra ID.</p>""",
        html,
    )
    assert '<p id="provisioning-activity-no-failures">No failed requests.</p>' in html


@pytest.mark.django_db
def test_panel_before_the_first_request(organisation):
    html = render_panel(organisation)
    assert "none yet" in html
    assert "no request from Entra ID has arrived yet" in html
    assert "0 successful and 0 failed requests" in html
    assert "<rect" not in html


@pytest.mark.django_db
def test_failures_are_linked_only_to_this_organisations_users(organisation, ada):
    stranger = ScimUserFactory(organisation=provisioned_organisation())
    for minutes, path in ((1, f"/Users/{stranger.pk}"), (2, f"/Users/{uuid.uuid4()}"), (3, f"/Users/{ada.pk}")):
        ScimRequestFactory(organisation=organisation, created_at=NOW - timedelta(minutes=minutes), method="PATCH",
                           path=path, status=404)

    failures = activity_summary(organisation=organisation, now=NOW).recent_failures

    assert [(f.user_id, f.username) for f in failures] == [(None, ""), (None, ""), (ada.user_id, ada.user.username)]


@pytest.mark.django_db
def test_timeline_lists_changes_newest_first_without_secrets(organisation, ada, django_assert_num_queries):
    other_person = ScimUserFactory(organisation=organisation)
    ScimRequestFactory(organisation=organisation, scim_user=ada, created_at=NOW - timedelta(days=2), method="POST",
                       status=201, action=Action.CREATED,
                       changes={"userName": [None, "ada@contoso.example"], "active": [None, True]})
    ScimRequestFactory(organisation=organisation, scim_user=ada, created_at=NOW - timedelta(days=1), method="GET",
                       action=Action.READ)
    ScimRequestFactory(organisation=organisation, scim_user=ada, created_at=NOW - timedelta(hours=3),
                       method="PATCH", status=200, action=Action.UPDATED,
                       changes={"title": ["Engineer", "Lead engineer"], "password": ["old-secret", "new-secret"],
                                "emails[type eq \"work\"].value": ["ada@old.example", "ada@contoso.example"]})
    ScimRequestFactory(organisation=organisation, scim_user=ada, created_at=NOW - timedelta(hours=2),
                       method="PATCH", status=400, scim_type="invalidValue", detail="Bad value.")
    ScimRequestFactory(organisation=organisation, scim_user=ada, created_at=NOW - timedelta(hours=1),
                       method="PATCH", status=200, action=Action.DEACTIVATED, changes={"active": [True, False]})
    ScimRequestFactory(organisation=organisation, scim_user=other_person, created_at=NOW, method="DELETE",
                       status=204, action=Action.DELETED)

    with django_assert_num_queries(1):
        timeline = user_timeline(organisation=organisation, scim_user=ada)

    assert [(entry.action_label, entry.method, entry.status) for entry in timeline] == [
        ("Deactivated", "PATCH", 200),
        ("Failed", "PATCH", 400),
        ("Updated", "PATCH", 200),
        ("Created", "POST", 201),
    ]
    assert timeline[0].changes == [FieldChange("active", "true", "false")]
    assert timeline[2].changes == [
        FieldChange('emails[type eq "work"].value', "ada@old.example", "ada@contoso.example"),
        FieldChange("password", "(hidden)", "(hidden)"),
        FieldChange("title", "Engineer", "Lead engineer"),
    ]
    assert timeline[3].changes == [
        FieldChange("active", "", "true"),
        FieldChange("userName", "", "ada@contoso.example"),
    ]
    # Another organisation never sees this user's requests.
    assert user_timeline(organisation=provisioned_organisation(), scim_user=ada) == []

    with django_assert_num_queries(2):
        html = render_user_timeline(user=ada.user)

    assert "secret" not in html
    assert html.count('<tr class="timeline-entry">') == 4
    assertInHTML(
        """<li><code>title</code>: <span class="value old">Engineer</span>
        <span aria-hidden="true">→</span><span class="visually-hidden">changed to</span>
        <span class="value new">Lead engineer</span></li>""",
        html,
    )
    assert '<p class="detail">Bad value.</p>' in html


@pytest.mark.django_db
def test_timeline_of_a_user_created_by_hand(organisation, django_assert_num_queries):
    user = UserFactory(organisation=organisation)
    with django_assert_num_queries(1):
        html = render_user_timeline(user=user)
    assert "Created in Prompt, not provisioned by Entra ID." in html
