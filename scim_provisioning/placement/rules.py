"""Placement rules: what a rule may say, and which rule places a person.

An organisation's rules are an ordered list; the first that matches a person places them, and
none means the organisation's Default Department and Section. A rule is either "member of Entra
group …" or "Entra department is …" (the enterprise ``department`` value, compared ignoring
case and surrounding spaces), and names a Department and a Section of the organisation.

``placement_rules_errors`` is shared by the Azure AD page's form and the action that stores the
rules, so the page can never accept what the action would refuse.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from organisations.models import Department, Organisation, Section

from ..models import PlacementRule, ScimGroup

GROUP = PlacementRule.Kind.GROUP
DEPARTMENT = PlacementRule.Kind.DEPARTMENT


def department_key(value: str | None) -> str:
    """How an Entra department value is compared: ignoring case and surrounding spaces."""
    return (value or "").strip().casefold()


@dataclass(frozen=True)
class RuleSpec:
    """One rule as an admin wrote it, before it is stored."""

    kind: str
    group: ScimGroup | None = None
    department_value: str = ""
    department: Department | None = None
    section: Section | None = None

    @property
    def identity(self) -> tuple:
        """What makes two rules the same condition: a later one could never match anybody."""
        if self.kind == GROUP:
            return (GROUP, self.group.pk if self.group else None)
        return (DEPARTMENT, department_key(self.department_value))

    @property
    def condition(self) -> str:
        if self.kind == GROUP:
            return f"member of {self.group.display_name if self.group else '?'}"
        return f"Entra department is {self.department_value.strip()}"

    def describe(self) -> str:
        return f"{self.condition} → {self.department} / {self.section.name if self.section else '?'}"


def placement_rules_errors(*, organisation: Organisation, specs: list[RuleSpec]) -> list[dict[str, list[str]]]:
    """Return, for each rule in order, why it cannot be stored (an empty dict when it can)."""
    all_errors: list[dict[str, list[str]]] = []
    seen: dict[tuple, int] = {}
    for number, spec in enumerate(specs, start=1):
        errors: dict[str, list[str]] = {}

        def add(name: str, message: str) -> None:
            errors.setdefault(name, []).append(message)

        if spec.kind == GROUP:
            if spec.group is None:
                add("group", "Choose the Entra group this rule is about.")
            elif spec.group.organisation_id != organisation.pk:
                add("group", "Choose a group of this organisation.")
        elif spec.kind == DEPARTMENT:
            if not department_key(spec.department_value):
                add("department_value", "Enter the Entra department value this rule is about.")
        else:
            add("kind", "Choose what the rule looks at.")
        if spec.department is None:
            add("department", "Choose the department this rule places people in.")
        elif spec.department.organisation_id != organisation.pk:
            add("department", "Choose a department of this organisation.")
        if spec.section is None:
            add("section", "Choose the section this rule places people in.")
        elif spec.department is not None and spec.section.department_id != spec.department.pk:
            add("section", f"Choose a section of the {spec.department.name} department.")
        if not errors:
            earlier = seen.get(spec.identity)
            if earlier is not None:
                add("__all__", f"This rule repeats rule {earlier}: the earlier one always matches first.")
            else:
                seen[spec.identity] = number
        all_errors.append(errors)
    return all_errors


@dataclass(frozen=True)
class Rule:
    """A stored rule, reduced to what matching and the timeline need."""

    pk: int
    kind: str
    group_id: object | None
    department_key: str
    department_id: int
    section_id: int
    condition: str
    destination: str

    @classmethod
    def of(cls, rule: PlacementRule) -> Rule:
        return cls(
            pk=rule.pk,
            kind=rule.kind,
            group_id=rule.group_id,
            department_key=rule.department_key,
            department_id=rule.department_id,
            section_id=rule.section_id,
            condition=rule.condition,
            destination=f"{rule.department.name} / {rule.section.name}",
        )


def first_match(rules: Iterable[Rule], *, department: str | None, group_ids: set) -> Rule | None:
    """Return the first rule that places a person with this department value and these groups."""
    key = department_key(department)
    for rule in rules:
        if rule.kind == GROUP:
            if rule.group_id is not None and rule.group_id in group_ids:
                return rule
        elif key and rule.department_key == key:
            return rule
    return None
