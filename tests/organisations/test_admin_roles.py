"""The admin, scoped by role: who sees, changes and chooses what."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib import admin
from django.contrib.auth.models import AnonymousUser
from django.test import Client, RequestFactory
from django.urls import reverse

from organisations.models import Department, Organisation, Role, Section, User
from scim_provisioning.codes import actions as scim_services
from scim_provisioning.models import ProvisioningCodeReveal, ScimUser
from tests.admin_forms import user_form_data
from tests.factories import (
    SYSTEM,
    TEST_PASSWORD,
    AgencyFactory,
    UserFactory,
    provisioned_organisation,
)

pytestmark = pytest.mark.django_db


@dataclass
class World:
    own: Organisation  # the Admin's organisation, in the Agency Admin's agency
    sibling: Organisation  # another organisation of the same agency
    foreign: Organisation  # an organisation of another agency
    actors: dict[str, User | None]
    codes: dict[str, int]  # organisation slug -> id of its active code
    plaintexts: dict[str, str]


@pytest.fixture
def world() -> World:
    agency, other_agency = AgencyFactory(), AgencyFactory()
    own = provisioned_organisation(agency=agency, name="Own Organisation")
    sibling = provisioned_organisation(agency=agency, name="Sibling Organisation")
    foreign = provisioned_organisation(agency=other_agency, name="Foreign Organisation")
    codes, plaintexts = {}, {}
    for organisation in (own, sibling, foreign):
        code, plaintext = scim_services.provisioning_code_issue(acting=SYSTEM, organisation=organisation)
        codes[organisation.slug], plaintexts[organisation.slug] = code.pk, plaintext
        # Someone to find in each organisation's user list.
        UserFactory(organisation=organisation, username=f"member@{organisation.slug}.example")
    plain = UserFactory(organisation=own)
    # is_staff set behind the role's back must not open the admin.
    User.objects.filter(pk=plain.pk).update(is_staff=True, is_superuser=True)
    actors = {
        "prompt_admin": UserFactory(organisation=foreign, role=Role.PROMPT_ADMIN),
        "agency_admin": UserFactory(organisation=own, role=Role.AGENCY_ADMIN, agency=agency),
        "admin": UserFactory(organisation=own, role=Role.ADMIN),
        "plain_staff_user": User.objects.get(pk=plain.pk),
        "anonymous": None,
    }
    return World(own, sibling, foreign, actors, codes, plaintexts)


# Which organisations each role administers: the role x organisation matrix.
ACCESS = {
    "prompt_admin": {"own": True, "sibling": True, "foreign": True},
    "agency_admin": {"own": True, "sibling": True, "foreign": False},
    "admin": {"own": True, "sibling": False, "foreign": False},
    "plain_staff_user": {"own": False, "sibling": False, "foreign": False},
    "anonymous": {"own": False, "sibling": False, "foreign": False},
}
ADMIN_ROLES = {"prompt_admin", "agency_admin", "admin"}
MATRIX = [(actor, target) for actor in ACCESS for target in ("own", "sibling", "foreign")]


def _client(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _model_admin(model):
    return admin.site.get_model_admin(model)


def _request(user: User | None):
    request = RequestFactory().get("/admin/")
    request.user = user or AnonymousUser()
    return request


@pytest.mark.parametrize(("actor", "target"), MATRIX)
def test_role_organisation_matrix(world, actor, target):
    user = world.actors[actor]
    organisation: Organisation = getattr(world, target)
    allowed = ACCESS[actor][target]
    uses_admin = actor in ADMIN_ROLES
    client = _client(user)
    login_url = reverse("admin:login")

    # Changelist visibility.
    response = client.get(reverse("admin:organisations_organisation_changelist"))
    if uses_admin:
        assert response.status_code == 200
        listed = set(response.context["cl"].result_list)
        assert (organisation in listed) is allowed
    else:
        assert response.status_code == 302
        assert response["Location"].startswith(login_url)

    # The change page: out of scope is "does not exist", like the admin does for missing objects.
    response = client.get(reverse("admin:organisations_organisation_change", args=[organisation.pk]))
    if allowed:
        assert response.status_code == 200
    elif uses_admin:
        assert response.status_code == 302
        assert response["Location"] == reverse("admin:index")
    else:
        assert response["Location"].startswith(login_url)

    # Object permissions, asked of the model admins directly.
    request = _request(user)
    department = organisation.departments.first()
    section = Section.objects.filter(department=department).first()
    member = User.objects.get(username=f"member@{organisation.slug}.example")
    org_admin = _model_admin(Organisation)
    assert org_admin.has_view_permission(request, organisation) is allowed
    assert org_admin.has_change_permission(request, organisation) is allowed
    assert org_admin.has_delete_permission(request, organisation) is (allowed and actor == "prompt_admin")
    for model, obj in ((Department, department), (Section, section), (User, member)):
        model_admin = _model_admin(model)
        assert model_admin.has_view_permission(request, obj) is allowed, model
        assert model_admin.has_change_permission(request, obj) is allowed, model
        # Users are deactivated, never deleted (tests/organisations/test_no_hard_delete.py).
        assert model_admin.has_delete_permission(request, obj) is (allowed and model is not User), model

    # Foreign-key choices on the user add form.
    response = client.get(reverse("admin:organisations_user_add"))
    if uses_admin:
        fields = response.context["adminform"].form.fields
        assert (organisation in fields["organisation"].queryset) is allowed
        assert (department in fields["department"].queryset) is allowed
        assert (section in fields["section"].queryset) is allowed
    else:
        assert response["Location"].startswith(login_url)

    # The Azure AD page.
    response = client.get(reverse("admin:organisations_organisation_azure_ad", args=[organisation.pk]))
    if allowed:
        assert response.status_code == 200
    elif uses_admin:
        assert response.status_code == 404
    else:
        assert response["Location"].startswith(login_url)

    # Revealing the organisation's code.
    reveal_url = reverse(
        "admin:organisations_organisation_azure_ad_code_reveal",
        kwargs={"id": organisation.pk, "code_id": world.codes[organisation.slug]},
    )
    response = client.post(reveal_url)
    if allowed:
        assert response.status_code == 200
        assert response.json() == {"code": world.plaintexts[organisation.slug]}
        assert ProvisioningCodeReveal.objects.filter(revealed_by=user).count() == 1
    else:
        assert response.status_code == (404 if uses_admin else 302)
        assert ProvisioningCodeReveal.objects.count() == 0


def test_organisation_filter_lists_only_organisations_in_scope(world):
    response = _client(world.actors["admin"]).get(reverse("admin:organisations_user_changelist"))
    body = response.content.decode()
    assert "Own Organisation" in body
    assert "Sibling Organisation" not in body
    assert "Foreign Organisation" not in body
    assert {u.organisation for u in response.context["cl"].result_list} == {world.own}


@pytest.mark.parametrize("role", [Role.NONE, ""])
def test_staff_or_superuser_flag_without_role_cannot_sign_in(world, role):
    user = world.actors["plain_staff_user"]
    assert user.is_staff and user.is_superuser  # set behind the role's back
    response = Client().post(
        reverse("admin:login"), {"username": user.username, "password": TEST_PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 200
    assert "Please enter the correct username and password for a staff account" in response.content.decode()
    assert "_auth_user_id" not in Client().session


def test_admin_role_signs_in(world):
    admin_user = world.actors["admin"]
    response = Client().post(reverse("admin:login"), {"username": admin_user.username, "password": TEST_PASSWORD})
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("role", "is_staff"), [(Role.PROMPT_ADMIN, True), (Role.AGENCY_ADMIN, True), (Role.ADMIN, True), (Role.NONE, False)]
)
def test_is_staff_follows_role(role, is_staff):
    user = UserFactory(role=role, agency=AgencyFactory() if role == Role.AGENCY_ADMIN else None)
    user.refresh_from_db()
    assert user.is_staff is is_staff
    user.role = Role.NONE if is_staff else Role.ADMIN
    user.save(update_fields=["role"])
    user.refresh_from_db()
    assert user.is_staff is not is_staff


# --- Users: validation and no escalation ---------------------------------------------------------


def _change_user(client: Client, user: User, **changes):
    return client.post(reverse("admin:organisations_user_change", args=[user.pk]), user_form_data(user, **changes))


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"role": Role.PROMPT_ADMIN}, "role", "Select a valid choice. prompt_admin is not one of the available choices."),
        ({"role": Role.AGENCY_ADMIN}, "role", "Select a valid choice. agency_admin is not one of the available choices."),
    ],
)
def test_admin_cannot_give_a_role_above_their_own(world, change, field, message):
    member = User.objects.get(username=f"member@{world.own.slug}.example")
    response = _change_user(_client(world.actors["admin"]), member, **change)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {field: [message]}
    member.refresh_from_db()
    assert member.role == Role.NONE


def test_admin_cannot_move_a_user_to_another_organisation(world):
    member = User.objects.get(username=f"member@{world.own.slug}.example")
    response = _change_user(_client(world.actors["admin"]), member, organisation=world.sibling.pk)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["organisation"] == ["Select a valid choice. That choice is not one of the available choices."]
    member.refresh_from_db()
    assert member.organisation == world.own


def test_admin_has_no_agency_field_and_cannot_set_one(world):
    member = User.objects.get(username=f"member@{world.own.slug}.example")
    client = _client(world.actors["admin"])
    response = client.get(reverse("admin:organisations_user_change", args=[member.pk]))
    assert "agency" not in response.context["adminform"].form.fields
    _change_user(client, member, agency=world.own.agency_id)
    member.refresh_from_db()
    assert member.agency is None


def test_users_above_ones_role_are_out_of_reach(world):
    boss = UserFactory(organisation=world.own, role=Role.PROMPT_ADMIN)
    client = _client(world.actors["admin"])
    response = client.get(reverse("admin:organisations_user_change", args=[boss.pk]))
    assert response.status_code == 302
    response = client.get(reverse("admin:organisations_user_changelist"))
    assert boss not in response.context["cl"].result_list
    response = client.get(reverse("admin:auth_user_password_change", args=[boss.pk]))
    assert response.status_code == 404


def test_agency_admin_can_appoint_agency_admins_of_their_agency_only(world):
    member = User.objects.get(username=f"member@{world.own.slug}.example")
    client = _client(world.actors["agency_admin"])
    response = _change_user(client, member, role=Role.AGENCY_ADMIN, agency=world.foreign.agency_id)
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["agency"]
    assert errors["agency"][0] == "Select a valid choice. That choice is not one of the available choices."
    member.refresh_from_db()
    assert member.role == Role.NONE
    response = _change_user(client, member, role=Role.AGENCY_ADMIN, agency=world.own.agency_id)
    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.role, member.agency, member.is_staff) == (Role.AGENCY_ADMIN, world.own.agency, True)


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ("other_department", {"department": ["The department must belong to the user's organisation."]}),
        ("section_of_other_department", {"section": ["The section must belong to the user's department."]}),
        ("agency_without_role", {"agency": ["Only an Agency Admin has an agency."]}),
        ("agency_admin_without_agency", {"agency": ["An Agency Admin needs an agency."]}),
    ],
)
def test_user_form_errors_instead_of_500s(world, changes, errors):
    member = User.objects.get(username=f"member@{world.own.slug}.example")
    before = User.objects.values().get(pk=member.pk)
    own_departments = list(world.own.departments.all())
    sibling_department = world.sibling.departments.first()
    data = {
        "other_department": {"department": sibling_department.pk, "section": ""},
        "section_of_other_department": {
            "department": own_departments[0].pk,
            "section": own_departments[1].sections.first().pk,
        },
        "agency_without_role": {"agency": world.own.agency_id},
        "agency_admin_without_agency": {"role": Role.AGENCY_ADMIN, "agency": ""},
    }[changes]
    response = _change_user(_client(world.actors["agency_admin"]), member, **data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == errors
    assert User.objects.values().get(pk=member.pk) == before


def test_admin_adds_a_user_to_their_organisation(world):
    department = world.own.departments.get(name="Operations")
    section = department.sections.get()
    response = _client(world.actors["admin"]).post(
        reverse("admin:organisations_user_add"),
        {
            "username": "new.person@example.com",
            "usable_password": "true",
            "password1": "a-long-demo-passphrase-42",
            "password2": "a-long-demo-passphrase-42",
            "first_name": "New",
            "last_name": "Person",
            "email": "new.person@example.com",
            "organisation": world.own.pk,
            "department": department.pk,
            "section": section.pk,
            "role": Role.NONE,
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    created = User.objects.get(username="new.person@example.com")
    assert (created.organisation, created.department, created.section, created.role) == (
        world.own,
        department,
        section,
        Role.NONE,
    )


def test_admin_must_give_new_users_an_organisation(world):
    response = _client(world.actors["admin"]).post(
        reverse("admin:organisations_user_add"),
        {"username": "orphan@example.com", "usable_password": "false", "role": Role.NONE},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["organisation"] == ["This field is required."]
    assert not User.objects.filter(username="orphan@example.com").exists()


def test_deactivating_in_the_admin_ends_sessions(world):
    member = User.objects.get(username=f"member@{world.own.slug}.example")
    version = member.session_version
    response = _change_user(_client(world.actors["admin"]), member, is_active="")
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.is_active is False
    # A new session_version is what ends the person's open sessions.
    assert member.session_version != version


def test_user_search_and_filters(world):
    member = User.objects.get(username=f"member@{world.own.slug}.example")
    member.first_name, member.last_name, member.email = "Grace", "Hopper", "grace@navy.example"
    member.department = world.own.departments.get(name="Operations")
    member.section = member.department.sections.get()
    member.save()
    client = _client(world.actors["prompt_admin"])
    url = reverse("admin:organisations_user_changelist")
    for term in ("Grace", "Hopper", "grace@navy", f"member@{world.own.slug}"):
        assert list(client.get(url, {"q": term}).context["cl"].result_list) == [member], term
    filtered = client.get(url, {"organisation__id__exact": world.sibling.pk}).context["cl"].result_list
    assert {u.organisation for u in filtered} == {world.sibling}
    assert list(client.get(url, {"department__id__exact": member.department_id}).context["cl"].result_list) == [member]
    assert list(client.get(url, {"section__id__exact": member.section_id}).context["cl"].result_list) == [member]
    User.objects.filter(pk=member.pk).update(is_active=False)
    assert list(client.get(url, {"is_active__exact": "0"}).context["cl"].result_list) == [member]


def test_user_list_filters_provisioned_by_entra_or_by_hand(world):
    provisioned = User.objects.get(username=f"member@{world.own.slug}.example")
    ScimUser.objects.create(user=provisioned)
    by_hand = UserFactory(organisation=world.own, username="by-hand@own.example")
    client = _client(world.actors["admin"])
    url = reverse("admin:organisations_user_changelist")
    entra = set(client.get(url, {"provisioned": "entra"}).context["cl"].result_list)
    hand = set(client.get(url, {"provisioned": "hand"}).context["cl"].result_list)
    assert entra == {provisioned}
    assert by_hand in hand and provisioned not in hand
    everyone = set(client.get(url).context["cl"].result_list)
    assert entra | hand == everyone


def test_agency_admin_adds_organisations_to_their_agency_only(world):
    client = _client(world.actors["agency_admin"])
    url = reverse("admin:organisations_organisation_add")
    response = client.post(url, {"name": "Elsewhere", "slug": "elsewhere", "agency": world.foreign.agency_id})
    assert response.context["adminform"].form.errors == {
        "agency": ["Select a valid choice. That choice is not one of the available choices."]
    }
    response = client.post(url, {"name": "Next Door", "slug": "next-door", "agency": ""})
    assert response.context["adminform"].form.errors == {"agency": ["This field is required."]}
    response = client.post(url, {"name": "Next Door", "slug": "next-door", "agency": world.own.agency_id})
    assert response.status_code == 302
    assert Organisation.objects.get(slug="next-door").agency == world.own.agency


def test_admin_cannot_add_organisations_or_see_agencies(world):
    client = _client(world.actors["admin"])
    assert client.get(reverse("admin:organisations_organisation_add")).status_code == 403
    assert client.get(reverse("admin:organisations_agency_changelist")).status_code == 403
    index = client.get(reverse("admin:index"))
    models = {m["object_name"] for app in index.context["app_list"] for m in app["models"]}
    # Entra ID's groups are listed too, read-only.
    assert models == {"Organisation", "Department", "Section", "User", "ScimGroup"}
