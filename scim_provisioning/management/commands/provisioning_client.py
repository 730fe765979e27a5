"""Manage organisations' OAuth clients: client secrets and workload identity federation."""
from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from organisations.access import Actor
from scim_provisioning.codes.actions import ProvisioningNotEnabledError
from scim_provisioning.management.arguments import organisation_by_slug
from scim_provisioning.models import OAuthClient
from scim_provisioning.oauth import actions


def _guid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a GUID such as 1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b.") from None


class Command(BaseCommand):
    help = "Manage OAuth clients for Entra ID: issue a client secret, revoke the client, set up federation."

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="action", required=True, metavar="{issue,revoke,federate}")
        issue = commands.add_parser(
            "issue", help="Generate a client secret; print client_id=… and client_secret=… as the last two lines."
        )
        issue.add_argument("--organisation", required=True, metavar="SLUG")
        revoke = commands.add_parser("revoke", help="Revoke every secret and access token and end federation.")
        revoke.add_argument("--organisation", required=True, metavar="SLUG")
        federate = commands.add_parser(
            "federate", help="Accept assertions of an Entra application (workload identity federation)."
        )
        federate.add_argument("--organisation", required=True, metavar="SLUG")
        federate.add_argument("--application-id", required=True, metavar="GUID", help="Application (client) ID.")
        federate.add_argument("--object-id", required=True, metavar="GUID", help="Object ID of its service principal.")

    def handle(self, *args, action, **options):
        self.acting = Actor.system(f"command provisioning_client {action}")
        getattr(self, f"handle_{action}")(**options)

    def handle_issue(self, *, organisation, **options):
        target = organisation_by_slug(organisation)
        try:
            secret, plaintext = actions.oauth_client_secret_issue(acting=self.acting, organisation=target)
        except ProvisioningNotEnabledError:
            raise CommandError(
                f"Automated User Provisioning is not enabled for {target.slug}: enable it on the Azure AD page first."
            ) from None
        except actions.TooManySecretsError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"New client secret …{secret.last_characters} for {target.slug}, expires {secret.expires_at:%Y-%m-%d}. "
            "It is shown only now: paste it into Entra ID."
        )
        # The last two lines, so scripts can take them with `tail -n 2`.
        self.stdout.write(f"client_id={secret.client.client_id}")
        self.stdout.write(f"client_secret={plaintext}")

    def handle_revoke(self, *, organisation, **options):
        target = organisation_by_slug(organisation)
        revocation = actions.oauth_client_revoke(acting=self.acting, organisation=target)
        if not revocation.anything:
            self.stdout.write(f"{target.slug} has no active OAuth client credential: nothing to revoke.")
            return
        federation = " and ended workload identity federation" if revocation.federation else ""
        self.stdout.write(
            f"Revoked {revocation.secrets} client secret(s) and {revocation.tokens} access token(s) of "
            f"{target.slug}{federation}."
        )

    def handle_federate(self, *, organisation, application_id, object_id, **options):
        target = organisation_by_slug(organisation)
        if not target.provisioning_enabled:
            raise CommandError(
                f"Automated User Provisioning is not enabled for {target.slug}: enable it on the Azure AD page first."
            )
        current = OAuthClient.objects.filter(organisation=target).first()
        wanted = actions.ClientSettings(
            application_id=_guid(application_id),
            object_id=_guid(object_id),
            accepts_code=current.accepts_code if current else True,
        )
        try:
            client = actions.oauth_client_settings_save(acting=self.acting, organisation=target, wanted=wanted)
        except ValidationError as error:
            messages = [message for field in error.message_dict.values() for message in field]
            raise CommandError(" ".join(messages)) from None
        self.stdout.write(
            f"{target.slug} accepts assertions of application {client.application_id} (object {client.object_id}) "
            f"from tenant {target.azure_tenant_id}."
        )
        self.stdout.write(f"client_id={client.client_id}")
