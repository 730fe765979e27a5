"""The one reach rule, cell by cell: actor × target role × target organisation × operation.

Every actor works through its own channel, over real HTTP: people through the admin, an
organisation's code through SCIM, its tenant through sign-in with Microsoft. Each test runs one
operation of one actor against a person of every role in every organisation, and asserts the
whole table at once: where the rule below says "allowed" the change happened, everywhere else
it was refused and the person is exactly as before.

The rule, written out here independently of ``organisations.access``:

* a Prompt Admin reaches everyone;
* an Agency Admin reaches the people of the agency's organisations, except Prompt Admins and
  Agency Admins of another agency;
* an organisation's Admin, its code and its tenant reach the organisation's people whose role
  is Admin or none.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote_plus

import pytest
from django.test import Client
from django.urls import reverse

from organisations.models import Agency, Organisation, Role, User
from scim_provisioning.codes.actions import provisioning_code_issue
from scim_provisioning.models import ScimUser
from tests.admin_forms import signed_in, user_form_data
from tests.conftest import ScimClient
from tests.factories import SYSTEM, AgencyFactory, UserFactory, provisioned_organisation
from tests.scim_api.conftest import USERS, entra_user, patch_op
from tests.sso.fixtures import sign_in

pytestmark = pytest.mark.django_db

ORGANISATIONS = ("X", "Y", "Z")  # X and Y in agency A, Z in agency B
TARGET_ROLES = ("prompt_admin", "agency_admin_A", "agency_admin_B", "admin", "none")
ACTORS = ("prompt_admin", "agency_admin_A", "agency_admin_B", "admin_X", "admin_Y", "code_X", "tenant_X")
NEW_PASSWORD = "a-new-password-nobody-guesses-42"


def in_reach(actor: str, role: str, organisation: str) -> bool:
    """The rule, from the module docstring."""
    if actor == "prompt_admin":
        return True
    if actor.startswith("agency_admin_"):
        agency = actor[-1]
        in_agency = organisation in ({"X", "Y"} if agency == "A" else {"Z"})
        return in_agency and role in ("admin", "none", f"agency_admin_{agency}")
    home = actor.split("_")[-1]
    return organisation == home and role in ("admin", "none")


@dataclass
class World:
    agencies: dict[str, Agency]
    organisations: dict[str, Organisation]
    actors: dict[str, User]
    targets: dict[tuple[str, str], User]


def make_world(*, linked: bool) -> World:
    agencies = {"A": AgencyFactory(name="Agency A"), "B": AgencyFactory(name="Agency B")}
    organisations = {
        "X": provisioned_organisation(agency=agencies["A"], name="X", slug="x"),
        "Y": provisioned_organisation(agency=agencies["A"], name="Y", slug="y"),
        "Z": provisioned_organisation(agency=agencies["B"], name="Z", slug="z"),
    }

    def person(username: str, role: str, organisation: str) -> User:
        org = organisations[organisation]
        fields = {"role": role, "agency": None}
        if role.startswith("agency_admin"):
            fields = {"role": Role.AGENCY_ADMIN, "agency": agencies[role[-1]]}
        elif role == "prompt_admin":
            fields["role"] = Role.PROMPT_ADMIN
        elif role == "admin":
            fields["role"] = Role.ADMIN
        else:
            fields["role"] = Role.NONE
        return UserFactory(
            username=username,
            organisation=org,
            department=org.default_department,
            section=org.default_section,
            **fields,
        )

    actors = {
        "prompt_admin": person("actor.prompt@z.example", "prompt_admin", "Z"),
        "agency_admin_A": person("actor.agency.a@x.example", "agency_admin_A", "X"),
        "agency_admin_B": person("actor.agency.b@z.example", "agency_admin_B", "Z"),
        "admin_X": person("actor.admin@x.example", "admin", "X"),
        "admin_Y": person("actor.admin@y.example", "admin", "Y"),
    }
    targets = {
        (role, org): person(f"{role.replace('_', '.')}@{org.lower()}.target", role, org)
        for role in TARGET_ROLES
        for org in ORGANISATIONS
    }
    if linked:
        # Even a person who should never carry a SCIM link (a Prompt or Agency Admin) is out of
        # the code's reach if one exists.
        for target in targets.values():
            ScimUser.objects.create(user=target, attributes={"active": True})
    return World(agencies, organisations, actors, targets)


def snapshot(user: User) -> tuple:
    user = User.objects.get(pk=user.pk)
    return (
        user.username, user.first_name, user.last_name, user.email, user.organisation_id, user.department_id,
        user.section_id, user.role, user.agency_id, user.is_active, user.password, user.session_version,
    )


def run_cells(world: World, operation) -> dict[tuple[str, str], bool]:
    """Apply ``operation(target) -> changed?`` to every target; refused cells must leave no trace."""
    outcome = {}
    for key, target in world.targets.items():
        before = snapshot(target)
        changed = operation(target)
        after = snapshot(target)
        if not changed:
            assert after == before, f"{key}: refused, yet changed"
        outcome[key] = changed
    return outcome


def expected(actor: str) -> dict[tuple[str, str], bool]:
    return {(role, org): in_reach(actor, role, org) for role in TARGET_ROLES for org in ORGANISATIONS}


# --- people, through the admin --------------------------------------------------------------------

PEOPLE = ("prompt_admin", "agency_admin_A", "agency_admin_B", "admin_X", "admin_Y")


def change_data(actor: str, target: User, **changes) -> dict:
    # Only those who may appoint Agency Admins see the agency field.
    if actor not in ("prompt_admin", "agency_admin_A", "agency_admin_B"):
        changes["agency"] = None
    return user_form_data(target, **changes)


def admin_post(client: Client, target: User, data: dict) -> bool:
    response = client.post(reverse("admin:organisations_user_change", args=[target.pk]), data)
    assert response.status_code in (200, 302), response.status_code
    return response.status_code == 302 and response["Location"] == reverse("admin:organisations_user_changelist")


@pytest.mark.parametrize("actor", PEOPLE)
def test_people_see_only_who_they_reach(actor):
    world = make_world(linked=False)
    client = signed_in(world.actors[actor])

    listed = set(client.get(reverse("admin:organisations_user_changelist"), {"q": "target"}).context["cl"].result_list)

    def visible(target: User) -> bool:
        page = client.get(reverse("admin:organisations_user_change", args=[target.pk]))
        history = client.get(reverse("admin:organisations_user_history", args=[target.pk]))
        assert (page.status_code == 200) == (target in listed) == (history.status_code == 200)
        return page.status_code == 200

    assert {key: visible(t) for key, t in world.targets.items()} == expected(actor)


@pytest.mark.parametrize("actor", PEOPLE)
def test_people_change_only_who_they_reach(actor):
    world = make_world(linked=False)
    client = signed_in(world.actors[actor])

    outcome = run_cells(world, lambda t: admin_post(client, t, change_data(actor, t, first_name="Changed")))

    assert outcome == expected(actor)


@pytest.mark.parametrize("actor", PEOPLE)
def test_people_deactivate_only_who_they_reach(actor):
    world = make_world(linked=False)
    client = signed_in(world.actors[actor])

    outcome = run_cells(world, lambda t: admin_post(client, t, change_data(actor, t, is_active="")))

    assert outcome == expected(actor)
    for key, target in world.targets.items():
        assert User.objects.get(pk=target.pk).is_active is not expected(actor)[key]


@pytest.mark.parametrize("actor", PEOPLE)
def test_people_set_passwords_only_of_who_they_reach(actor):
    world = make_world(linked=False)
    client = signed_in(world.actors[actor])

    def set_password(target: User) -> bool:
        client.post(
            reverse("admin:auth_user_password_change", args=[target.pk]),
            {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
        )
        return User.objects.get(pk=target.pk).check_password(NEW_PASSWORD)

    assert run_cells(world, set_password) == expected(actor)


@pytest.mark.parametrize("actor", PEOPLE)
def test_people_give_roles_only_within_their_reach(actor):
    world = make_world(linked=False)
    client = signed_in(world.actors[actor])

    def give_role(target: User) -> bool:
        role = Role.NONE if target.role == Role.ADMIN else Role.ADMIN
        return admin_post(client, target, change_data(actor, target, role=role, agency=""))

    # A new role of Admin or none keeps an in-reach person in reach, and is refused anywhere else.
    assert run_cells(world, give_role) == expected(actor)


@pytest.mark.parametrize("actor", PEOPLE)
def test_nobody_gives_a_role_above_their_own(actor):
    world = make_world(linked=False)
    client = signed_in(world.actors[actor])
    target = world.targets[("none", "X")]

    results = {}
    for role, agency in ((Role.PROMPT_ADMIN, None), (Role.AGENCY_ADMIN, world.agencies["A"]), (Role.AGENCY_ADMIN, world.agencies["B"])):
        results[(role, agency.name if agency else "")] = admin_post(
            client, target, change_data(actor, target, role=role, agency=agency.pk if agency else "")
        )
        User.objects.filter(pk=target.pk).update(role=Role.NONE, agency=None, is_staff=False)

    allowed = {
        "prompt_admin": {(Role.PROMPT_ADMIN, ""), (Role.AGENCY_ADMIN, "Agency A"), (Role.AGENCY_ADMIN, "Agency B")},
        "agency_admin_A": {(Role.AGENCY_ADMIN, "Agency A")},
    }.get(actor, set())
    assert {key for key, done in results.items() if done} == allowed


@pytest.mark.parametrize("actor", PEOPLE)
def test_people_move_people_only_between_organisations_they_reach(actor):
    world = make_world(linked=False)
    client = signed_in(world.actors[actor])

    def move(target: User) -> bool:
        # Another organisation: within agency A for X and Y, and from Z to X.
        destination = world.organisations["Y" if target.organisation == world.organisations["X"] else "X"]
        return admin_post(
            client,
            target,
            change_data(
                actor,
                target,
                organisation=destination.pk,
                department=destination.default_department_id,
                section=destination.default_section_id,
            ),
        )

    outcome = run_cells(world, move)

    def may_move(role: str, organisation: str) -> bool:
        destination = "Y" if organisation == "X" else "X"
        return in_reach(actor, role, organisation) and in_reach(actor, role, destination)

    assert outcome == {(role, org): may_move(role, org) for role in TARGET_ROLES for org in ORGANISATIONS}


# --- an organisation's code, through SCIM -----------------------------------------------------------


@pytest.fixture
def code_x():
    def client_for(world: World) -> ScimClient:
        return ScimClient(provisioning_code_issue(acting=SYSTEM, organisation=world.organisations["X"])[1])

    return client_for


def test_the_code_finds_only_who_it_reaches(code_x):
    world = make_world(linked=True)
    client = code_x(world)

    def found(target: User) -> bool:
        query = quote_plus(f'userName eq "{target.username}"')
        return client.get(f"{USERS}?filter={query}").json()["totalResults"] == 1

    assert {key: found(t) for key, t in world.targets.items()} == expected("code_X")


@pytest.mark.parametrize(
    ("operation", "request_body", "status"),
    [
        ("change", patch_op({"op": "Replace", "path": "name.givenName", "value": "Changed"}), 200),
        ("deactivate", patch_op({"op": "Replace", "path": "active", "value": "False"}), 200),
        ("rename", None, 200),
        ("delete", None, 204),
    ],
)
def test_the_code_writes_only_who_it_reaches(code_x, operation, request_body, status):
    world = make_world(linked=True)
    client = code_x(world)

    def write(target: User) -> bool:
        path = f"{USERS}/{target.scim.pk}"
        if operation == "delete":
            response = client.delete(path)
        elif operation == "rename":
            body = patch_op({"op": "Replace", "path": "userName", "value": f"renamed.{target.username}"})
            response = client.patch(path, body)
        else:
            response = client.patch(path, request_body)
        assert response.status_code in (status, 404), response.content
        return response.status_code == status

    assert run_cells(world, write) == expected("code_X")


def test_the_code_adopts_only_who_it_reaches(code_x):
    world = make_world(linked=False)
    client = code_x(world)

    def adopt(target: User) -> bool:
        response = client.post(USERS, entra_user(target.username))
        assert response.status_code in (201, 409), response.content
        if response.status_code == 409:
            assert "managed in Prompt" in response.json()["detail"]
            assert not ScimUser.objects.filter(user=target).exists()
        return response.status_code == 201

    outcome = {key: adopt(target) for key, target in world.targets.items()}

    assert outcome == expected("code_X")


# --- an organisation's tenant, through sign-in with Microsoft ---------------------------------------


@pytest.mark.parametrize("claim", ["preferred_username", "email"])
def test_the_tenant_signs_in_only_who_it_reaches(fake_idp, claim):
    world = make_world(linked=False)

    def signs_in(target: User) -> bool:
        browser = Client()
        if claim == "preferred_username":
            fake_idp.identity = {"preferred_username": target.username}
        else:
            fake_idp.identity = {"preferred_username": "unknown@nowhere.example", "email": target.username}
        response = sign_in(browser, organisation=world.organisations["X"])
        signed_in_as = browser.session.get("_auth_user_id")
        assert (response.status_code == 302) == (signed_in_as is not None)
        assert signed_in_as in (None, str(target.pk))
        return signed_in_as is not None

    outcome = {key: signs_in(target) for key, target in world.targets.items()}

    assert outcome == expected("tenant_X")


# --- the rule's SQL rendering, for SCIM's hand-written queries --------------------------------------


def test_the_sql_rendering_of_the_rule_reaches_exactly_the_same_people(django_db_blocker):
    from django.db import connection

    from organisations.access import Actor, reach

    world = make_world(linked=False)
    actors = {
        **{name: Actor.person(user) for name, user in world.actors.items()},
        "code_X": Actor.credential(organisation=world.organisations["X"], label="code"),
        "tenant_X": Actor.tenant(organisation=world.organisations["X"]),
        "system": Actor.system("test"),
        "nobody": Actor.person(UserFactory(organisation=world.organisations["X"])),
    }
    table = connection.ops.quote_name(User._meta.db_table)
    for name, actor in actors.items():
        where, params = reach(actor).people_sql("u")
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT u.id FROM {table} u WHERE {where}", params)
            by_sql = {row[0] for row in cursor.fetchall()}
        by_orm = set(reach(actor).people().values_list("pk", flat=True))
        assert by_sql == by_orm, name
        assert by_orm or name == "nobody"
