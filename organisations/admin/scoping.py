"""The admin behaviour every organisation model shares: rows, permissions and choices by role."""
from django.contrib import admin

from organisations import roles
from organisations.models import Agency, Department, Organisation, Section, User

_CHOICE_MODELS = (Agency, Organisation, Department, Section, User)


class RoleScopedAdmin(admin.ModelAdmin):
    """A model admin that shows and allows only what the signed-in user's role gives them."""

    def get_queryset(self, request):
        return roles.restrict(request.user, super().get_queryset(request))

    def _allowed(self, request, action: str, obj=None) -> bool:
        if not roles.is_allowed(request.user, self.opts.model_name, action):
            return False
        # An object outside the user's scope is treated as absent, whatever the action.
        return obj is None or self.get_queryset(request).filter(pk=obj.pk).exists()

    def has_module_permission(self, request):
        return any(roles.is_allowed(request.user, self.opts.model_name, a) for a in (roles.VIEW, roles.CHANGE))

    def has_view_permission(self, request, obj=None):
        return self._allowed(request, roles.VIEW, obj) or self._allowed(request, roles.CHANGE, obj)

    def has_add_permission(self, request):
        return self._allowed(request, roles.ADD)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request, roles.CHANGE, obj)

    def has_delete_permission(self, request, obj=None):
        return self._allowed(request, roles.DELETE, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # Choices come from the same scope as the rows, so nothing outside it can be picked.
        if db_field.related_model in _CHOICE_MODELS:
            kwargs["queryset"] = roles.restrict(request.user, db_field.related_model._default_manager.all())
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def is_everywhere(self, request) -> bool:
        return roles.capability_for(request.user).scope is roles.Scope.EVERYTHING
