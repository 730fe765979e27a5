"""Admin for agencies, organisations, departments and sections."""
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from organisations.models import Agency, Department, Organisation, Section

from .azure_ad import AzureADPageMixin
from .scoping import RoleScopedAdmin


@admin.register(Agency)
class AgencyAdmin(RoleScopedAdmin):
    list_display = ("name", "slug")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Organisation)
class OrganisationAdmin(AzureADPageMixin, RoleScopedAdmin):
    list_display = ("name", "agency", "azure_sso_enabled", "provisioning_enabled")
    list_filter = (("agency", admin.RelatedOnlyFieldListFilter), "azure_sso_enabled", "provisioning_enabled")
    list_select_related = ("agency",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    # The Azure AD settings have their own page, like a user's password.
    fieldsets = (
        (None, {"fields": ("name", "slug", "agency")}),
        ("Azure AD", {"fields": ("azure_ad_summary",)}),
    )
    readonly_fields = ("azure_ad_summary",)

    def get_fieldsets(self, request, obj=None):
        # A new organisation has no Azure AD page yet.
        return self.fieldsets if obj else self.fieldsets[:1]

    def get_readonly_fields(self, request, obj=None):
        # Only Prompt Admins move an organisation between agencies.
        if obj is not None and not self.is_everywhere(request):
            return (*self.readonly_fields, "agency")
        return self.readonly_fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "agency" and not self.is_everywhere(request):
            # An Agency Admin's new organisation must land in their agency, or they would lose it.
            kwargs["required"] = True
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="Azure AD")
    def azure_ad_summary(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        url = reverse(f"{self.admin_site.name}:organisations_organisation_azure_ad", args=[obj.pk])
        return format_html(
            "Azure SSO {} · Automated User Provisioning {} · <a href=\"{}\">Change Azure AD settings</a>",
            "on" if obj.azure_sso_enabled else "off",
            "on" if obj.provisioning_enabled else "off",
            url,
        )


@admin.register(Department)
class DepartmentAdmin(RoleScopedAdmin):
    list_display = ("name", "organisation")
    list_filter = (("organisation", admin.RelatedOnlyFieldListFilter),)
    list_select_related = ("organisation",)
    search_fields = ("name",)


@admin.register(Section)
class SectionAdmin(RoleScopedAdmin):
    list_display = ("name", "department", "organisation")
    list_filter = (
        ("department__organisation", admin.RelatedOnlyFieldListFilter),
        ("department", admin.RelatedOnlyFieldListFilter),
    )
    list_select_related = ("department__organisation",)
    search_fields = ("name", "department__name")

    @admin.display(description="organisation", ordering="department__organisation__name")
    def organisation(self, obj):
        return obj.department.organisation
