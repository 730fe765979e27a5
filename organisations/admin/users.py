"""Admin for people: scoped by reach, with no way to give a role or a move beyond one's own."""
import copy

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.template.loader import render_to_string

from organisations.access import reach
from organisations.actions import (
    user_create,
    user_errors,
    user_set_password,
    user_snapshot,
    user_update,
)
from organisations.audit import audit_events_for_user
from organisations.forms import UserAdminChangeForm, UserAdminCreationForm
from organisations.models import Role, User

from .scoping import RoleScopedAdmin, acting_for

_ORGANISATION_FIELDS = ("organisation", "department", "section")
AUDIT_TRAIL_TEMPLATE = "admin/organisations/audit_trail.html"


def _password_form_for(acting):
    """Django's password form, saving through the password action as ``acting``."""

    class ActionPasswordChangeForm(AdminPasswordChangeForm):
        def save(self, commit=True):
            usable = self.cleaned_data.get("set_usable_password", True)
            user_set_password(acting=acting, user=self.user, password=self.cleaned_data["password1"] if usable else None)
            return self.user

    return ActionPasswordChangeForm


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
        ("History", {"fields": ("audit_trail",)}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "usable_password", "password1", "password2")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Organisation", {"fields": _ORGANISATION_FIELDS}),
        ("Administration", {"fields": ("role", "agency")}),
    )
    readonly_fields = ("last_login", "date_joined", "audit_trail")
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
    )
    list_filter = (
        ("organisation", admin.RelatedOnlyFieldListFilter),
        ("department", admin.RelatedOnlyFieldListFilter),
        ("section", admin.RelatedOnlyFieldListFilter),
        "role",
        "is_active",
    )
    list_select_related = ("organisation", "department", "section__department")
    search_fields = ("username", "first_name", "last_name", "email")
    ordering = ("username",)
    filter_horizontal = ()

    class Media:
        css = {"all": ["organisations/admin/audit.css"]}

    @admin.display(description="Changes")
    def audit_trail(self, obj):
        # Every action that changed this person, newest first (organisations.audit).
        return render_to_string(AUDIT_TRAIL_TEMPLATE, {"events": audit_events_for_user(user=obj)})

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if reach(acting_for(request)).may_assign(Role.AGENCY_ADMIN):
            return fieldsets
        # Without Agency Admins to appoint, the agency field has nothing to offer.
        return [
            (name, {**options, "fields": tuple(f for f in options["fields"] if f != "agency")})
            for name, options in fieldsets
        ]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "organisation" and not self.is_everywhere(request):
            # A person without an organisation would drop out of the admin's own reach.
            kwargs["required"] = True
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "role":
            kwargs["choices"] = reach(acting_for(request)).assignable_roles()
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    # --- writes, through the actions -----------------------------------------------------------

    def action_errors(self, request, instance) -> dict:
        stored = User.objects.filter(pk=instance.pk).first() if instance.pk else None
        before = user_snapshot(stored) if stored else None
        return user_errors(acting=acting_for(request), before=before, user=instance)

    def save_model(self, request, obj, form, change):
        if change:
            user_update(acting=acting_for(request), user=obj)
        else:
            user_create(acting=acting_for(request), user=obj)

    def user_change_password(self, request, id, form_url=""):
        # Django's view, with a form that saves through the password action as this person.
        for_request = copy.copy(self)
        for_request.change_password_form = _password_form_for(acting_for(request))
        return DjangoUserAdmin.user_change_password(for_request, request, id, form_url)
