"""Entra ID's groups listed read-only in the admin, and a person's placement on their user page."""
from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from organisations.models import Role, User
from scim_provisioning.models import ScimGroup, ScimUser
from scim_provisioning.placement.actions import placement_rules_save
from scim_provisioning.placement.rules import GROUP, RuleSpec
from tests.factories import SYSTEM, DepartmentFactory, SectionFactory, UserFactory
from tests.scim_api.conftest import BASE, USERS, entra_user

GROUPS = f"{BASE}/Groups"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin(organisation) -> Client:
    return signed_in(UserFactory(organisation=organisation, role=Role.ADMIN))


@pytest.fixture
def nurses(scim_client, organisation):
    ann = scim_client.post(USERS, entra_user("ann@contoso.com")).json()["id"]
    response = scim_client.post(GROUPS, {"displayName": "Nurses-Ward5", "externalId": "e-1", "members": [{"value": ann}]})
    group = ScimGroup.objects.get(pk=response.json()["id"])
    ward5 = DepartmentFactory(organisation=organisation, name="Ward 5")
    placement_rules_save(
        acting=SYSTEM, organisation=organisation,
        specs=[RuleSpec(GROUP, group=group, department=ward5, section=SectionFactory(department=ward5, name="Nights"))],
    )
    return group


def test_groups_are_listed_read_only_with_the_rules_that_use_them(admin, nurses, other_client):
    assert other_client.post(GROUPS, {"displayName": "Theirs"}).status_code == 201

    listing = admin.get(reverse("admin:scim_provisioning_scimgroup_changelist"))

    assert listing.status_code == 200
    rows = list(listing.context["cl"].result_list)
    assert [group.display_name for group in rows] == ["Nurses-Ward5"]
    body = listing.content.decode()
    assert "Placement rule 1" in body and "e-1" in body
    assert '<td class="field-member_count">1</td>' in body
    detail = admin.get(reverse("admin:scim_provisioning_scimgroup_change", args=[nurses.pk]))
    assert detail.status_code == 200 and 'name="display_name"' not in detail.content.decode()
    assert admin.get(reverse("admin:scim_provisioning_scimgroup_add")).status_code == 403
    theirs = ScimGroup.objects.get(display_name="Theirs")
    assert admin.get(reverse("admin:scim_provisioning_scimgroup_change", args=[theirs.pk])).status_code == 302
    delete = admin.post(reverse("admin:scim_provisioning_scimgroup_delete", args=[nurses.pk]), {"post": "yes"})
    assert delete.status_code == 403 and ScimGroup.objects.filter(pk=nurses.pk).exists()


def test_user_page_shows_the_placement_and_releases_a_move_by_hand(admin, organisation, nurses):
    ann = User.objects.get(username="ann@contoso.com")
    change_url = reverse("admin:organisations_user_change", args=[ann.pk])
    assert "Placement rule 1: member of Nurses-Ward5" in admin.get(change_url).content.decode()

    page = admin.get(change_url)
    form = page.context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name in form.fields}
    data.update(department=organisation.default_department_id, section=organisation.default_section_id, role="")
    data.update({key: "on" for key in ("is_active",)})
    moved = admin.post(change_url, {k: v for k, v in data.items() if not isinstance(v, (list, tuple))})
    assert moved.status_code == 302, moved.context and moved.context["adminform"].form.errors
    assert ScimUser.objects.get(user=ann).placement == ScimUser.Placement.BY_HAND
    body = admin.get(change_url).content.decode()
    assert "Moved by hand" in body and "Let Entra ID place this person" in body

    release_url = reverse("admin:organisations_user_placement_release", args=[ann.pk])
    assert admin.get(release_url).status_code == 405
    assert admin.post(release_url).status_code == 302
    ann.refresh_from_db()
    assert (ann.department.name, ann.section.name) == ("Ward 5", "Nights")


def test_release_is_refused_outside_reach(nurses, other_organisation):
    outsider = signed_in(UserFactory(organisation=other_organisation, role=Role.ADMIN))
    ann = User.objects.get(username="ann@contoso.com")
    response = outsider.post(reverse("admin:organisations_user_placement_release", args=[ann.pk]))
    assert response.status_code == 404
