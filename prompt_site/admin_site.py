"""The Prompt admin site: open to the admin roles only."""
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from organisations.access import can_use_admin


class RoleAuthenticationForm(AdminAuthenticationForm):
    """The admin sign-in form, refusing people without an admin role."""

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not can_use_admin(user):
            raise ValidationError(self.error_messages["invalid_login"], code="invalid_login",
                                  params={"username": self.username_field.verbose_name})


class PromptAdminSite(admin.AdminSite):
    """The admin, for Prompt Admins, Agency Admins and Admins (see ``organisations.roles``).

    The role is what lets someone in. ``is_staff`` is derived from the role whenever a user is
    saved, so Django's staff checks agree with it, but a hand-set ``is_staff`` (or
    ``is_superuser``) without an admin role grants nothing here.
    """

    site_header = "Prompt administration"
    site_title = "Prompt admin"
    index_title = "Administration"
    login_form = RoleAuthenticationForm

    def has_permission(self, request):
        return can_use_admin(request.user)
