"""The Azure AD page's safeguards: the mass-deactivation brake, provisioning health and "Check the connection".

Its URLs sit under the Azure AD page's and are checked the same way (``_organisation_for_azure_ad``):
another organisation's are a 404. Release and Keep holding are the brake's actions, with the
signed-in admin as their actor; the self-check runs Entra's Test Connection probes in-process.
"""
from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_POST

from organisations.admin.scoping import acting_for
from organisations.models import Organisation

from ..brake import actions as brake_actions
from ..brake.forms import BrakeSettingsForm
from ..brake.selectors import brake_state, held_deactivations
from ..health.alerts import health_state
from ..health.self_check import connection_check

REVIEW_PAGE_SIZE = 100


class ProvisioningHealthPageMixin:
    """Adds the brake's banner, settings, review, release and keep, the health panel and the self-check."""

    def get_urls(self):
        route = self._azure_ad_route
        return [
            route("brake/", self.brake_review_view, "azure_ad_brake"),
            route("brake/release/", self.brake_release_view, "azure_ad_brake_release"),
            route("brake/keep/", self.brake_keep_view, "azure_ad_brake_keep"),
            route("check/", self.connection_check_view, "azure_ad_check"),
            *super().get_urls(),
        ]

    def _health_context(self, organisation: Organisation) -> dict:
        state = brake_state(organisation=organisation)
        return {
            "brake": state,
            "brake_form": BrakeSettingsForm.for_state(state),
            "health": health_state(organisation=organisation, brake=state),
            "brake_review_url": self._azure_ad_url(organisation, "azure_ad_brake"),
            "brake_release_url": self._azure_ad_url(organisation, "azure_ad_brake_release"),
            "brake_keep_url": self._azure_ad_url(organisation, "azure_ad_brake_keep"),
            "check_url": self._azure_ad_url(organisation, "azure_ad_check"),
        }

    def _azure_ad_context(self, request, organisation: Organisation, form, rules) -> dict:
        return {**super()._azure_ad_context(request, organisation, form, rules), **self._health_context(organisation)}

    def brake_review_view(self, request, id):
        organisation = self._organisation_for_azure_ad(request, id)
        page = Paginator(held_deactivations(organisation=organisation), REVIEW_PAGE_SIZE).get_page(request.GET.get("page"))
        context = {
            **self.admin_site.each_context(request),
            **self._health_context(organisation),
            "title": "Held deactivations",
            "subtitle": str(organisation),
            "opts": self.opts,
            "original": organisation,
            "page_obj": page,
            "azure_ad_url": self._azure_ad_url(organisation),
        }
        return TemplateResponse(request, "admin/scim_provisioning/brake_review.html", context)

    @method_decorator(require_POST)
    def brake_release_view(self, request, id):
        organisation = self._organisation_for_azure_ad(request, id)
        release = brake_actions.brake_release(acting=acting_for(request), organisation=organisation)
        if release.was_engaged or release.released:
            self.log_change(request, organisation, f"Released {release.released} held deactivation(s).")
            noun = "deactivation goes" if release.released == 1 else "deactivations go"
            messages.success(
                request,
                f"Released: {release.released} held {noun} through when Entra ID retries. "
                "New deactivations are counted from now.",
            )
        else:
            messages.info(request, "Nothing was on hold.")
        return HttpResponseRedirect(self._azure_ad_url(organisation))

    @method_decorator(require_POST)
    def brake_keep_view(self, request, id):
        organisation = self._organisation_for_azure_ad(request, id)
        if brake_actions.brake_keep(acting=acting_for(request), organisation=organisation):
            self.log_change(request, organisation, "Kept the deactivations on hold.")
            messages.success(request, "The deactivations stay on hold until you release them.")
        else:
            messages.info(request, "Nothing was on hold.")
        return HttpResponseRedirect(self._azure_ad_url(organisation))

    @method_decorator(require_POST)
    def connection_check_view(self, request, id):
        organisation = self._organisation_for_azure_ad(request, id)
        check = connection_check(
            acting=acting_for(request), organisation=organisation, site_url=request.build_absolute_uri("/")
        )
        # Shown on the page the POST answers: the result is of this moment, not worth storing.
        return self._page(request, organisation, connection_check=check)
