"""The admin behaviour every organisation model shares: rows, permissions, choices and writes by reach."""
from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import ValidationError

from organisations.access import Actor, reach
from organisations.actions import structure_delete, structure_errors, structure_save
from organisations.models import Agency, Department, Organisation, Section, User

_CHOICE_MODELS = (Agency, Organisation, Department, Section, User)


def acting_for(request) -> Actor:
    """The actor behind an admin request: the signed-in person."""
    return Actor.person(request.user)


def checked_form(form_class, rules):
    """Return ``form_class`` also showing ``rules(instance)`` (an action's own checks) as form errors.

    The rules run once the form has copied its data onto the instance and found nothing wrong
    with it itself, so they judge exactly what the action will be asked to save; an error on a
    field the form does not show becomes an error of the whole form.
    """

    class Checked(form_class):
        def _post_clean(self):
            super()._post_clean()
            if self._errors:
                return
            for name, messages in rules(self.instance).items():
                for message in messages:
                    field = name if name in self.fields else None
                    self.add_error(field, message if isinstance(message, ValidationError) else str(message))

    Checked.__name__ = form_class.__name__
    return Checked


class RoleScopedAdmin(admin.ModelAdmin):
    """A model admin that shows and allows only what the signed-in person reaches (``access``).

    Writes go through ``organisations.actions``, whose rules the forms show as field errors.
    """

    def get_queryset(self, request):
        return reach(acting_for(request)).restrict(super().get_queryset(request))

    def _allowed(self, request, action: str, obj=None) -> bool:
        if not reach(acting_for(request)).allows(self.opts.model_name, action):
            return False
        # An object outside the person's reach is treated as absent, whatever the action.
        return obj is None or self.get_queryset(request).filter(pk=obj.pk).exists()

    def has_module_permission(self, request):
        actor_reach = reach(acting_for(request))
        return any(actor_reach.allows(self.opts.model_name, a) for a in ("view", "change"))

    def has_view_permission(self, request, obj=None):
        return self._allowed(request, "view", obj) or self._allowed(request, "change", obj)

    def has_add_permission(self, request):
        return self._allowed(request, "add")

    def has_change_permission(self, request, obj=None):
        return self._allowed(request, "change", obj)

    def has_delete_permission(self, request, obj=None):
        return self._allowed(request, "delete", obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # Choices come from the same reach as the rows, so nothing outside it can be picked.
        if db_field.related_model in _CHOICE_MODELS:
            kwargs["queryset"] = reach(acting_for(request)).restrict(db_field.related_model._default_manager.all())
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def is_everywhere(self, request) -> bool:
        return reach(acting_for(request)).is_everything

    # --- writes, through the actions -----------------------------------------------------------

    def action_errors(self, request, instance) -> dict:
        """The action's own rules for saving ``instance``, shown on the form."""
        return structure_errors(acting=acting_for(request), obj=instance)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return checked_form(form, lambda instance: self.action_errors(request, instance))

    def save_model(self, request, obj, form, change):
        structure_save(acting=acting_for(request), obj=obj)

    def delete_model(self, request, obj):
        structure_delete(acting=acting_for(request), obj=obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            structure_delete(acting=acting_for(request), obj=obj)
