"""The "OAuth client" part of the Azure AD page: client secrets and workload identity federation.

Its URLs sit under the Azure AD page's and are checked the same way. A new secret is shown on
the page the Generate button answers with (never stored, never cached, never redirected to),
because only its digest is kept: nobody can reveal it later.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.urls import get_script_prefix
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_POST

from organisations.access import NotInReachError
from organisations.admin.scoping import acting_for
from organisations.azure_ad import TenancyIdError, parse_tenancy_id
from organisations.models import Organisation

from ..activity.summary import SECRET_EXPIRY_WARNING
from ..codes.actions import ProvisioningNotEnabledError
from ..models import OAuthClient, OAuthClientSecret
from ..oauth import actions as oauth_actions
from ..oauth.tokens import active_secrets_q

TOKEN_PATH = "api/authentication/oauth2/token"


class OAuthClientForm(forms.Form):
    """Federation and the code switch; the rules live in ``oauth.actions``."""

    application_id = forms.CharField(
        label="Application (client) ID",
        required=False,
        max_length=100,
        help_text="Of the Entra application whose tokens Entra ID presents (App registrations › Overview).",
        widget=forms.TextInput(attrs={"class": "vTextField guid", "autocomplete": "off", "spellcheck": "false"}),
    )
    object_id = forms.CharField(
        label="Object ID",
        required=False,
        max_length=100,
        help_text="Of the same application's service principal (Managed application in local directory › Object ID).",
        widget=forms.TextInput(attrs={"class": "vTextField guid", "autocomplete": "off", "spellcheck": "false"}),
    )
    accepts_code = forms.BooleanField(
        label="Accept the Provisioning Authentication Code",
        required=False,
        help_text="Turn off once Entra ID authenticates with OAuth: the code then stops working.",
    )

    def __init__(self, *args, client: OAuthClient | None, **kwargs):
        kwargs.setdefault(
            "initial",
            {
                "application_id": str(client.application_id) if client and client.application_id else "",
                "object_id": str(client.object_id) if client and client.object_id else "",
                "accepts_code": client.accepts_code if client else True,
            },
        )
        super().__init__(*args, **kwargs)

    def _guid(self, name: str) -> uuid.UUID | None:
        try:
            return parse_tenancy_id(self.cleaned_data[name])
        except TenancyIdError as exc:
            raise forms.ValidationError(str(exc).replace("Tenancy ID", self.fields[name].label), code="invalid") from exc

    def clean_application_id(self):
        return self._guid("application_id")

    def clean_object_id(self):
        return self._guid("object_id")

    def wanted(self) -> oauth_actions.ClientSettings:
        data = self.cleaned_data
        return oauth_actions.ClientSettings(
            application_id=data.get("application_id"),
            object_id=data.get("object_id"),
            accepts_code=bool(data.get("accepts_code")),
        )


@dataclass(frozen=True)
class SecretRow:
    secret: OAuthClientSecret
    expiring: bool
    revoke_url: str


class OAuthClientPageMixin:
    """Adds the OAuth client's actions to the Azure AD page (``AzureADPageMixin``)."""

    def get_urls(self):
        def route(suffix: str, view, name: str):
            return self._azure_ad_route(f"oauth/{suffix}", view, name)

        return [
            route("secrets/generate/", self.client_secret_generate_view, "azure_ad_client_secret_generate"),
            route("secrets/<int:secret_id>/revoke/", self.client_secret_revoke_view, "azure_ad_client_secret_revoke"),
            route("settings/", self.client_settings_view, "azure_ad_client_settings"),
            route("revoke/", self.client_revoke_view, "azure_ad_client_revoke"),
            *super().get_urls(),
        ]

    def _oauth_client_context(self, request, organisation: Organisation, form: OAuthClientForm | None = None) -> dict:
        client = OAuthClient.objects.filter(organisation=organisation).first()
        now = timezone.now()
        secrets = list(client.secrets.filter(active_secrets_q(now)).select_related("created_by")) if client else []
        return {
            "oauth_client": client,
            "client_secrets": [
                SecretRow(
                    secret,
                    expiring=secret.expires_at - now <= SECRET_EXPIRY_WARNING,
                    revoke_url=self._azure_ad_url(organisation, "azure_ad_client_secret_revoke", secret_id=secret.pk),
                )
                for secret in secrets
            ],
            "client_secret_limit_reached": len(secrets) >= oauth_actions.MAX_ACTIVE_SECRETS,
            "client_form": form or OAuthClientForm(client=client),
            "token_url": request.build_absolute_uri(get_script_prefix() + TOKEN_PATH),
            "client_secret_days": settings.PROVISIONING_CLIENT_SECRET_DAYS,
            "token_minutes": oauth_actions.token_lifetime_seconds() // 60,
            "client_secret_generate_url": self._azure_ad_url(organisation, "azure_ad_client_secret_generate"),
            "client_settings_url": self._azure_ad_url(organisation, "azure_ad_client_settings"),
            "client_revoke_url": self._azure_ad_url(organisation, "azure_ad_client_revoke"),
        }

    def _azure_ad_context(self, request, organisation: Organisation, form, rules) -> dict:
        return {
            **super()._azure_ad_context(request, organisation, form, rules),
            **self._oauth_client_context(request, organisation),
        }

    @method_decorator(require_POST)
    @sensitive_variables("plaintext")
    def client_secret_generate_view(self, request, id):
        organisation = self._organisation_for_azure_ad(request, id)
        try:
            secret, plaintext = oauth_actions.oauth_client_secret_issue(acting=acting_for(request), organisation=organisation)
        except ProvisioningNotEnabledError:
            messages.error(request, "Enable Automated User Provisioning before generating a client secret.")
        except oauth_actions.TooManySecretsError:
            messages.error(request, "Two client secrets are active already: revoke the older one before generating another.")
        else:
            self.log_change(request, organisation, [{"added": {"name": oauth_actions.SECRET_NAME, "object": str(secret)}}])
            response = self._page(
                request,
                organisation,
                new_client_secret=plaintext,
                new_client_secret_expires=secret.expires_at,
            )
            # The only time the plaintext exists outside Entra ID: nothing may keep this page.
            response["Cache-Control"] = "no-store"
            return response
        return HttpResponseRedirect(self._azure_ad_url(organisation))

    @method_decorator(require_POST)
    def client_secret_revoke_view(self, request, id, secret_id):
        organisation = self._organisation_for_azure_ad(request, id)
        try:
            secret = oauth_actions.oauth_client_secret_revoke(
                acting=acting_for(request), organisation=organisation, secret_id=secret_id
            )
        except NotInReachError:
            messages.info(request, "That client secret is not active any more.")
        else:
            self.log_change(request, organisation, f"Revoked {oauth_actions.SECRET_NAME} {secret}.")
            messages.success(request, f"The client secret ending {secret.last_characters} was revoked, with its tokens.")
        return HttpResponseRedirect(self._azure_ad_url(organisation))

    @method_decorator(require_POST)
    def client_settings_view(self, request, id):
        organisation = self._organisation_for_azure_ad(request, id)
        client = OAuthClient.objects.filter(organisation=organisation).first()
        form = OAuthClientForm(request.POST, client=client)
        if form.is_valid():
            try:
                oauth_actions.oauth_client_settings_save(
                    acting=acting_for(request), organisation=organisation, wanted=form.wanted()
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                self.log_change(request, organisation, "Changed the OAuth client settings.")
                messages.success(request, "The OAuth client settings were saved.")
                return HttpResponseRedirect(self._azure_ad_url(organisation) + "#oauth-client-panel")
        return self._page(request, organisation, client_form=form)

    @method_decorator(require_POST)
    def client_revoke_view(self, request, id):
        organisation = self._organisation_for_azure_ad(request, id)
        revocation = oauth_actions.oauth_client_revoke(acting=acting_for(request), organisation=organisation)
        if revocation.anything:
            self.log_change(request, organisation, "Revoked the OAuth client's credentials.")
            messages.success(
                request,
                f"Revoked {revocation.secrets} client secret(s) and {revocation.tokens} access token(s)"
                + (" and ended workload identity federation." if revocation.federation else ".")
                + " The Provisioning Authentication Code is accepted again.",
            )
        else:
            messages.info(request, "The OAuth client had nothing to revoke.")
        return HttpResponseRedirect(self._azure_ad_url(organisation))
