"""Nothing moves across the boundary: people Entra ID manages, departments and sections."""
from __future__ import annotations

import pytest
from django.urls import reverse

from organisations.models import AuditEvent, Department, Role, Section, User
from scim_provisioning.codes.actions import provisioning_code_issue
from scim_provisioning.models import ScimUser
from tests.admin_forms import signed_in, user_form_data
from tests.conftest import ScimClient
from tests.factories import SYSTEM, AgencyFactory, UserFactory, provisioned_organisation
from tests.scim_api.conftest import USERS, entra_user, error, patch_op

pytestmark = pytest.mark.django_db


@pytest.fixture
def agency():
    return AgencyFactory()


@pytest.fixture
def home(agency):
    return provisioned_organisation(agency=agency, name="Home")


@pytest.fixture
def away(agency):
    return provisioned_organisation(agency=agency, name="Away")


@pytest.fixture
def agency_admin(agency, home):
    return UserFactory(organisation=home, role=Role.AGENCY_ADMIN, agency=agency)


@pytest.fixture
def home_code(home):
    return ScimClient(provisioning_code_issue(acting=SYSTEM, organisation=home)[1])


@pytest.fixture
def provisioned(home_code):
    created = home_code.post(USERS, entra_user("ada@home.example"))
    assert created.status_code == 201
    return User.objects.get(scim__pk=created.json()["id"])


# --- people Entra ID manages ----------------------------------------------------------------------


def test_moving_a_provisioned_person_is_refused_until_they_are_detached(agency_admin, provisioned, away, home_code):
    client = signed_in(agency_admin)
    change_url = reverse("admin:organisations_user_change", args=[provisioned.pk])
    move = user_form_data(
        provisioned, organisation=away.pk, department=away.default_department_id, section=away.default_section_id
    )

    refused = client.post(change_url, move)

    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors["organisation"] == [
        "This person is managed by Entra ID: detach them from Entra ID before moving them to another organisation."
    ]
    assert User.objects.get(pk=provisioned.pk).organisation_id == provisioned.organisation_id

    scim_id = provisioned.scim.pk
    detached = client.post(
        reverse("admin:organisations_user_changelist"),
        {"action": "detach_from_entra", "_selected_action": [provisioned.pk]},
    )
    assert detached.status_code == 302
    assert not ScimUser.objects.filter(user=provisioned).exists()
    event = AuditEvent.objects.get(action="user.detached", target_user=provisioned)
    assert event.actor_user == agency_admin

    assert client.post(change_url, move).status_code == 302
    assert User.objects.get(pk=provisioned.pk).organisation == away
    # No link is left for the old organisation's Entra ID: the person is gone from its view.
    assert home_code.get(f"{USERS}/{scim_id}").status_code == 404
    assert home_code.get(USERS, {"filter": 'userName eq "ada@home.example"'}).json()["totalResults"] == 0
    assert home_code.post(USERS, entra_user("ada@home.example")).json()["scimType"] == "uniqueness"


def test_entra_owned_fields_are_read_only_and_no_password_can_be_set(agency_admin, provisioned):
    client = signed_in(agency_admin)
    change_url = reverse("admin:organisations_user_change", args=[provisioned.pk])

    page = client.get(change_url)
    form = page.context["adminform"].form
    assert {"username", "first_name", "last_name", "email"}.isdisjoint(form.fields)
    assert "Managed by Entra ID" in page.content.decode()
    # A crafted POST of Entra's fields changes nothing of them.
    client.post(change_url, user_form_data(provisioned, username="hacked@home.example", first_name="Hacked"))
    person = User.objects.get(pk=provisioned.pk)
    assert (person.username, person.first_name) == ("ada@home.example", "Ada")

    password = client.post(
        reverse("admin:auth_user_password_change", args=[provisioned.pk]),
        {"password1": "a-long-new-password-1", "password2": "a-long-new-password-1", "usable_password": "true"},
    )
    assert password.status_code == 302
    assert not User.objects.get(pk=provisioned.pk).has_usable_password()


def test_an_admin_deactivates_a_managed_person_at_once_but_entra_reactivates(agency_admin, provisioned, home_code):
    client = signed_in(agency_admin)
    change_url = reverse("admin:organisations_user_change", args=[provisioned.pk])

    assert client.post(change_url, user_form_data(provisioned, is_active="")).status_code == 302
    assert User.objects.get(pk=provisioned.pk).is_active is False
    assert AuditEvent.objects.filter(action="user.deactivated", target_user=provisioned, actor_user=agency_admin).exists()

    refused = client.post(change_url, user_form_data(provisioned, is_active="on"))
    assert refused.context["adminform"].form.errors["is_active"] == [
        "Entra ID deactivated this person: assign them to the application in Entra ID again to reactivate them."
    ]
    assert User.objects.get(pk=provisioned.pk).is_active is False
    reactivated = home_code.patch(
        f"{USERS}/{provisioned.scim.pk}", patch_op({"op": "Replace", "path": "active", "value": "True"})
    )
    assert reactivated.json()["active"] is True


def test_a_managed_person_cannot_be_made_an_agency_or_prompt_admin(agency_admin, provisioned, agency):
    response = signed_in(agency_admin).post(
        reverse("admin:organisations_user_change", args=[provisioned.pk]),
        user_form_data(provisioned, role=Role.AGENCY_ADMIN, agency=agency.pk),
    )

    assert response.context["adminform"].form.errors["role"] == [
        "A person Entra ID manages cannot be a Prompt Admin or an Agency Admin: detach them from Entra ID first."
    ]
    assert User.objects.get(pk=provisioned.pk).role == Role.NONE


def test_a_user_of_another_organisation_is_a_scim_404_after_a_move(agency_admin, away, home_code):
    created = home_code.post(USERS, entra_user("grace@home.example")).json()
    person = User.objects.get(scim__pk=created["id"])
    signed_in(agency_admin).post(
        reverse("admin:organisations_user_changelist"),
        {"action": "detach_from_entra", "_selected_action": [person.pk]},
    )
    User.objects.filter(pk=person.pk).update(organisation=away, department=away.default_department, section=away.default_section)

    assert home_code.patch(
        f"{USERS}/{created['id']}", patch_op({"op": "Replace", "path": "active", "value": "False"})
    ).json() == error(404, f"User {created['id']!r} not found.")
    assert User.objects.get(pk=person.pk).is_active is True


# --- departments and sections -------------------------------------------------------------------------


def department_form(department: Department, **changes) -> dict:
    return {"name": department.name, "organisation": department.organisation_id, **changes}


@pytest.mark.parametrize("role", [Role.AGENCY_ADMIN, Role.PROMPT_ADMIN])
def test_a_department_never_moves_to_another_organisation(role, agency, home, away):
    actor = UserFactory(organisation=home, role=role, agency=agency if role == Role.AGENCY_ADMIN else None)
    department = home.default_department
    client = signed_in(actor)
    url = reverse("admin:organisations_department_change", args=[department.pk])

    page = client.get(url)
    assert "organisation" not in page.context["adminform"].form.fields  # read-only once it exists
    response = client.post(url, department_form(department, organisation=away.pk, name="Renamed"))

    assert response.status_code == 302
    department.refresh_from_db()
    assert (department.organisation, department.name) == (home, "Renamed")
    assert home.users.filter(department=department).count() == User.objects.filter(department=department).count()


def test_the_department_action_refuses_a_move_from_any_channel(home, away):
    from django.core.exceptions import ValidationError

    from organisations.actions import structure_save

    department = Department.objects.get(pk=home.default_department_id)
    department.organisation = away

    with pytest.raises(ValidationError) as refused:
        structure_save(acting=SYSTEM, obj=department)

    assert refused.value.message_dict == {
        "organisation": ["A department cannot move to another organisation once it exists."]
    }
    assert Department.objects.get(pk=department.pk).organisation == home


def test_a_section_never_moves_to_another_department(home):
    admin = UserFactory(organisation=home, role=Role.ADMIN)
    section = home.default_section
    other_department = home.departments.exclude(pk=section.department_id).first()
    client = signed_in(admin)
    url = reverse("admin:organisations_section_change", args=[section.pk])

    page = client.get(url)
    assert "department" not in page.context["adminform"].form.fields
    client.post(url, {"name": section.name, "department": other_department.pk})

    assert Section.objects.get(pk=section.pk).department_id == home.default_department_id


def test_a_new_department_lands_only_in_an_organisation_in_reach(home, away):
    admin = UserFactory(organisation=home, role=Role.ADMIN)
    outside = provisioned_organisation()

    response = signed_in(admin).post(
        reverse("admin:organisations_department_add"), {"name": "Smuggled", "organisation": outside.pk}
    )

    assert response.status_code == 200
    assert not Department.objects.filter(name="Smuggled").exists()


def test_department_and_section_changes_are_recorded(home):
    admin = UserFactory(organisation=home, role=Role.ADMIN)
    client = signed_in(admin)

    client.post(reverse("admin:organisations_department_add"), {"name": "Research", "organisation": home.pk})
    research = Department.objects.get(name="Research")
    client.post(reverse("admin:organisations_section_add"), {"name": "Lab", "department": research.pk})

    events = list(AuditEvent.objects.filter(organisation=home).order_by("id").values_list("action", "target_label"))
    assert events == [("department.created", "Department Research"), ("section.created", "Section Research / Lab")]
    assert Section.objects.filter(department=research, name="Lab").exists()
