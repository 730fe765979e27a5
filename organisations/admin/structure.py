"""Admin for agencies, organisations, departments and sections."""
from django.contrib import admin

from organisations.models import Agency, Department, Organisation, Section

from .scoping import RoleScopedAdmin


@admin.register(Agency)
class AgencyAdmin(RoleScopedAdmin):
    list_display = ("name", "slug")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Organisation)
class OrganisationAdmin(RoleScopedAdmin):
    list_display = ("name", "agency", "azure_sso_enabled", "provisioning_enabled")
    list_filter = (("agency", admin.RelatedOnlyFieldListFilter), "azure_sso_enabled", "provisioning_enabled")
    list_select_related = ("agency",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    fields = ("name", "slug", "agency")

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


class FixedParentAdmin(RoleScopedAdmin):
    """A model whose parent (``parent_field``) is chosen when it is created and never changes.

    Moving a department to another organisation, or a section to another department, would
    carry its people and an organisation's defaults across with it.
    """

    parent_field = ""

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, self.parent_field) if obj is not None else self.readonly_fields


@admin.register(Department)
class DepartmentAdmin(FixedParentAdmin):
    parent_field = "organisation"
    list_display = ("name", "organisation")
    list_filter = (("organisation", admin.RelatedOnlyFieldListFilter),)
    list_select_related = ("organisation",)
    search_fields = ("name",)


@admin.register(Section)
class SectionAdmin(FixedParentAdmin):
    parent_field = "department"
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
