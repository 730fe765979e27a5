"""The placement report of the Azure AD page: what each rule placed, and what no rule covers yet."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.db.models import Count
from django.db.models.fields.json import KeyTextTransform

from organisations.models import Organisation

from ..models import PlacementRule, ScimGroup, ScimUser
from ..protocol.constants import ENTERPRISE_USER_URN
from .rules import DEPARTMENT, GROUP, department_key

# The uncovered values and groups shown, most people first.
SHOWN = 20


@dataclass(frozen=True)
class RuleCount:
    rule: PlacementRule
    people: int


@dataclass(frozen=True)
class Uncovered:
    """An incoming department value or group no rule names, and how many people have it."""

    label: str
    people: int
    add_query: str  # the query string that adds a rule for it to the page


@dataclass(frozen=True)
class PlacementReport:
    rules: list[RuleCount]
    defaults: int
    by_hand: int
    departments: list[Uncovered]
    groups: list[Uncovered]


def placement_report(*, organisation: Organisation) -> PlacementReport:
    """Count the organisation's Entra ID people by how they were placed, and list what no rule covers."""
    people = ScimUser.objects.filter(user__organisation=organisation, deleted_at__isnull=True)
    by_state: dict[str, int] = {}
    per_rule: dict[int, int] = {}
    for placement, rule_id, count in people.values_list("placement", "placement_rule").annotate(n=Count("pk")):
        by_state[placement] = by_state.get(placement, 0) + count
        if placement == ScimUser.Placement.RULE and rule_id is not None:
            per_rule[rule_id] = count
    rules = list(
        PlacementRule.objects.filter(organisation=organisation)
        .select_related("group", "department", "section")
        .order_by("position")
    )
    named_departments = {rule.department_key for rule in rules if rule.kind == DEPARTMENT}
    named_groups = {rule.group_id for rule in rules if rule.kind == GROUP and rule.group_id}

    values: dict[str, list] = {}
    department = KeyTextTransform("department", KeyTextTransform(ENTERPRISE_USER_URN, "attributes"))
    rows = people.annotate(entra_department=department).values_list("entra_department").annotate(n=Count("pk"))
    for value, count in rows:
        key = department_key(value)
        if key and key not in named_departments:
            # Spellings that differ in case or spaces are one value; the commonest names it.
            entry = values.setdefault(key, [value.strip(), 0, 0])
            if count > entry[2]:
                entry[0], entry[2] = value.strip(), count
            entry[1] += count
    departments = sorted(values.values(), key=lambda entry: (-entry[1], entry[0].casefold()))[:SHOWN]
    groups = (
        ScimGroup.objects.filter(organisation=organisation)
        .exclude(pk__in=named_groups)
        .order_by("-member_count", "display_name_key")[:SHOWN]
    )
    return PlacementReport(
        rules=[RuleCount(rule, per_rule.get(rule.pk, 0)) for rule in rules],
        defaults=by_state.get(ScimUser.Placement.DEFAULTS, 0),
        by_hand=by_state.get(ScimUser.Placement.BY_HAND, 0),
        departments=[Uncovered(label, count, _query("add_department", label)) for label, count, _ in departments],
        groups=[Uncovered(group.display_name, group.member_count, _query("add_group", group.pk)) for group in groups],
    )


def _query(name: str, value: object) -> str:
    return urlencode({name: str(value)})
