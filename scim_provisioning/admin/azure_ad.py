"""The organisation's "Azure AD" page: SSO and provisioning settings and the provisioning code.

Shaped like Django's change-password page: extra URLs under the organisation's change URL, each
wrapped in ``admin_view`` and re-checking ``has_change_permission`` for this organisation.
"""
from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import get_script_prefix, path, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_POST

from organisations.access import NotInReachError, access_organisation, reach
from organisations.admin.scoping import acting_for
from organisations.audit import audit_events_for_organisation
from organisations.forms import AzureADForm
from organisations.models import Organisation

from ..activity.summary import activity_summary
from ..brake.actions import brake_settings_save
from ..brake.forms import BrakeSettingsForm
from ..codes import actions as code_actions
from ..codes.actions import CODE_NAME
from ..codes.tokens import CODE_PREFIX, active_codes_q
from ..models import PlacementRule, ProvisioningCode, ScimGroup
from ..placement.actions import RulesSaved, placement_rules_save
from ..placement.forms import PlacementRuleFormSet, rules_initial
from ..placement.report import placement_report

# The Tenant URL administrators paste into Entra ID.
SCIM_BASE_PATH = "api/authentication/scim"


class AzureADPageMixin:
    """Adds the Azure AD page and its code actions to the organisation admin."""

    azure_ad_template = "admin/organisations/organisation/azure_ad.html"

    def _azure_ad_route(self, suffix: str, view, name: str):
        """A URL below the organisation's Azure AD page, behind the admin's own checks."""
        return path(
            f"<id>/azure-ad/{suffix}",
            self.admin_site.admin_view(view),
            name=f"{self.opts.app_label}_{self.opts.model_name}_{name}",
        )

    def get_urls(self):
        route = self._azure_ad_route
        return [
            route("", self.azure_ad_view, "azure_ad"),
            route("codes/<int:code_id>/reveal/", self.code_reveal_view, "azure_ad_code_reveal"),
            route("codes/generate/", self.code_generate_view, "azure_ad_code_generate"),
            route("codes/revoke-previous/", self.code_revoke_previous_view, "azure_ad_code_revoke_previous"),
            *super().get_urls(),
        ]

    def _organisation_for_azure_ad(self, request, id) -> Organisation:
        acting = acting_for(request)
        try:
            organisation = access_organisation(acting=acting, organisation_id=unquote(id))
        except NotInReachError:
            # Another organisation's page is as absent as a missing one.
            raise Http404("No such organisation.") from None
        if not reach(acting).allows(self.opts.model_name, "change"):
            raise PermissionDenied
        return organisation

    def _azure_ad_url(self, organisation: Organisation, name: str = "azure_ad", **kwargs) -> str:
        return reverse(
            f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_{name}",
            kwargs={"id": organisation.pk, **kwargs},
        )

    def azure_ad_view(self, request, id):
        organisation = self._organisation_for_azure_ad(request, id)
        acting = acting_for(request)
        if request.method == "POST":
            form = AzureADForm(request.POST, organisation=organisation, acting=acting)
            # A post without the rules (a client that knows only the settings) leaves them as they are.
            posted_rules = "rules-TOTAL_FORMS" in request.POST
            if posted_rules:
                rules = PlacementRuleFormSet(request.POST, prefix="rules", organisation=organisation)
            else:
                rules = PlacementRuleFormSet(initial=rules_initial(organisation), prefix="rules", organisation=organisation)
            # Likewise the brake's settings.
            posted_brake = "brake-max_people" in request.POST
            brake_form = BrakeSettingsForm(request.POST, prefix="brake") if posted_brake else None
            if form.is_valid() and (not posted_rules or rules.is_valid()) and (not posted_brake or brake_form.is_valid()):
                try:
                    # Settings, rules and brake are one save: a refused rule stores no setting either.
                    with transaction.atomic():
                        update, issued_code = code_actions.azure_ad_settings_save(
                            acting=acting, organisation=organisation, settings=form.settings()
                        )
                        placed = (
                            placement_rules_save(acting=acting, organisation=organisation, specs=rules.specs())
                            if posted_rules
                            else RulesSaved(changed=False, moved=0)
                        )
                        brake_changed = (
                            brake_settings_save(acting=acting, organisation=organisation, settings=brake_form.settings())
                            if posted_brake
                            else []
                        )
                except ValidationError as exc:
                    # The organisation changed between the form's checks and the locked write.
                    form.add_error(None, exc)
                else:
                    change_message = []
                    fields = [*update.changed_fields, *(["Placement rules"] if placed.changed else []), *brake_changed]
                    if fields:
                        change_message.append({"changed": {"fields": fields}})
                    if issued_code:
                        change_message.append({"added": {"name": CODE_NAME, "object": str(issued_code)}})
                    if change_message:
                        self.log_change(request, organisation, change_message)
                    if issued_code:
                        messages.success(
                            request,
                            f"The Azure AD settings were saved. A {CODE_NAME} was generated: reveal it below "
                            "and paste it into Entra ID with the Tenant URL.",
                        )
                    else:
                        messages.success(request, "The Azure AD settings were saved.")
                    if placed.changed:
                        noun = "person was" if placed.moved == 1 else "people were"
                        messages.info(request, f"The placement rules were saved: {placed.moved} {noun} placed again.")
                    return HttpResponseRedirect(request.path)
        else:
            form = AzureADForm(organisation=organisation, acting=acting)
            rules = PlacementRuleFormSet(
                initial=self._rules_initial(request, organisation), prefix="rules", organisation=organisation
            )
            brake_form = None
        context = self._azure_ad_context(request, organisation, form, rules)
        if brake_form is not None:
            # The brake's settings as posted, with their errors.
            context["brake_form"] = brake_form
            context["has_errors"] = context["has_errors"] or bool(brake_form.errors)
        return TemplateResponse(request, self.azure_ad_template, context)

    def _page(self, request, organisation: Organisation, **extra) -> TemplateResponse:
        """The Azure AD page as a GET shows it, with ``extra`` (a new secret, a bound form, a check's result)."""
        form = AzureADForm(organisation=organisation, acting=acting_for(request))
        rules = PlacementRuleFormSet(initial=rules_initial(organisation), prefix="rules", organisation=organisation)
        context = {**self._azure_ad_context(request, organisation, form, rules), **extra}
        return TemplateResponse(request, self.azure_ad_template, context)

    def _rules_initial(self, request, organisation: Organisation) -> list[dict]:
        """The stored rules, plus the row an "add rule" link of the report asked for."""
        initial = rules_initial(organisation)
        department_value = request.GET.get("add_department", "").strip()[:256]
        group = None
        if request.GET.get("add_group"):
            try:
                group = ScimGroup.objects.filter(organisation=organisation, pk=request.GET["add_group"]).first()
            except ValidationError:
                group = None  # not a group id: there is nothing to add
        added = None
        if department_value:
            added = {"kind": PlacementRule.Kind.DEPARTMENT, "department_value": department_value}
        elif group is not None:
            added = {"kind": PlacementRule.Kind.GROUP, "group": group.pk}
        if added:
            initial.append({**added, "ORDER": len(initial) + 1})
        return initial

    def _azure_ad_context(self, request, organisation: Organisation, form: AzureADForm, rules) -> dict:
        fieldsets = [
            ("Azure SSO", {"fields": ["azure_sso_enabled", "azure_tenant_id"]}),
            ("User Creation Details", {"fields": ["provisioning_enabled", "default_department", "default_section"]}),
            ("Sign-in domains", {"fields": ["sign_in_domains"]}),
        ]
        codes = list(
            organisation.provisioning_codes.filter(active_codes_q()).select_related("created_by").order_by(
                "-created_at", "-id"
            )
        )
        current = codes[0] if codes else None
        last_reveal = current.reveals.select_related("revealed_by").first() if current else None
        return {
            **self.admin_site.each_context(request),
            "title": "Azure AD",
            "subtitle": str(organisation),
            "adminform": admin.helpers.AdminForm(form, fieldsets, {}),
            "form": form,
            "opts": self.opts,
            "original": organisation,
            "is_popup": False,
            "save_as": False,
            "has_view_permission": True,
            "has_change_permission": True,
            "media": self.media + form.media,
            "rules": rules,
            "has_errors": bool(form.errors) or (rules.is_bound and rules.total_error_count() > 0),
            "report": placement_report(organisation=organisation),
            "codes": codes,
            "current_code": current,
            "last_reveal": last_reveal,
            "masked_code": f"{CODE_PREFIX}{'•' * 24}{current.last_characters}" if current else "",
            "tenant_url": request.build_absolute_uri(get_script_prefix() + SCIM_BASE_PATH),
            "reveal_url": self._azure_ad_url(organisation, "azure_ad_code_reveal", code_id=current.pk)
            if current
            else "",
            "generate_url": self._azure_ad_url(organisation, "azure_ad_code_generate"),
            "revoke_previous_url": self._azure_ad_url(organisation, "azure_ad_code_revoke_previous"),
            "grace_hours": settings.PROVISIONING_CODE_GRACE_HOURS,
            "azure_ad_url": self._azure_ad_url(organisation),
            "activity": activity_summary(organisation=organisation),
            "audit_events": audit_events_for_organisation(organisation=organisation),
        }

    @method_decorator(require_POST)
    @sensitive_variables("plaintext")
    def code_reveal_view(self, request, id, code_id):
        organisation = self._organisation_for_azure_ad(request, id)
        if not organisation.provisioning_enabled:
            return _no_store(JsonResponse({"error": "Automated User Provisioning is not enabled."}, status=409))
        code = get_object_or_404(
            ProvisioningCode.objects.filter(active_codes_q()), organisation=organisation, pk=code_id
        )
        plaintext = code_actions.provisioning_code_reveal(acting=acting_for(request), code=code)
        return _no_store(JsonResponse({"code": plaintext}))

    @method_decorator(require_POST)
    @sensitive_variables("_plaintext")
    def code_generate_view(self, request, id):
        organisation = self._organisation_for_azure_ad(request, id)
        try:
            code, _plaintext = code_actions.provisioning_code_issue(acting=acting_for(request), organisation=organisation)
        except code_actions.ProvisioningNotEnabledError:
            messages.error(request, f"Enable Automated User Provisioning before generating a {CODE_NAME}.")
        else:
            self.log_change(request, organisation, [{"added": {"name": CODE_NAME, "object": str(code)}}])
            messages.success(
                request,
                f"A new {CODE_NAME} ending {code.last_characters} was generated. Paste it into Entra ID: the "
                "previous code keeps working until the new one is first used, or for "
                f"{settings.PROVISIONING_CODE_GRACE_HOURS} hours at most.",
            )
        return HttpResponseRedirect(self._azure_ad_url(organisation))

    @method_decorator(require_POST)
    def code_revoke_previous_view(self, request, id):
        organisation = self._organisation_for_azure_ad(request, id)
        revoked = code_actions.provisioning_code_revoke_previous(acting=acting_for(request), organisation=organisation)
        if revoked:
            noun = CODE_NAME if revoked == 1 else f"{CODE_NAME}s"
            self.log_change(request, organisation, f"Revoked {revoked} previous {noun}.")
            messages.success(request, f"Revoked {revoked} previous {noun}: only the newest code works now.")
        else:
            messages.info(request, "There was no previous code to revoke.")
        return HttpResponseRedirect(self._azure_ad_url(organisation))


def _no_store(response):
    # The plaintext must not be kept by the browser or any proxy.
    response["Cache-Control"] = "no-store"
    return response
