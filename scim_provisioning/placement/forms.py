"""The placement rules of the Azure AD page: one form per rule, in a formset that keeps their order."""
from __future__ import annotations

from django import forms

from organisations.models import Department, Organisation, Section

from ..models import PlacementRule, ScimGroup
from .rules import DEPARTMENT, GROUP, RuleSpec, placement_rules_errors


class PlacementRuleForm(forms.Form):
    kind = forms.ChoiceField(
        label="Rule",
        choices=[("", "Choose a rule…"), *PlacementRule.Kind.choices],
        required=False,
    )
    group = forms.ModelChoiceField(
        label="Entra group",
        queryset=ScimGroup.objects.none(),
        required=False,
        empty_label="Choose a group…",
        error_messages={"invalid_choice": "Choose a group of this organisation."},
    )
    department_value = forms.CharField(
        label="Entra department",
        required=False,
        max_length=256,
        widget=forms.TextInput(attrs={"placeholder": "such as Cardiology", "spellcheck": "false"}),
    )
    department = forms.ModelChoiceField(
        label="Department",
        queryset=Department.objects.none(),
        required=False,
        empty_label="Choose a department…",
        error_messages={"invalid_choice": "Choose a department of this organisation."},
    )
    section = forms.ModelChoiceField(
        label="Section",
        queryset=Section.objects.none(),
        required=False,
        empty_label="Choose a section…",
        error_messages={"invalid_choice": "Choose a section of this organisation."},
    )

    def __init__(self, *args, organisation: Organisation, choices: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = ScimGroup.objects.filter(organisation=organisation).order_by("display_name_key")
        self.fields["department"].queryset = Department.objects.filter(organisation=organisation)
        self.fields["section"].queryset = Section.objects.filter(department__organisation=organisation)
        for name, field_choices in (choices or rule_choices(organisation)).items():
            self.fields[name].choices = field_choices

    def spec(self) -> RuleSpec:
        data = self.cleaned_data
        kind = data.get("kind") or ""
        return RuleSpec(
            kind=kind,
            group=data.get("group") if kind == GROUP else None,
            department_value=(data.get("department_value") or "") if kind == DEPARTMENT else "",
            department=data.get("department"),
            section=data.get("section"),
        )


def rule_choices(organisation: Organisation) -> dict[str, list]:
    """The choices of a rule's selects, read once for every row of the page."""
    groups = ScimGroup.objects.filter(organisation=organisation).order_by("display_name_key")
    departments = Department.objects.filter(organisation=organisation).order_by("name")
    # Sections are grouped under their department rather than filtered: the choice stays
    # visible, and a section of another department is refused with a message on save.
    sections: dict[str, list] = {}
    rows = Section.objects.filter(department__organisation=organisation).order_by("department__name", "name")
    for pk, department_name, name in rows.values_list("pk", "department__name", "name"):
        sections.setdefault(department_name, []).append((pk, name))
    return {
        "group": [("", "Choose a group…"), *groups.values_list("pk", "display_name")],
        "department": [("", "Choose a department…"), *departments.values_list("pk", "name")],
        "section": [("", "Choose a section…"), *sections.items()],
    }


class BasePlacementRuleFormSet(forms.BaseFormSet):
    """The rules in order (by their Order field), checked together: a later rule may not repeat one."""

    def __init__(self, *args, organisation: Organisation, **kwargs):
        self.organisation = organisation
        self.choices = rule_choices(organisation)
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "organisation": self.organisation, "choices": self.choices}

    @property
    def empty_form(self):
        form = self.form(
            auto_id=self.auto_id, prefix=self.add_prefix("__prefix__"), empty_permitted=True,
            use_required_attribute=False, organisation=self.organisation, choices=self.choices,
            renderer=self.renderer,
        )
        self.add_fields(form, None)
        return form

    def _rule_forms(self) -> list[PlacementRuleForm]:
        """The rows that are rules, by their Order (rows without one last, in page order)."""
        rows = []
        for index, form in enumerate(self.forms):
            if index >= self.initial_form_count() and not form.has_changed():
                continue  # the blank row for a new rule, left blank
            if self._should_delete_form(form):
                continue
            order = form.cleaned_data.get("ORDER")
            rows.append((order is None, order or 0, index, form))
        return [form for *_, form in sorted(rows, key=lambda row: row[:3])]

    def clean(self):
        if any(self.errors):
            return
        forms_in_order = self._rule_forms()
        for form, errors in zip(
            forms_in_order,
            placement_rules_errors(organisation=self.organisation, specs=[form.spec() for form in forms_in_order]),
            strict=True,
        ):
            for name, messages in errors.items():
                for message in messages:
                    form.add_error(None if name == "__all__" else name, message)
        if any(self.errors):
            raise forms.ValidationError("Correct the placement rules marked below.")

    def specs(self) -> list[RuleSpec]:
        return [form.spec() for form in self._rule_forms()]


PlacementRuleFormSet = forms.formset_factory(
    PlacementRuleForm, formset=BasePlacementRuleFormSet, extra=1, can_order=True, can_delete=True
)


def rules_initial(organisation: Organisation) -> list[dict]:
    """The stored rules as the formset's initial rows, in order."""
    rules = PlacementRule.objects.filter(organisation=organisation).order_by("position")
    return [
        {
            "kind": rule.kind,
            "group": rule.group_id,
            "department_value": rule.department_value,
            "department": rule.department_id,
            "section": rule.section_id,
            "ORDER": rule.position,
        }
        for rule in rules
    ]
