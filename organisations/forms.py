"""Forms of the organisations admin: the Azure AD page and the user forms."""
from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from .access import Actor
from .actions import azure_ad_errors
from .azure_ad import AzureADSettings, TenancyIdError, parse_tenancy_id
from .domains import parse_domains
from .models import Department, Organisation, Section, User


class SectionSelect(forms.Select):
    """A select whose options name their department, so the page can follow the chosen one."""

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        instance = getattr(value, "instance", None)
        if instance is not None:
            option["attrs"]["data-department"] = str(instance.department_id)
        return option


class AzureADForm(forms.Form):
    """The organisation's Azure AD settings; the rules live in ``organisations.azure_ad``."""

    azure_sso_enabled = forms.BooleanField(
        label="Enable Azure SSO",
        required=False,
        help_text="Let people of this organisation sign in with their Microsoft work account.",
    )
    azure_tenant_id = forms.CharField(
        label="Tenancy ID",
        required=False,
        max_length=100,
        help_text="The Tenant ID shown on the Overview page of your Microsoft Entra ID.",
        widget=forms.TextInput(
            attrs={
                "class": "vTextField",
                "autocomplete": "off",
                "spellcheck": "false",
                "placeholder": "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
            }
        ),
    )
    provisioning_enabled = forms.BooleanField(
        label="Enable Automated User Provisioning",
        required=False,
        help_text="Let Entra ID create, update and deactivate this organisation's users.",
    )
    default_department = forms.ModelChoiceField(
        label="Default Department",
        queryset=Department.objects.none(),
        required=False,
        help_text="New users are created in this department.",
        error_messages={"invalid_choice": "Choose a department of this organisation."},
    )
    default_section = forms.ModelChoiceField(
        label="Default Section",
        queryset=Section.objects.none(),
        required=False,
        widget=SectionSelect,
        help_text="New users are created in this section of the Default Department.",
        error_messages={"invalid_choice": "Choose a section of this organisation."},
    )
    sign_in_domains = forms.CharField(
        label="Sign-in domains",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3, "class": "vLargeTextField", "spellcheck": "false"}),
        help_text=(
            "Email domains of this organisation, one per line (such as contoso.com). Nobody else can then "
            "create or rename people into them, and /signin/ sends their addresses here."
        ),
    )

    def __init__(self, *args, organisation: Organisation, acting: Actor, **kwargs):
        current = AzureADSettings.of(organisation)
        kwargs.setdefault(
            "initial",
            {
                "azure_sso_enabled": current.azure_sso_enabled,
                "azure_tenant_id": str(current.azure_tenant_id) if current.azure_tenant_id else "",
                "provisioning_enabled": current.provisioning_enabled,
                "default_department": current.default_department,
                "default_section": current.default_section,
                "sign_in_domains": "\n".join(current.sign_in_domains),
            },
        )
        super().__init__(*args, **kwargs)
        self.organisation = organisation
        self.acting = acting
        self.fields["default_department"].queryset = Department.objects.filter(organisation=organisation)
        self.fields["default_section"].queryset = Section.objects.filter(
            department__organisation=organisation
        ).select_related("department").order_by("department__name", "name")

    def clean_azure_tenant_id(self):
        try:
            return parse_tenancy_id(self.cleaned_data["azure_tenant_id"])
        except TenancyIdError as exc:
            raise forms.ValidationError(str(exc), code="invalid") from exc

    def clean_sign_in_domains(self):
        domains, errors = parse_domains(self.cleaned_data["sign_in_domains"])
        if errors:
            raise forms.ValidationError(errors)
        return tuple(domains)

    def clean(self):
        cleaned = super().clean()
        if "azure_tenant_id" in self.errors:
            # A malformed ID is reported once, not again as missing.
            return cleaned
        invalid = set(self.errors)
        errors = azure_ad_errors(acting=self.acting, organisation=self.organisation, settings=self.settings())
        for field, messages in errors.items():
            # One error per field is enough, and a section is judged against a valid department only.
            if field not in invalid and not (field == "default_section" and "default_department" in invalid):
                for message in messages:
                    self.add_error(field, message)
        return cleaned

    def settings(self) -> AzureADSettings:
        data = self.cleaned_data
        return AzureADSettings(
            azure_sso_enabled=bool(data.get("azure_sso_enabled")),
            azure_tenant_id=data.get("azure_tenant_id"),
            provisioning_enabled=bool(data.get("provisioning_enabled")),
            default_department=data.get("default_department"),
            default_section=data.get("default_section"),
            sign_in_domains=data.get("sign_in_domains") or (),
        )


class UserAdminChangeForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User
        fields = "__all__"


class UserAdminCreationForm(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("username",)
