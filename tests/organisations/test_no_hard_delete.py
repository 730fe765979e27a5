"""No admin page deletes a person: users are deactivated, and whatever holds them is protected."""
from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from organisations.models import Department, Organisation, Role, Section, User
from tests.factories import UserFactory, provisioned_organisation

pytestmark = pytest.mark.django_db


@pytest.fixture
def organisation() -> Organisation:
    return provisioned_organisation()


@pytest.fixture
def person(organisation) -> User:
    return UserFactory(
        organisation=organisation,
        department=organisation.default_department,
        section=organisation.default_section,
        username="person@contoso.com",
    )


def _admin_client(role: str, organisation: Organisation) -> Client:
    actor = UserFactory(organisation=organisation, role=role, agency=organisation.agency)
    client = Client()
    client.force_login(actor)
    return client


@pytest.mark.parametrize("role", [Role.PROMPT_ADMIN, Role.AGENCY_ADMIN, Role.ADMIN])
def test_no_role_can_delete_a_user(role, organisation, person):
    client = _admin_client(role, organisation)
    delete_url = reverse("admin:organisations_user_delete", args=[person.pk])

    assert client.get(delete_url).status_code == 403
    assert client.post(delete_url, {"post": "yes"}).status_code == 403

    changelist = reverse("admin:organisations_user_changelist")
    response = client.get(changelist)
    assert response.status_code == 200
    assert "delete_selected" not in response.content.decode()
    client.post(changelist, {"action": "delete_selected", "_selected_action": [person.pk], "post": "yes"})

    # The change page offers no delete link either; deactivation is the way out.
    change = client.get(reverse("admin:organisations_user_change", args=[person.pk]))
    assert change.status_code == 200
    assert delete_url not in change.content.decode()
    assert User.objects.filter(pk=person.pk).exists()


def test_deactivation_and_reactivation_in_the_admin_keep_the_person_and_their_place(organisation, person):
    department = organisation.departments.exclude(pk=organisation.default_department_id).first()
    section = Section.objects.create(department=department, name="Audit")
    User.objects.filter(pk=person.pk).update(department=department, section=section)
    client = _admin_client(Role.ADMIN, organisation)
    url = reverse("admin:organisations_user_change", args=[person.pk])
    form = {
        "username": person.username,
        "first_name": "Pat",
        "last_name": "Person",
        "email": "pat@contoso.com",
        "organisation": organisation.pk,
        "department": department.pk,
        "section": section.pk,
        "role": "",
    }

    assert client.post(url, form).status_code == 302  # is_active unticked
    deactivated = User.objects.get(pk=person.pk)
    assert client.post(url, {**form, "is_active": "on"}).status_code == 302
    reactivated = User.objects.get(pk=person.pk)

    assert deactivated.is_active is False
    assert reactivated.is_active is True
    for state in (deactivated, reactivated):
        assert (state.username, state.first_name, state.email) == (person.username, "Pat", "pat@contoso.com")
        assert (state.organisation, state.department, state.section) == (organisation, department, section)


@pytest.mark.parametrize("model", [Organisation, Department, Section])
def test_deleting_what_holds_users_deletes_no_user(model, organisation, person):
    client = _admin_client(Role.PROMPT_ADMIN, organisation)
    target = {Organisation: organisation, Department: person.department, Section: person.section}[model]
    url = reverse(f"admin:organisations_{model._meta.model_name}_delete", args=[target.pk])

    response = client.post(url, {"post": "yes"})

    # The admin explains what protects the object instead of deleting it.
    assert response.status_code == 200
    assert response.context["title"] == f"Cannot delete {model._meta.verbose_name}"
    assert any(person.username in str(item) for item in response.context["protected"])
    assert model.objects.filter(pk=target.pk).exists()
    assert User.objects.filter(pk=person.pk).exists()
