"""Admin for users: scoped by role, with no way to give a role above one's own."""
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from organisations import roles
from organisations.forms import UserAdminChangeForm, UserAdminCreationForm
from organisations.models import User
from organisations.services import user_deactivate, user_reactivate
from scim_provisioning.panels import render_user_timeline

from .scoping import RoleScopedAdmin

_ORGANISATION_FIELDS = ("organisation", "department", "section")


class ProvisionedFilter(admin.SimpleListFilter):
    """Users Entra ID provisions (or has taken over) versus users created by hand."""

    title = "provisioned"
    parameter_name = "provisioned"

    def lookups(self, request, model_admin):
        return (("entra", "By Entra ID"), ("hand", "By hand"))

    def queryset(self, request, queryset):
        if self.value() == "entra":
            return queryset.filter(scim__isnull=False)
        if self.value() == "hand":
            return queryset.filter(scim__isnull=True)
        return queryset


@admin.register(User)
class UserAdmin(RoleScopedAdmin, DjangoUserAdmin):
    form = UserAdminChangeForm
    add_form = UserAdminCreationForm
    # is_staff follows the role; is_superuser, groups and permissions are not used by Prompt.
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Organisation", {"fields": _ORGANISATION_FIELDS}),
        ("Administration", {"fields": ("role", "agency", "is_active")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
        ("Provisioning", {"fields": ("provisioning_timeline",)}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "usable_password", "password1", "password2")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Organisation", {"fields": _ORGANISATION_FIELDS}),
        ("Administration", {"fields": ("role", "agency")}),
    )
    readonly_fields = ("last_login", "date_joined", "provisioning_timeline")
    list_display = (
        "username",
        "email",
        "first_name",
        "last_name",
        "organisation",
        "department",
        "section",
        "role",
        "is_active",
        "provisioned_by_entra",
    )
    list_filter = (
        ("organisation", admin.RelatedOnlyFieldListFilter),
        ("department", admin.RelatedOnlyFieldListFilter),
        ("section", admin.RelatedOnlyFieldListFilter),
        "role",
        "is_active",
        ProvisionedFilter,
    )
    list_select_related = ("organisation", "department", "section__department", "scim")
    search_fields = ("username", "first_name", "last_name", "email")
    ordering = ("username",)
    filter_horizontal = ()

    @admin.display(description="Entra ID", boolean=True)
    def provisioned_by_entra(self, obj) -> bool:
        return hasattr(obj, "scim")

    @admin.display(description="Timeline")
    def provisioning_timeline(self, obj):
        # Entra ID's requests that changed this user, newest first (scim_provisioning.activity).
        return render_user_timeline(user=obj)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if roles.Role.AGENCY_ADMIN in roles.capability_for(request.user).assignable_roles:
            return fieldsets
        # Without Agency Admins to appoint, the agency field has nothing to offer.
        return [
            (name, {**options, "fields": tuple(f for f in options["fields"] if f != "agency")})
            for name, options in fieldsets
        ]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "organisation" and not self.is_everywhere(request):
            # A user without an organisation would drop out of the admin's own scope.
            kwargs["required"] = True
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "role":
            kwargs["choices"] = roles.assignable_roles(request.user)
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        # Switching is_active goes through the services, which also end the person's sessions.
        switched = change and "is_active" in form.changed_data
        deactivating = switched and not obj.is_active
        if switched:
            obj.is_active = not obj.is_active
        super().save_model(request, obj, form, change)
        if deactivating:
            user_deactivate(user=obj)
        elif switched:
            user_reactivate(user=obj)
