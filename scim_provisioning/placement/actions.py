"""Writes of placement: storing the rules, and putting people where the rules say.

Placement is recomputed whenever it could change: when Entra ID creates a person, when it
changes their ``department``, when it changes a group's members, and when an admin saves the
rules. People moved by hand in the admin are left where they were put until an admin lets
Entra ID place them again. Every move goes through ``organisations.actions.users_place``, which
checks the actor's reach and records each move on the person's timeline.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.fields.json import KeyTextTransform

from organisations import roles
from organisations.access import Actor, access_organisation_to_change, access_user, reach
from organisations.actions import Placement, users_place
from organisations.audit import audit_record
from organisations.models import Organisation, User

from ..models import PlacementRule, ScimGroupMember, ScimUser
from ..protocol.constants import ENTERPRISE_USER_URN
from .rules import DEPARTMENT, Rule, RuleSpec, department_key, first_match, placement_rules_errors

_CHUNK = 500
PLACEMENT_RULES_LABEL = "Placement rules"


def _rules(organisation: Organisation) -> list[Rule]:
    rules = PlacementRule.objects.filter(organisation=organisation).select_related("group", "department", "section")
    return [Rule.of(rule) for rule in rules.order_by("position")]


def _people(*, acting: Actor, organisation: Organisation) -> QuerySet[ScimUser]:
    """The visible SCIM users of the organisation that ``acting`` reaches and Entra ID places."""
    return (
        ScimUser.objects.filter(reach(acting).people_q("user__"), user__organisation=organisation, deleted_at__isnull=True)
        .exclude(placement=ScimUser.Placement.BY_HAND)
        .annotate(entra_department=KeyTextTransform("department", KeyTextTransform(ENTERPRISE_USER_URN, "attributes")))
    )


_FACTS = ("pk", "user_id", "user__department_id", "user__section_id", "placement", "placement_rule_id", "entra_department")


def _facts(people: QuerySet[ScimUser], scim_user_ids: list | None) -> list[tuple]:
    if scim_user_ids is None:
        return list(people.values_list(*_FACTS).iterator(chunk_size=2000))
    facts: list[tuple] = []
    for start in range(0, len(scim_user_ids), _CHUNK):
        facts.extend(people.filter(pk__in=scim_user_ids[start : start + _CHUNK]).values_list(*_FACTS))
    return facts


def _memberships(rules: list[Rule], scim_user_ids: list | None) -> dict[object, set]:
    """``{scim_user_id: {group ids}}`` for the groups the rules name, for these people (None: everyone)."""
    group_ids = [rule.group_id for rule in rules if rule.group_id is not None]
    groups: dict[object, set] = {}
    if not group_ids:
        return groups
    rows = ScimGroupMember.objects.filter(group_id__in=group_ids)
    chunks = [None] if scim_user_ids is None else [
        scim_user_ids[start : start + _CHUNK] for start in range(0, len(scim_user_ids), _CHUNK)
    ]
    for chunk in chunks:
        selected = rows if chunk is None else rows.filter(scim_user_id__in=chunk)
        for scim_user_id, group_id in selected.values_list("scim_user_id", "group_id").iterator(chunk_size=5000):
            groups.setdefault(scim_user_id, set()).add(group_id)
    return groups


def _place(
    *, acting: Actor, organisation: Organisation, scim_user_ids: list | None, only_rule_placed: bool = False
) -> int:
    """Put these people (None: everyone Entra ID places) where the rules say; return how many moved."""
    rules = _rules(organisation)
    people = _people(acting=acting, organisation=organisation)
    if only_rule_placed:
        people = people.filter(placement=ScimUser.Placement.RULE)
    facts = _facts(people, scim_user_ids)
    if not facts:
        return 0
    memberships = _memberships(rules, None if scim_user_ids is None else [fact[0] for fact in facts])
    defaults = (organisation.default_department_id, organisation.default_section_id)
    default_names = None
    placements: list[Placement] = []
    states: dict[tuple[str, int | None], list] = {}
    for scim_id, user_id, department_id, section_id, placement, rule_id, entra_department in facts:
        rule = first_match(rules, department=entra_department, group_ids=memberships.get(scim_id, set()))
        if rule is not None:
            state, target = (ScimUser.Placement.RULE, rule.pk), (rule.department_id, rule.section_id)
            note = f"Placed in {rule.destination} by rule '{rule.condition}'."
        else:
            state, target = (ScimUser.Placement.DEFAULTS, None), defaults
            if default_names is None and None not in defaults:
                default_names = f"{organisation.default_department.name} / {organisation.default_section.name}"
            note = f"Placed in {default_names}, the defaults: no placement rule matches."
        if state != (placement, rule_id):
            states.setdefault(state, []).append(scim_id)
        if None not in target and target != (department_id, section_id):
            placements.append(Placement(user_id=user_id, department_id=target[0], section_id=target[1], note=note))
    moved = users_place(acting=acting, placements=placements)
    for (placement, rule_id), scim_ids in states.items():
        for start in range(0, len(scim_ids), _CHUNK):
            ScimUser.objects.filter(pk__in=scim_ids[start : start + _CHUNK]).update(
                placement=placement, placement_rule_id=rule_id
            )
    return moved


def placement_refresh(*, acting: Actor, organisation: Organisation, scim_user_ids: Iterable) -> int:
    """Recompute the placement of these people after Entra ID changed something the rules read.

    Costs nothing for an organisation without rules: its people stay in the defaults they were
    created in, as they always have.
    """
    if not organisation.placement_by_rules:
        return 0
    return _place(acting=acting, organisation=organisation, scim_user_ids=list(dict.fromkeys(scim_user_ids)))


def placement_department_changed(old: dict | None, new: dict) -> bool:
    """Whether a resource change touches what department rules compare (case and spaces ignored)."""
    def value(resource: dict | None) -> str:
        enterprise = (resource or {}).get(ENTERPRISE_USER_URN) or {}
        return department_key(enterprise.get("department") if isinstance(enterprise, dict) else None)

    return old is None or value(old) != value(new)


@dataclass(frozen=True)
class RulesSaved:
    """What saving the rules did."""

    changed: bool
    moved: int


def _described(rules: Iterable) -> str:
    return "; ".join(f"{number}. {rule}" for number, rule in enumerate(rules, start=1))


@transaction.atomic
def placement_rules_save(*, acting: Actor, organisation: Organisation, specs: list[RuleSpec]) -> RulesSaved:
    """Replace the organisation's placement rules and place everyone Entra ID places by them.

    Raises ValidationError (nothing stored) when a rule is invalid; see ``placement_rules_errors``.
    """
    locked = access_organisation_to_change(acting=acting, organisation_id=organisation.pk, for_update=True)
    errors = placement_rules_errors(organisation=locked, specs=specs)
    if any(errors):
        number, first = next((n, e) for n, e in enumerate(errors, start=1) if e)
        raise ValidationError(f"Placement rule {number}: {next(iter(first.values()))[0]}")
    stored = list(PlacementRule.objects.filter(organisation=locked).select_related("group", "department", "section"))
    old = [(r.kind, r.group_id, r.department_key, r.department_id, r.section_id) for r in stored]
    new = [
        (s.kind, s.group.pk if s.group else None, department_key(s.department_value) if s.kind == DEPARTMENT else "",
         s.department.pk, s.section.pk)
        for s in specs
    ]
    if old == new:
        return RulesSaved(changed=False, moved=0)
    before = _described(f"{rule.condition} → {rule.department.name} / {rule.section.name}" for rule in stored)
    PlacementRule.objects.filter(organisation=locked).delete()
    PlacementRule.objects.bulk_create(
        [
            PlacementRule(
                organisation=locked,
                position=position,
                kind=spec.kind,
                group=spec.group if spec.kind == PlacementRule.Kind.GROUP else None,
                group_name=spec.group.display_name if spec.kind == PlacementRule.Kind.GROUP and spec.group else "",
                department_value=spec.department_value.strip() if spec.kind == DEPARTMENT else "",
                department_key=department_key(spec.department_value) if spec.kind == DEPARTMENT else "",
                department=spec.department,
                section=spec.section,
            )
            for position, spec in enumerate(specs, start=1)
        ]
    )
    locked.placement_by_rules = bool(specs)
    locked.save(update_fields=["placement_by_rules"])
    organisation.placement_by_rules = locked.placement_by_rules
    audit_record(
        acting=acting,
        action="azure_ad.placement_rules",
        organisation_id=locked.pk,
        target_label=PLACEMENT_RULES_LABEL,
        changes={PLACEMENT_RULES_LABEL: [before or "(none)", _described(spec.describe() for spec in specs) or "(none)"]},
    )
    # Without rules only the people the old rules placed go back to the defaults; everyone else
    # stays where they were, as before there were rules.
    moved = _place(acting=acting, organisation=locked, scim_user_ids=None, only_rule_placed=not specs)
    return RulesSaved(changed=True, moved=moved)


def placement_mark_by_hand(*, user: User) -> None:
    """Record that an admin moved a person Entra ID manages: rules leave them there from now on."""
    ScimUser.objects.filter(user=user).update(placement=ScimUser.Placement.BY_HAND, placement_rule=None)


@transaction.atomic
def placement_release(*, acting: Actor, user: User) -> bool:
    """"Let Entra ID place this person": undo a move by hand, and place them by the rules or defaults.

    Return whether the person was moved by hand (otherwise nothing changes).
    """
    if not reach(acting).allows("user", roles.CHANGE):
        raise PermissionDenied("You cannot change people.")
    person = access_user(acting=acting, user_id=user.pk, for_update=True)
    released = ScimUser.objects.filter(user=person, placement=ScimUser.Placement.BY_HAND).update(
        placement=ScimUser.Placement.DEFAULTS
    )
    if not released:
        return False
    audit_record(
        acting=acting,
        action="user.updated",
        organisation_id=person.organisation_id,
        target_user=person,
        note="Entra ID places this person again.",
    )
    scim_id = ScimUser.objects.filter(user=person).values_list("pk", flat=True).first()
    _place(acting=acting, organisation=person.organisation, scim_user_ids=[scim_id])
    return True
