"""Rotate, revoke and list organisations' Provisioning Authentication Codes."""
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.timesince import timesince

from organisations.access import Actor
from organisations.models import Organisation
from scim_provisioning.codes import actions
from scim_provisioning.codes.tokens import active_codes_q
from scim_provisioning.management.arguments import organisation_by_slug
from scim_provisioning.models import ProvisioningCode


class Command(BaseCommand):
    help = "Manage Provisioning Authentication Codes: rotate, revoke, status, reencrypt."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="{rotate,revoke,status,reencrypt}")
        rotate = actions.add_parser("rotate", help="Issue a new code and print it on the last line.")
        rotate.add_argument("--organisation", required=True, metavar="SLUG")
        rotate.add_argument(
            "--revoke-previous", action="store_true", help="End earlier codes now instead of after the grace period."
        )
        revoke = actions.add_parser("revoke", help="Revoke every code of an organisation.")
        revoke.add_argument("--organisation", required=True, metavar="SLUG")
        actions.add_parser("status", help="List organisations with their active codes.")
        actions.add_parser(
            "reencrypt",
            help="Re-encrypt every stored code with the first (newest) key in PROVISIONING_CODE_KEYS.",
        )

    def handle(self, *args, action, **options):
        self.acting = Actor.system(f"command provisioning_code {action}")
        getattr(self, f"handle_{action}")(**options)

    def handle_rotate(self, *, organisation, revoke_previous, **options):
        target = organisation_by_slug(organisation)
        try:
            code, plaintext = actions.provisioning_code_issue(
                acting=self.acting, organisation=target, revoke_previous=revoke_previous
            )
        except actions.ProvisioningNotEnabledError:
            raise CommandError(
                f"Automated User Provisioning is not enabled for {target.slug}: enable it on the Azure AD page first."
            ) from None
        ending = "Earlier codes were revoked." if revoke_previous else "Earlier codes keep working for the grace period."
        self.stdout.write(f"New code …{code.last_characters} for {target.slug}. {ending}")
        # Alone on the last line, so scripts can take it with `tail -n 1`.
        self.stdout.write(plaintext)

    def handle_revoke(self, *, organisation, **options):
        target = organisation_by_slug(organisation)
        revoked = actions.provisioning_code_revoke_all(acting=self.acting, organisation=target)
        self.stdout.write(f"Revoked {revoked} code(s) of {target.slug}.")

    def handle_reencrypt(self, **options):
        reencrypted, unreadable = actions.provisioning_code_reencrypt_all(acting=self.acting)
        self.stdout.write(f"Re-encrypted {reencrypted} code(s) with the newest key.")
        if unreadable:
            raise CommandError(
                f"{len(unreadable)} code(s) could not be read with any configured key (ids "
                f"{', '.join(map(str, unreadable))}): keep the old keys until they are revoked or re-issued."
            )

    def handle_status(self, **options):
        now = timezone.now()
        for organisation in Organisation.objects.order_by("slug"):
            state = "provisioning on" if organisation.provisioning_enabled else "provisioning off"
            self.stdout.write(f"{organisation.slug} ({state})")
            codes = ProvisioningCode.objects.filter(active_codes_q(now), organisation=organisation).order_by(
                "-created_at", "-id"
            )
            for code in codes:
                used = f"last used {timesince(code.last_used_at, now)} ago" if code.last_used_at else "never used"
                expiry = f", expires in {timesince(now, code.expires_at)}" if code.expires_at else ""
                age = timesince(code.created_at, now)
                self.stdout.write(f"  …{code.last_characters}  created {age} ago, {used}{expiry}")
            if not codes:
                self.stdout.write("  no active code")
