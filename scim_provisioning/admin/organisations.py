"""The organisation admin with its Azure AD page (settings, codes, activity and changes)."""
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from organisations.admin.structure import OrganisationAdmin

from .azure_ad import AzureADPageMixin
from .health import ProvisioningHealthPageMixin
from .oauth_client import OAuthClientPageMixin


class ProvisioningOrganisationAdmin(ProvisioningHealthPageMixin, OAuthClientPageMixin, AzureADPageMixin, OrganisationAdmin):
    # The Azure AD settings have their own page, like a user's password.
    fields = None
    fieldsets = (
        (None, {"fields": ("name", "slug", "agency")}),
        ("Azure AD", {"fields": ("azure_ad_summary",)}),
    )
    readonly_fields = ("azure_ad_summary",)

    def get_fieldsets(self, request, obj=None):
        # A new organisation has no Azure AD page yet.
        return self.fieldsets if obj else self.fieldsets[:1]

    @admin.display(description="Azure AD")
    def azure_ad_summary(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        url = reverse(f"{self.admin_site.name}:organisations_organisation_azure_ad", args=[obj.pk])
        return format_html(
            'Azure SSO {} · Automated User Provisioning {} · <a href="{}">Change Azure AD settings</a>',
            "on" if obj.azure_sso_enabled else "off",
            "on" if obj.provisioning_enabled else "off",
            url,
        )
