"""Placement rules put Entra ID's people in Departments and Sections: every trigger, through real HTTP."""
from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from organisations.access import Actor, NotInReachError
from organisations.actions import user_update
from organisations.models import AuditEvent, Department, Section, User
from scim_provisioning.models import ScimGroup, ScimUser
from scim_provisioning.placement.actions import placement_release, placement_rules_save
from scim_provisioning.placement.rules import DEPARTMENT, GROUP, RuleSpec
from scim_provisioning.users.actions import managed_user_update
from tests.factories import SYSTEM, DepartmentFactory, SectionFactory, UserFactory
from tests.scim_api.conftest import BASE, ENTERPRISE, USERS, entra_user, patch_op

GROUPS = f"{BASE}/Groups"


@pytest.fixture
def wards(organisation):
    ward5 = DepartmentFactory(organisation=organisation, name="Ward 5")
    ward6 = DepartmentFactory(organisation=organisation, name="Ward 6")
    return {
        "ward5": ward5,
        "ward5/nights": SectionFactory(department=ward5, name="Nights"),
        "ward6": ward6,
        "ward6/days": SectionFactory(department=ward6, name="Days"),
        "cardiology": (cardiology := DepartmentFactory(organisation=organisation, name="Cardiology")),
        "cardiology/clinic": SectionFactory(department=cardiology, name="Clinic"),
    }


def where(user_name: str) -> tuple[str, str]:
    user = User.objects.select_related("department", "section").get(username=user_name)
    return user.department.name, user.section.name


def create(scim_client, user_name: str, department: str | None = None) -> str:
    body = entra_user(user_name)
    body[ENTERPRISE] = {"department": department} if department else {}
    response = scim_client.post(USERS, body)
    assert response.status_code == 201, response.content
    return response.json()["id"]


def group(scim_client, name: str, *members: str) -> ScimGroup:
    response = scim_client.post(GROUPS, {"displayName": name, "members": [{"value": m} for m in members]})
    assert response.status_code == 201, response.content
    return ScimGroup.objects.get(pk=response.json()["id"])


def members(scim_client, group_id, op: str, *ids: str):
    response = scim_client.patch(
        f"{GROUPS}/{group_id}", patch_op({"op": op, "path": "members", "value": [{"value": i} for i in ids]})
    )
    assert response.status_code == 204, response.content


def rules(organisation, *specs: RuleSpec, acting: Actor = SYSTEM):
    return placement_rules_save(acting=acting, organisation=organisation, specs=list(specs))


def by_group(g: ScimGroup, wards, destination: str) -> RuleSpec:
    return RuleSpec(GROUP, group=g, department=wards[destination.split("/")[0]], section=wards[destination])


def by_department(value: str, wards, destination: str) -> RuleSpec:
    return RuleSpec(DEPARTMENT, department_value=value, department=wards[destination.split("/")[0]], section=wards[destination])


DEFAULTS = ("Operations", "Onboarding")


def test_create_is_placed_by_the_department_rule(scim_client, organisation, wards):
    rules(organisation, by_department("cardiology", wards, "cardiology/clinic"))

    create(scim_client, "ann@contoso.com", department="  CARDIOLOGY ")
    create(scim_client, "ben@contoso.com", department="Radiology")

    assert where("ann@contoso.com") == ("Cardiology", "Clinic")
    assert where("ben@contoso.com") == DEFAULTS
    event = AuditEvent.objects.get(target_user__username="ann@contoso.com", action="user.placed")
    assert event.note == "Placed in Cardiology / Clinic by rule 'Entra department is cardiology'."
    assert event.changes == {"department": ["Operations", "Cardiology"], "section": ["Onboarding", "Clinic"]}
    assert event.actor_kind == AuditEvent.ActorKind.CREDENTIAL


def test_department_change_moves_the_person(scim_client, organisation, wards):
    rules(organisation, by_department("Cardiology", wards, "cardiology/clinic"))
    ann = create(scim_client, "ann@contoso.com", department="Radiology")
    assert where("ann@contoso.com") == DEFAULTS

    patch = patch_op({"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "Cardiology"})
    assert scim_client.patch(f"{USERS}/{ann}", patch).status_code == 200
    assert where("ann@contoso.com") == ("Cardiology", "Clinic")

    # The compliant dialect's path-less form, moving back out of the rule.
    patch = patch_op({"op": "replace", "value": {f"{ENTERPRISE}:department": "Radiology"}})
    assert scim_client.patch(f"{USERS}/{ann}", patch).status_code == 200
    assert where("ann@contoso.com") == DEFAULTS
    assert ScimUser.objects.get(pk=ann).placement == ScimUser.Placement.DEFAULTS


def test_group_membership_add_and_remove(scim_client, organisation, wards):
    ann = create(scim_client, "ann@contoso.com")
    ben = create(scim_client, "ben@contoso.com")
    nurses = group(scim_client, "Nurses-Ward5", ann)
    rules(organisation, by_group(nurses, wards, "ward5/nights"))
    assert where("ann@contoso.com") == ("Ward 5", "Nights")  # saving the rules placed her

    members(scim_client, nurses.pk, "Add", ben)
    assert where("ben@contoso.com") == ("Ward 5", "Nights")
    assert AuditEvent.objects.get(target_user__username="ben@contoso.com", action="user.placed").note == (
        "Placed in Ward 5 / Nights by rule 'member of Nurses-Ward5'."
    )

    response = scim_client.patch(f"{GROUPS}/{nurses.pk}", patch_op({"op": "remove", "path": f'members[value eq "{ann}"]'}))
    assert response.status_code == 204
    assert where("ann@contoso.com") == DEFAULTS
    assert where("ben@contoso.com") == ("Ward 5", "Nights")


def test_first_matching_rule_wins_and_reordering_moves_people(scim_client, organisation, wards):
    ann = create(scim_client, "ann@contoso.com", department="Cardiology")
    nurses = group(scim_client, "Nurses-Ward5", ann)
    group_rule = by_group(nurses, wards, "ward5/nights")
    department_rule = by_department("Cardiology", wards, "cardiology/clinic")

    rules(organisation, group_rule, department_rule)
    assert where("ann@contoso.com") == ("Ward 5", "Nights")

    saved = rules(organisation, department_rule, group_rule)
    assert (saved.changed, saved.moved) == (True, 1)
    assert where("ann@contoso.com") == ("Cardiology", "Clinic")
    # Saving the same rules again changes nothing and records nothing.
    assert rules(organisation, department_rule, group_rule).changed is False
    assert AuditEvent.objects.filter(action="azure_ad.placement_rules").count() == 2


def test_deleting_a_rule_falls_back_to_the_next_rule_then_the_defaults(scim_client, organisation, wards):
    ann = create(scim_client, "ann@contoso.com", department="Cardiology")
    nurses = group(scim_client, "Nurses-Ward5", ann)
    rules(organisation, by_group(nurses, wards, "ward5/nights"), by_department("cardiology", wards, "cardiology/clinic"))

    rules(organisation, by_department("cardiology", wards, "cardiology/clinic"))
    assert where("ann@contoso.com") == ("Cardiology", "Clinic")

    rules(organisation)
    assert where("ann@contoso.com") == DEFAULTS
    organisation.refresh_from_db()
    assert organisation.placement_by_rules is False


def test_group_deleted_in_entra_places_its_members_again(scim_client, organisation, wards):
    ann = create(scim_client, "ann@contoso.com")
    nurses = group(scim_client, "Nurses-Ward5", ann)
    rules(organisation, by_group(nurses, wards, "ward5/nights"))

    assert scim_client.delete(f"{GROUPS}/{nurses.pk}").status_code == 204

    assert where("ann@contoso.com") == DEFAULTS
    rule = organisation.placement_rules.get()
    assert (rule.group_id, rule.condition) == (None, "member of Nurses-Ward5 (deleted in Entra ID)")


def test_a_person_moved_by_hand_stays_until_released(scim_client, organisation, wards):
    ann = create(scim_client, "ann@contoso.com")
    nurses = group(scim_client, "Nurses-Ward5")
    rules(organisation, by_group(nurses, wards, "ward5/nights"))
    admin = UserFactory(organisation=organisation, role="admin")
    person = User.objects.get(username="ann@contoso.com")
    person.department, person.section = wards["ward6"], wards["ward6/days"]
    managed_user_update(acting=Actor.person(admin), user=person)
    assert ScimUser.objects.get(pk=ann).placement == ScimUser.Placement.BY_HAND

    members(scim_client, nurses.pk, "Add", ann)
    rules(organisation, by_group(nurses, wards, "ward5/nights"), by_department("x", wards, "cardiology/clinic"))
    assert where("ann@contoso.com") == ("Ward 6", "Days")

    assert placement_release(acting=Actor.person(admin), user=person) is True
    assert where("ann@contoso.com") == ("Ward 5", "Nights")
    assert ScimUser.objects.get(pk=ann).placement == ScimUser.Placement.RULE
    assert placement_release(acting=Actor.person(admin), user=person) is False


def test_without_rules_nothing_changes(scim_client, organisation, wards):
    # An organisation that never turned groups on: people stay where they were created.
    ann = create(scim_client, "ann@contoso.com", department="Cardiology")
    organisation.default_department, organisation.default_section = wards["ward6"], wards["ward6/days"]
    organisation.save()
    patch = patch_op({"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "Radiology"})

    assert scim_client.patch(f"{USERS}/{ann}", patch).status_code == 200
    assert group(scim_client, "Nurses", ann)
    assert where("ann@contoso.com") == DEFAULTS
    assert not AuditEvent.objects.filter(action="user.placed").exists()


def test_rules_are_checked_and_nothing_is_stored_when_one_is_wrong(organisation, wards, other_organisation):
    foreign = Department.objects.get(organisation=other_organisation, name="Finance")
    foreign_section = Section.objects.get(department=foreign)
    good = by_department("Cardiology", wards, "cardiology/clinic")
    cases = [
        (RuleSpec(DEPARTMENT, department_value="X", department=wards["ward5"], section=wards["ward6/days"]),
         "Placement rule 2: Choose a section of the Ward 5 department."),
        (RuleSpec(DEPARTMENT, department_value="X", department=foreign, section=foreign_section),
         "Placement rule 2: Choose a department of this organisation."),
        (by_department(" cardiology ", wards, "ward5/nights"),
         "Placement rule 2: This rule repeats rule 1: the earlier one always matches first."),
        (RuleSpec(DEPARTMENT, department_value="  ", department=wards["ward5"], section=wards["ward5/nights"]),
         "Placement rule 2: Enter the Entra department value this rule is about."),
        (RuleSpec(GROUP, department=wards["ward5"], section=wards["ward5/nights"]),
         "Placement rule 2: Choose the Entra group this rule is about."),
    ]
    for bad, message in cases:
        with pytest.raises(ValidationError) as refused:
            rules(organisation, good, bad)
        assert refused.value.messages == [message]
    assert not organisation.placement_rules.exists()
    assert not AuditEvent.objects.filter(action="azure_ad.placement_rules").exists()


def test_a_foreign_group_cannot_be_named(organisation, wards, other_client, other_organisation):
    other_client.post(GROUPS, {"displayName": "Theirs"})
    theirs = ScimGroup.objects.get(organisation=other_organisation)

    with pytest.raises(ValidationError) as refused:
        rules(organisation, by_group(theirs, wards, "ward5/nights"))
    assert refused.value.messages == ["Placement rule 1: Choose a group of this organisation."]


def test_only_an_organisation_admin_of_this_organisation_saves_rules(organisation, wards, other_organisation):
    outsider = UserFactory(organisation=other_organisation, role="admin")
    nobody = UserFactory(organisation=organisation)
    with pytest.raises(NotInReachError):
        rules(organisation, by_department("x", wards, "ward5/nights"), acting=Actor.person(outsider))
    with pytest.raises(PermissionDenied):
        rules(organisation, by_department("x", wards, "ward5/nights"), acting=Actor.person(nobody))
    assert not organisation.placement_rules.exists()


def test_hand_made_person_adopted_by_entra_keeps_their_place(scim_client, organisation, wards):
    rules(organisation, by_department("Cardiology", wards, "cardiology/clinic"))
    person = UserFactory(organisation=organisation, username="cal@contoso.com", email="cal@contoso.com")
    person.department, person.section = wards["ward6"], wards["ward6/days"]
    user_update(acting=SYSTEM, user=person)

    create(scim_client, "cal@contoso.com", department="Cardiology")

    assert where("cal@contoso.com") == ("Ward 6", "Days")
    assert ScimUser.objects.get(user=person).placement == ScimUser.Placement.BY_HAND
