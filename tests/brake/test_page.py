"""The brake on the Azure AD page: its banner, review list, Release, Keep holding and settings, over HTTP."""
from __future__ import annotations

import pytest
from django.urls import reverse

from organisations.models import AuditEvent, Role
from scim_provisioning.models import DeactivationBrake, HeldDeactivation
from tests.admin_forms import signed_in
from tests.factories import AgencyFactory, UserFactory

from .conftest import brake_with, deactivate

pytestmark = pytest.mark.django_db


def url(organisation, name: str = "azure_ad") -> str:
    return reverse(f"admin:organisations_organisation_{name}", args=[organisation.pk])


@pytest.fixture
def admin(organisation):
    return UserFactory(organisation=organisation, role=Role.ADMIN, first_name="Ada", last_name="Admin")


@pytest.fixture
def holding(scim_client, organisation, people):
    """The brake holds three of five deactivations."""
    brake_with(organisation, max_people=2)
    assert [deactivate(scim_client, person.pk).status_code for person in people[:5]] == [200, 200, 429, 429, 429]
    return people[2:5]


def settings_data(organisation, **brake) -> dict:
    data = {
        "azure_sso_enabled": "on",
        "azure_tenant_id": str(organisation.azure_tenant_id),
        "provisioning_enabled": "on",
        "default_department": organisation.default_department_id,
        "default_section": organisation.default_section_id,
        "brake-enabled": "on",
        "brake-max_people": "25",
        "brake-max_percent": "10",
    }
    data.update({f"brake-{key}": value for key, value in brake.items()})
    return {key: value for key, value in data.items() if value is not None}


def test_no_banner_while_nothing_is_held(admin, organisation):
    body = signed_in(admin).get(url(organisation)).content.decode()
    assert 'id="brake-banner"' not in body
    assert '<h2 id="brake-settings-heading" class="fieldset-heading">Mass-deactivation brake</h2>' in body
    assert 'name="brake-max_people" value="25"' in body and 'name="brake-max_percent" value="10"' in body


def test_the_banner_says_what_entra_tried_and_offers_review_release_and_keep(admin, organisation, holding):
    body = signed_in(admin).get(url(organisation)).content.decode()

    assert '<div class="brake-banner" id="brake-banner" role="alert"' in body
    assert "<strong>Entra ID tried to deactivate 5 people in 1 minute. Deactivations are on hold.</strong>" in body
    assert f'href="{url(organisation, "azure_ad_brake")}" id="brake-review">Review</a>' in body
    assert f'action="{url(organisation, "azure_ad_brake_release")}"' in body
    assert f'action="{url(organisation, "azure_ad_brake_keep")}"' in body


def test_review_lists_whom_the_held_deactivations_concern(admin, organisation, holding):
    body = signed_in(admin).get(url(organisation, "azure_ad_brake")).content.decode()

    assert "3 deactivations on hold" in body
    for person in holding:
        assert f"<td>{person.user.username}</td>" in body
        assert reverse("admin:organisations_user_change", args=[person.user_id]) in body
    assert body.count("PATCH active: false") == 3


def test_release_lets_them_through_on_entras_retry_with_the_admin_as_actor(admin, organisation, holding, scim_client):
    browser = signed_in(admin)

    response = browser.post(url(organisation, "azure_ad_brake_release"), follow=True)

    assert "Released: 3 held deactivations go through when Entra ID retries." in response.content.decode()
    assert 'id="brake-banner"' not in response.content.decode()
    event = AuditEvent.objects.get(action="brake.released")
    assert (event.actor_user_id, event.organisation_id) == (admin.pk, organisation.pk)
    assert [deactivate(scim_client, person.pk).status_code for person in holding] == [200, 200, 200]


def test_keep_holding_is_recorded_and_shown(admin, organisation, holding, scim_client):
    response = signed_in(admin).post(url(organisation, "azure_ad_brake_keep"), follow=True)

    body = response.content.decode()
    assert "The deactivations stay on hold until you release them." in body
    assert "Kept on hold by Ada Admin" in body and 'name="_keep"' not in body
    assert AuditEvent.objects.get(action="brake.kept").actor_user_id == admin.pk
    assert deactivate(scim_client, holding[0].pk).status_code == 429


def test_the_brakes_settings_are_saved_with_the_page_and_audited(admin, organisation):
    response = signed_in(admin).post(url(organisation), settings_data(organisation, max_people="40", max_percent="5"))

    assert response.status_code == 302
    brake = DeactivationBrake.objects.get(organisation=organisation)
    assert (brake.enabled, brake.max_people, brake.max_percent) == (True, 40, 5)
    event = AuditEvent.objects.get(action="brake.settings_changed")
    assert event.changes == {"Brake: people": [25, 40], "Brake: percent": [10, 5]}


@pytest.mark.parametrize(("field", "value"), [("max_people", "0"), ("max_percent", "101"), ("max_people", "many")])
def test_bad_limits_are_form_errors_and_store_nothing(admin, organisation, field, value):
    data = settings_data(organisation, **{field: value})
    data["azure_tenant_id"] = "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b"

    response = signed_in(admin).post(url(organisation), data)

    assert response.status_code == 200
    assert 'class="errorlist' in response.content.decode()
    assert not DeactivationBrake.objects.exists()
    organisation.refresh_from_db()
    assert str(organisation.azure_tenant_id) != "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b"


def test_switching_the_brake_off_releases_what_it_held(admin, organisation, holding, scim_client):
    signed_in(admin).post(url(organisation), settings_data(organisation, enabled=None, max_people="2"))

    assert set(HeldDeactivation.objects.values_list("status", flat=True)) == {"released"}
    assert [deactivate(scim_client, person.pk).status_code for person in holding] == [200, 200, 200]


@pytest.mark.parametrize("name", ["azure_ad_brake", "azure_ad_brake_release", "azure_ad_brake_keep"])
def test_another_organisations_admin_gets_a_404_and_changes_nothing(organisation, other_organisation, holding, name):
    outsider = signed_in(UserFactory(organisation=other_organisation, role=Role.ADMIN))

    response = outsider.post(url(organisation, name)) if name != "azure_ad_brake" else outsider.get(url(organisation, name))

    assert response.status_code == 404
    assert HeldDeactivation.objects.filter(status="held").count() == 3
    assert DeactivationBrake.objects.get(organisation=organisation).kept_at is None


def test_an_agency_admin_releases_for_the_agencys_organisation(organisation, holding):
    agency = organisation.agency or AgencyFactory()
    organisation.agency = agency
    organisation.save()
    agency_admin = UserFactory(organisation=organisation, role=Role.AGENCY_ADMIN, agency=agency)

    response = signed_in(agency_admin).post(url(organisation, "azure_ad_brake_release"))

    assert response.status_code == 302
    assert HeldDeactivation.objects.filter(status="released").count() == 3


def test_a_person_without_an_admin_role_cannot_release(organisation, holding):
    staff = signed_in(UserFactory(organisation=organisation, role=Role.NONE))

    response = staff.post(url(organisation, "azure_ad_brake_release"))

    assert response.status_code in (302, 403, 404)
    assert HeldDeactivation.objects.filter(status="held").count() == 3


def test_release_and_keep_need_a_post(admin, organisation, holding):
    browser = signed_in(admin)
    assert browser.get(url(organisation, "azure_ad_brake_release")).status_code == 405
    assert browser.get(url(organisation, "azure_ad_brake_keep")).status_code == 405
    assert HeldDeactivation.objects.filter(status="held").count() == 3


def test_another_organisations_admin_cannot_check_this_organisations_connection(organisation, other_organisation):
    outsider = signed_in(UserFactory(organisation=other_organisation, role=Role.ADMIN))
    assert outsider.post(url(organisation, "azure_ad_check")).status_code == 404


def test_an_agency_admin_of_another_agency_gets_a_404(organisation, holding):
    other_agency = AgencyFactory()
    outsider = signed_in(
        UserFactory(organisation=None, role=Role.AGENCY_ADMIN, agency=other_agency)
    )
    assert outsider.post(url(organisation, "azure_ad_brake_release")).status_code == 404
    assert HeldDeactivation.objects.filter(status="held").count() == 3


def test_the_connection_check_is_shown_on_the_page_it_answers(admin, organisation, provisioning_code):
    response = signed_in(admin).post(url(organisation, "azure_ad_check"))

    body = response.content.decode()
    assert response.status_code == 200
    assert "Every check passed: Entra ID's Test Connection would succeed." in body
    assert body.count('class="check-step step-passed"') == 5
