"""Placement rules on the Azure AD page: saved with the settings, refused as form errors, reported."""
from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from organisations.models import AuditEvent, Role, User
from scim_provisioning.models import PlacementRule, ScimGroup
from tests.factories import DepartmentFactory, SectionFactory, UserFactory
from tests.scim_api.conftest import BASE, ENTERPRISE, USERS, entra_user

GROUPS = f"{BASE}/Groups"


@pytest.fixture
def admin(organisation) -> Client:
    client = Client()
    client.force_login(UserFactory(organisation=organisation, role=Role.ADMIN))
    return client


@pytest.fixture
def ward5(organisation):
    department = DepartmentFactory(organisation=organisation, name="Ward 5")
    return department, SectionFactory(department=department, name="Nights")


def page(organisation) -> str:
    return reverse("admin:organisations_organisation_azure_ad", args=[organisation.pk])


def settings_data(organisation) -> dict:
    return {
        "azure_sso_enabled": "on",
        "azure_tenant_id": str(organisation.azure_tenant_id),
        "provisioning_enabled": "on",
        "default_department": str(organisation.default_department_id),
        "default_section": str(organisation.default_section_id),
        "sign_in_domains": "",
    }


def rules_data(*rows: dict, initial: int = 0) -> dict:
    data = {"rules-TOTAL_FORMS": str(len(rows)), "rules-INITIAL_FORMS": str(initial),
            "rules-MIN_NUM_FORMS": "0", "rules-MAX_NUM_FORMS": "1000"}
    for index, row in enumerate(rows):
        for key, value in row.items():
            data[f"rules-{index}-{key}"] = str(value)
    return data


def department_rule(value, department, section, order=""):
    return {"kind": "department", "department_value": value, "department": department.pk, "section": section.pk,
            "ORDER": order}


def test_rules_are_saved_with_the_settings_and_place_people(admin, organisation, scim_client, ward5):
    department, section = ward5
    body = entra_user("ann@contoso.com")
    body[ENTERPRISE] = {"department": "Cardiology"}
    assert scim_client.post(USERS, body).status_code == 201

    response = admin.post(page(organisation), {**settings_data(organisation), **rules_data(
        department_rule("Cardiology", department, section, order=1),
        {"kind": "", "ORDER": ""},  # the blank row for another rule, left blank
    )})

    assert response.status_code == 302, response.context and response.context["rules"].errors
    rule = PlacementRule.objects.get(organisation=organisation)
    assert (rule.position, rule.condition, rule.department, rule.section) == (1, "Entra department is Cardiology", department, section)
    assert User.objects.get(username="ann@contoso.com").section == section
    followed = admin.get(page(organisation))
    messages = [str(m) for m in followed.context["messages"]]
    assert "The placement rules were saved: 1 person was placed again." in messages
    event = AuditEvent.objects.get(action="azure_ad.placement_rules")
    assert event.changes == {"Placement rules": ["(none)", "1. Entra department is Cardiology → Ward 5 / Nights"]}
    report = followed.context["report"]
    assert [(item.rule.pk, item.people) for item in report.rules] == [(rule.pk, 1)]
    assert (report.defaults, report.by_hand) == (0, 0)


def test_a_section_of_another_department_is_a_form_error_and_stores_nothing(admin, organisation, ward5):
    department, _ = ward5
    other_section = organisation.default_section  # Operations / Onboarding
    data = {**settings_data(organisation), "provisioning_enabled": "", **rules_data(
        department_rule("Cardiology", department, other_section, order=1))}

    response = admin.post(page(organisation), data)

    assert response.status_code == 200
    errors = response.context["rules"].forms[0].errors
    assert errors == {"section": ["Choose a section of the Ward 5 department."]}
    body = response.content.decode()
    assert "Please correct the errors below." in body
    assert "Choose a section of the Ward 5 department." in body
    organisation.refresh_from_db()
    assert organisation.provisioning_enabled is True  # the settings were not saved either
    assert not PlacementRule.objects.exists()


def test_repeated_rule_is_refused(admin, organisation, ward5):
    department, section = ward5
    response = admin.post(page(organisation), {**settings_data(organisation), **rules_data(
        department_rule("Cardiology", department, section, order=1),
        department_rule(" cardiology", department, section, order=2),
    )})
    assert response.context["rules"].forms[1].non_field_errors() == [
        "This rule repeats rule 1: the earlier one always matches first."
    ]
    assert not PlacementRule.objects.exists()


def test_report_lists_what_no_rule_covers_with_add_rule_links(admin, organisation, scim_client, ward5):
    for name, value in (("ann", "Radiology"), ("ben", "radiology "), ("cal", "Cardiology")):
        body = entra_user(f"{name}@contoso.com")
        body[ENTERPRISE] = {"department": value}
        assert scim_client.post(USERS, body).status_code == 201
    ann = scim_client.get(f'{USERS}?filter=userName+eq+%22ann@contoso.com%22').json()["Resources"][0]["id"]
    assert scim_client.post(GROUPS, {"displayName": "Doctors", "members": [{"value": ann}]}).status_code == 201
    doctors = ScimGroup.objects.get(display_name="Doctors")

    report = admin.get(page(organisation)).context["report"]

    assert [(item.label, item.people) for item in report.departments] == [("Radiology", 2), ("Cardiology", 1)]
    assert [(item.label, item.people) for item in report.groups] == [("Doctors", 1)]
    assert report.defaults == 3
    # One click on "Add rule" opens the page with the rule's row filled in.
    prefilled = admin.get(f"{page(organisation)}?{report.groups[0].add_query}")
    row = prefilled.context["rules"].forms[0]
    assert (row.initial["kind"], row.initial["group"], row.initial["ORDER"]) == ("group", doctors.pk, 1)
    prefilled = admin.get(f"{page(organisation)}?{report.departments[0].add_query}")
    assert prefilled.context["rules"].forms[0].initial["department_value"] == "Radiology"
    # An id that names no group of this organisation adds nothing.
    assert len(admin.get(f"{page(organisation)}?add_group=nope").context["rules"].initial) == 0


def test_another_organisations_groups_and_departments_are_not_offered(admin, organisation, other_organisation, other_client):
    assert other_client.post(GROUPS, {"displayName": "Theirs"}).status_code == 201
    theirs = ScimGroup.objects.get(display_name="Theirs")
    foreign_department = other_organisation.departments.first()
    response = admin.get(page(organisation))
    choices = response.context["rules"].forms[0].fields
    assert theirs.pk not in [value for value, _ in choices["group"].choices]
    assert foreign_department.pk not in [value for value, _ in choices["department"].choices]
    # Posting them anyway is a form error.
    response = admin.post(page(organisation), {**settings_data(organisation), **rules_data(
        {"kind": "group", "group": theirs.pk, "department": organisation.default_department_id,
         "section": organisation.default_section_id, "ORDER": 1})})
    assert response.context["rules"].forms[0].errors == {"group": ["Choose a group of this organisation."]}
