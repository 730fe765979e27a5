"""The ways across the trust boundary found by an attacker's review, each closed for good.

Each test replays one finding against the demo site (``seed_demo``), through real HTTP only: an
organisation's Admin, its Provisioning Authentication Code, its Entra tenant (the fake identity
provider) or another organisation's code. The revocation findings are replayed with two app
processes in ``tests/scim_api/test_revocation.py``, the demotion in ``tests/sso/test_sessions.py``.
"""
from __future__ import annotations

import io
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.test import Client

from organisations.models import Department, Organisation, Role, Section, User
from scim_provisioning.models import ScimUser
from tests.conftest import ScimClient
from tests.factories import AgencyFactory, UserFactory, provisioned_organisation
from tests.scim_api.conftest import USERS, entra_user, patch_op
from tests.sso.fixtures import sign_in

pytestmark = pytest.mark.django_db

PROMPT_ADMIN = "prompt.admin@demo.example"
AGENCY_ADMIN = "agency.admin@demo.example"
ADMIN = "admin@demo.example"
DEMO_TENANT = "4f6c1d2a-9b3e-4c5d-8e7f-0a1b2c3d4e5f"


def code_of(slug: str) -> ScimClient:
    out = io.StringIO()
    call_command("provisioning_code", "rotate", "--organisation", slug, stdout=out)
    return ScimClient(out.getvalue().strip().splitlines()[-1])


@pytest.fixture
def demo(settings):
    call_command("seed_demo", stdout=io.StringIO())
    return Organisation.objects.get(slug="demo")


@pytest.fixture
def demo_code(demo) -> ScimClient:
    # Step 1 of the attack: the organisation's Admin reveals the demo code.
    return code_of("demo")


@pytest.fixture
def other_code(db) -> tuple[Organisation, ScimClient]:
    other = provisioned_organisation(name="Other", slug="other")
    return other, code_of("other")


def session_user(client: Client) -> User | None:
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id) if user_id else None


def admin_client(username: str) -> Client:
    client = Client()
    client.force_login(User.objects.get(username=username))
    return client


def test_an_admin_cannot_become_the_prompt_admin_through_scim_and_sign_in(demo, demo_code, fake_idp):
    prompt_admin = User.objects.get(username=PROMPT_ADMIN)

    # 2. Adopt the Prompt Admin's account through SCIM.
    adopted = demo_code.post(USERS, entra_user(PROMPT_ADMIN))
    assert adopted.status_code == 409
    # 3. Rename the Admin away and the Prompt Admin onto the Admin's name: there is nothing to rename.
    own = demo_code.post(USERS, entra_user(ADMIN))
    if own.status_code == 201:
        demo_code.patch(f"{USERS}/{own.json()['id']}", patch_op({"op": "Replace", "path": "userName", "value": "gone@demo.example"}))
    # 4. Sign in through the organisation's own tenant under the Admin's name.
    browser = Client()
    fake_idp.identity = {"preferred_username": ADMIN}
    sign_in(browser, organisation=demo)

    prompt_admin.refresh_from_db()
    assert (prompt_admin.username, prompt_admin.role, prompt_admin.is_active) == (PROMPT_ADMIN, Role.PROMPT_ADMIN, True)
    assert not ScimUser.objects.filter(user=prompt_admin).exists()
    signed_in_as = session_user(browser)
    assert signed_in_as is None or signed_in_as.role not in (Role.PROMPT_ADMIN, Role.AGENCY_ADMIN)


def test_the_work_email_variant_never_signs_in_the_prompt_admin(demo, demo_code, fake_idp):
    # Adopt the Prompt Admin giving them an address of the attacker's, then sign in by the
    # email fallback with that address.
    demo_code.post(
        USERS, entra_user(PROMPT_ADMIN, emails=[{"type": "work", "value": "mine@demo.example", "primary": True}])
    )
    browser = Client()
    fake_idp.identity = {"preferred_username": "nobody@demo.example", "email": "mine@demo.example"}

    sign_in(browser, organisation=demo)

    assert session_user(browser) != User.objects.get(username=PROMPT_ADMIN)
    assert User.objects.get(username=PROMPT_ADMIN).email == PROMPT_ADMIN


def test_scim_cannot_deactivate_the_agency_admin(demo, demo_code):
    adopted = demo_code.post(USERS, entra_user(AGENCY_ADMIN))
    if adopted.status_code == 201:
        demo_code.patch(f"{USERS}/{adopted.json()['id']}", patch_op({"op": "Replace", "path": "active", "value": "False"}))

    assert adopted.status_code == 409
    assert User.objects.get(username=AGENCY_ADMIN).is_active is True


@pytest.mark.parametrize(
    "identity",
    [{"preferred_username": PROMPT_ADMIN}, {"preferred_username": "unknown@demo.example", "email": PROMPT_ADMIN}],
)
def test_the_tenant_cannot_sign_in_as_the_prompt_admin_directly(demo, fake_idp, identity):
    browser = Client()
    fake_idp.identity = identity

    response = sign_in(browser, organisation=demo)

    assert response.status_code == 403
    assert session_user(browser) is None


def test_another_organisations_work_email_cannot_capture_a_sign_in_route(demo, other_code, settings, fake_idp):
    other, other_client = other_code
    UserFactory(organisation=demo, username="v.upn@demo.example", email="victim@demo.example")
    other_client.post(
        USERS, entra_user("attacker@other.example", emails=[{"type": "work", "value": "victim@demo.example"}])
    )

    start = Client().post("/signin/", {"email": "victim@demo.example"})

    if start.status_code == 302:
        assert urlsplit(start["Location"]).path.split("/")[1] == DEMO_TENANT
    assert str(other.azure_tenant_id) not in start.get("Location", "")


def test_a_dotless_i_cannot_capture_a_sign_in_route(demo, other_code, fake_idp):
    other, other_client = other_code
    other_client.post(USERS, entra_user("admın@demo.example"))

    start = Client().post("/signin/", {"email": ADMIN})

    assert start.status_code == 302
    assert urlsplit(start["Location"]).path.split("/")[1] == DEMO_TENANT


def test_another_organisation_cannot_squat_names_in_the_demo_domain(demo, demo_code, other_code):
    _, other_client = other_code

    squatted = other_client.post(USERS, entra_user("new.starter@demo.example"))
    rightful = demo_code.post(USERS, entra_user("new.starter@demo.example"))

    assert squatted.status_code == 409
    assert rightful.status_code == 201


def test_moving_a_provisioned_person_leaves_the_old_code_no_control(demo, demo_code, other_code):
    other, _ = other_code
    created = demo_code.post(USERS, entra_user("mover@demo.example")).json()
    person = User.objects.get(username="mover@demo.example")
    admin_client(PROMPT_ADMIN).post(
        f"/admin/organisations/user/{person.pk}/change/",
        {
            "username": person.username,
            "first_name": person.first_name,
            "last_name": person.last_name,
            "email": person.email,
            "organisation": other.pk,
            "department": other.default_department_id,
            "section": other.default_section_id,
            "role": "",
            "agency": "",
            "is_active": "on",
        },
    )

    demo_code.patch(f"{USERS}/{created['id']}", patch_op({"op": "Replace", "path": "active", "value": "False"}))

    person.refresh_from_db()
    moved = person.organisation_id == other.pk
    assert not (moved and not person.is_active), "the old organisation's code still controls the moved person"
    assert not moved


def test_an_agency_admin_cannot_reach_another_agencys_agency_admin(demo):
    other_agency = AgencyFactory(name="Other Agency")
    rival = UserFactory(organisation=demo, role=Role.AGENCY_ADMIN, agency=other_agency, username="rival@demo.example")
    password_before = User.objects.get(pk=rival.pk).password
    client = admin_client(AGENCY_ADMIN)

    page = client.get(f"/admin/organisations/user/{rival.pk}/change/")
    client.post(
        f"/admin/organisations/user/{rival.pk}/password/",
        {"password1": "taken-over-password-1", "password2": "taken-over-password-1", "usable_password": "true"},
    )

    assert page.status_code != 200
    assert User.objects.get(pk=rival.pk).password == password_before


def test_a_huge_patch_is_refused_instead_of_burning_minutes(demo, demo_code):
    created = demo_code.post(USERS, entra_user("patched@demo.example")).json()
    n = 3000
    body = patch_op(
        {"op": "add", "path": "emails", "value": [{"value": f"e{i}@demo.example"} for i in range(n)]},
        *({"op": "remove", "path": f'emails[value eq "e{i}@demo.example"]'} for i in range(n)),
    )

    response = demo_code.patch(f"{USERS}/{created['id']}", body)

    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"


def test_a_department_cannot_move_to_another_organisation(demo, other_code):
    other, _ = other_code
    department = Department.objects.get(organisation=demo, name="People")

    admin_client(PROMPT_ADMIN).post(
        f"/admin/organisations/department/{department.pk}/change/", {"name": "People", "organisation": other.pk}
    )

    assert Department.objects.get(pk=department.pk).organisation_id == demo.pk


def test_a_section_cannot_move_to_another_department(demo):
    section = Section.objects.get(department__organisation=demo, name="Payroll")
    people = Department.objects.get(organisation=demo, name="People")

    admin_client(ADMIN).post(
        f"/admin/organisations/section/{section.pk}/change/", {"name": "Payroll", "department": people.pk}
    )

    assert Section.objects.get(pk=section.pk).department.name == "Finance"


def test_signin_answers_the_same_for_unknown_orphaned_and_sso_less_addresses(demo, fake_idp):
    UserFactory(organisation=None, username="orphan@nowhere.example")
    no_sso = provisioned_organisation(name="No SSO", slug="no-sso")
    no_sso.azure_sso_enabled = False
    no_sso.provisioning_enabled = False
    no_sso.save()
    UserFactory(organisation=no_sso, username="member@no-sso.example")

    answers = [
        Client().post("/signin/", {"email": address})
        for address in ("unknown@nowhere.example", "orphan@nowhere.example", "member@no-sso.example")
    ]

    assert len({(a.status_code, a.content) for a in answers}) == 1
    assert "No SSO" not in answers[2].content.decode()
