"""The user admin with Entra ID's side of each person: who manages them, and their timeline."""
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from organisations.actions import user_snapshot
from organisations.admin.scoping import acting_for
from organisations.admin.users import UserAdmin
from organisations.models import User

from ..activity.panels import render_user_timeline
from ..models import ScimUser
from ..placement.actions import placement_release
from ..users.actions import (
    managed_user_errors,
    managed_user_update,
    scim_user_detach,
    scim_user_is_managed,
)
from ..users.mapping import prompt_fields_owned


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


MANAGED_NOTE = (
    "Managed by Entra ID: the sign-in name, name and email come from the organisation's Entra ID and "
    "are changed there. This person signs in with Microsoft and has no password. Use “Detach from "
    "Entra ID” on the user list to manage them in Prompt instead."
)


class ProvisioningUserAdmin(UserAdmin):
    list_display = (*UserAdmin.list_display, "provisioned_by_entra")
    list_filter = (*UserAdmin.list_filter, ProvisionedFilter)
    list_select_related = (*UserAdmin.list_select_related, "scim")
    readonly_fields = (*UserAdmin.readonly_fields, "provisioning_timeline", "sign_in_method", "placement")
    actions = ["detach_from_entra"]

    class Media:
        css = {"all": ["scim_provisioning/admin/provisioning.css"]}

    @admin.display(description="Entra ID", boolean=True)
    def provisioned_by_entra(self, obj) -> bool:
        return hasattr(obj, "scim")

    @admin.display(description="Timeline")
    def provisioning_timeline(self, obj):
        # Entra ID's requests that changed this user, newest first (scim_provisioning.activity).
        return render_user_timeline(user=obj)

    @admin.display(description="Password")
    def sign_in_method(self, obj):
        return "None: signs in with Microsoft"

    @admin.display(description="Placed by")
    def placement(self, obj):
        scim_user = ScimUser.objects.filter(user=obj).select_related("placement_rule").first()
        if scim_user is None:
            return "-"
        if scim_user.placement == ScimUser.Placement.RULE and scim_user.placement_rule is not None:
            return f"Placement rule {scim_user.placement_rule.position}: {scim_user.placement_rule.condition}"
        if scim_user.placement != ScimUser.Placement.BY_HAND:
            return "Entra ID: the Default Department and Section, as no placement rule matches"
        release_url = reverse(f"{self.admin_site.name}:organisations_user_placement_release", args=[obj.pk])
        # A submit button of the change form itself, posting to its own URL: forms cannot nest.
        return format_html(
            'Moved by hand: placement rules leave this person here. '
            '<button type="submit" class="button" formaction="{}" formnovalidate name="_release_placement">'
            "Let Entra ID place this person</button>",
            release_url,
        )

    def get_urls(self):
        return [
            path(
                "<id>/placement/release/",
                self.admin_site.admin_view(self.placement_release_view),
                name="organisations_user_placement_release",
            ),
            *super().get_urls(),
        ]

    @method_decorator(require_POST)
    def placement_release_view(self, request, id):
        user = self.get_object(request, unquote(id))
        if user is None or not self.has_change_permission(request, user):
            raise Http404("No such user.")
        if placement_release(acting=acting_for(request), user=user):
            messages.success(request, f"Entra ID places {user} again, by the placement rules or the defaults.")
        else:
            messages.info(request, f"Entra ID already places {user}.")
        return HttpResponseRedirect(reverse(f"{self.admin_site.name}:organisations_user_change", args=[user.pk]))

    def _managed(self, obj) -> bool:
        return obj is not None and obj.pk is not None and scim_user_is_managed(obj)

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is None:
            return fieldsets
        fieldsets.append(("Provisioning", {"fields": ("provisioning_timeline",)}))
        if self._managed(obj):
            fieldsets = [
                (name, {**options, "fields": (*options["fields"], "placement")}) if name == "Organisation" else (name, options)
                for name, options in fieldsets
            ]
            name, options = fieldsets[0]
            fields = tuple("sign_in_method" if field == "password" else field for field in options["fields"])
            fieldsets[0] = (name, {**options, "fields": fields, "description": MANAGED_NOTE})
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        if self._managed(obj):
            return (*readonly, *prompt_fields_owned())
        return readonly

    def action_errors(self, request, instance) -> dict:
        errors = super().action_errors(request, instance)
        stored = User.objects.filter(pk=instance.pk).first() if instance.pk else None
        if stored is not None and scim_user_is_managed(stored):
            for name, messages_ in managed_user_errors(before=user_snapshot(stored), user=instance).items():
                errors.setdefault(name, []).extend(messages_)
        return errors

    def save_model(self, request, obj, form, change):
        if change:
            managed_user_update(acting=acting_for(request), user=obj)
        else:
            super().save_model(request, obj, form, change)

    def user_change_password(self, request, id, form_url=""):
        user = self.get_object(request, id)
        if self._managed(user):
            # A password would let the person around the tenant's own sign-in policies.
            messages.error(request, "Entra ID manages this person, who signs in with Microsoft: no password can be set.")
            return HttpResponseRedirect(reverse(f"{self.admin_site.name}:organisations_user_change", args=[user.pk]))
        return super().user_change_password(request, id, form_url)

    @admin.action(description="Detach selected users from Entra ID")
    def detach_from_entra(self, request, queryset):
        acting = acting_for(request)
        detached = sum(scim_user_detach(acting=acting, user=user) for user in queryset.filter(scim__isnull=False))
        if detached:
            messages.success(
                request,
                f"Detached {detached} user(s) from Entra ID: they are now managed in Prompt, and Entra ID no "
                "longer finds them.",
            )
        else:
            messages.info(request, "None of the selected users is managed by Entra ID.")
