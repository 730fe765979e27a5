"""The brake's settings on the Azure AD page; its rules live in ``brake.actions``."""
from __future__ import annotations

from django import forms

from .actions import MAX_PEOPLE_LIMIT, BrakeSettings, brake_settings_errors
from .selectors import BrakeState


class BrakeSettingsForm(forms.Form):
    enabled = forms.BooleanField(
        label="Hold mass deactivations",
        required=False,
        help_text="Hold Entra ID's deactivations when too many arrive within 60 minutes, until an administrator "
        "releases them. Creates and updates are never held, nor deactivations made in Prompt.",
    )
    max_people = forms.IntegerField(
        label="More than this many people",
        min_value=1,
        max_value=MAX_PEOPLE_LIMIT,
        widget=forms.NumberInput(attrs={"class": "vIntegerField"}),
    )
    max_percent = forms.IntegerField(
        label="Or more than this % of active people",
        min_value=1,
        max_value=100,
        help_text="Of the active people Entra ID provisioned; the percentage never holds fewer than 5 people.",
        widget=forms.NumberInput(attrs={"class": "vIntegerField"}),
    )

    @classmethod
    def for_state(cls, state: BrakeState, **kwargs) -> BrakeSettingsForm:
        initial = {"enabled": state.enabled, "max_people": state.max_people, "max_percent": state.max_percent}
        return cls(initial=initial, prefix="brake", **kwargs)

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            for name, messages in brake_settings_errors(self.settings()).items():
                for message in messages:
                    self.add_error(name, message)
        return cleaned

    def settings(self) -> BrakeSettings:
        data = self.cleaned_data
        return BrakeSettings(
            enabled=bool(data.get("enabled")), max_people=data["max_people"], max_percent=data["max_percent"]
        )
