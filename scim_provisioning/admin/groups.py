"""Entra ID's groups in the admin: read-only, since Entra ID owns them; each shows the rules that use it."""
from __future__ import annotations

from django.contrib import admin
from django.db.models import Prefetch

from organisations import roles
from organisations.access import reach
from organisations.admin.scoping import acting_for

from ..models import PlacementRule


class ScimGroupAdmin(admin.ModelAdmin):
    list_display = ("display_name", "external_id", "member_count", "used_by_rules", "organisation")
    search_fields = ("display_name", "external_id")
    fields = ("display_name", "external_id", "member_count", "used_by_rules", "organisation", "created", "last_modified")
    readonly_fields = fields
    list_select_related = ("organisation",)

    def get_queryset(self, request):
        # Only the groups of the organisations the signed-in person reaches (organisations.access).
        queryset = super().get_queryset(request).filter(reach(acting_for(request)).organisations_q("organisation__"))
        return queryset.prefetch_related(
            Prefetch("placement_rules", queryset=PlacementRule.objects.order_by("position"))
        )

    @admin.display(description="Used by")
    def used_by_rules(self, obj) -> str:
        rules = [f"Placement rule {rule.position}" for rule in obj.placement_rules.all()]
        return ", ".join(rules) or "No placement rule"

    def has_module_permission(self, request):
        return reach(acting_for(request)).allows(roles.GROUP, roles.VIEW)

    def has_view_permission(self, request, obj=None):
        if not reach(acting_for(request)).allows(roles.GROUP, roles.VIEW):
            return False
        return obj is None or self.get_queryset(request).filter(pk=obj.pk).exists()

    # Entra ID creates, changes and deletes its groups; the admin only shows them.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
