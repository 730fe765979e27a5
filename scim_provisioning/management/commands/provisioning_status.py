"""Show every organisation's Azure SSO and provisioning state, codes and recent SCIM activity."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.timesince import timesince

from organisations.models import Organisation
from scim_provisioning.activity.summary import OAuthClientStatus, OrganisationStatus, organisation_status


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _ago(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "never"
    return f"{value:%Y-%m-%d %H:%M} UTC ({timesince(value, now)} ago)"


def _client_json(client: OAuthClientStatus | None, now: datetime) -> dict | None:
    if client is None:
        return None
    return {
        "client_id": client.client_id,
        "application_id": client.application_id,
        "object_id": client.object_id,
        "accepts_code": client.accepts_code,
        "secrets": [
            {
                "last_characters": secret.last_characters,
                "created_at": _iso(secret.created_at),
                "last_used_at": _iso(secret.last_used_at),
                "expires_at": _iso(secret.expires_at),
                "expiring": secret.expiring,
            }
            for secret in client.secrets
        ],
    }


class Command(BaseCommand):
    help = (
        "Per organisation: Azure SSO and provisioning state, active codes (last characters, age, "
        "last use), Entra ID's last request, the last 24 hours' counts and recent failures."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organisation", metavar="SLUG", help="Only this organisation.")
        parser.add_argument("--json", action="store_true", help="Machine-readable output.")

    def handle(self, *args, **options) -> None:
        organisation = options["organisation"]
        organisations = Organisation.objects.order_by("name", "pk")
        if organisation is not None:
            organisations = organisations.filter(slug=organisation)
            if not organisations.exists():
                raise CommandError(f"Unknown organisation {organisation!r} (expected an organisation's slug).")
        now = timezone.now()
        statuses = [organisation_status(organisation=org, now=now) for org in organisations]
        if options["json"]:
            self._write_json(statuses, now)
        else:
            self._write_text(statuses, now)

    def _write_json(self, statuses: list[OrganisationStatus], now: datetime) -> None:
        document = {
            "generated_at": now.isoformat(),
            "retention_days": settings.PROVISIONING_ACTIVITY_RETENTION_DAYS,
            "organisations": [
                {
                    "slug": status.organisation.slug,
                    "name": status.organisation.name,
                    "azure_sso_enabled": status.organisation.azure_sso_enabled,
                    "azure_tenant_id": str(status.organisation.azure_tenant_id or "") or None,
                    "provisioning_enabled": status.organisation.provisioning_enabled,
                    "codes": [
                        {
                            "last_characters": code.last_characters,
                            "created_at": _iso(code.created_at),
                            "age_seconds": int((now - code.created_at).total_seconds()),
                            "last_used_at": _iso(code.last_used_at),
                            "expires_at": _iso(code.expires_at),
                        }
                        for code in status.codes
                    ],
                    "oauth_client": _client_json(status.oauth_client, now),
                    "last_request_at": _iso(status.last_request_at),
                    "quiet": status.is_quiet,
                    "oldest_request_at": _iso(status.oldest_request_at),
                    "last_24_hours": status.last_24_hours.as_dict(),
                    "recent_failures": [
                        {
                            "created_at": _iso(failure.created_at),
                            "method": failure.method,
                            "path": failure.path,
                            "status": failure.status,
                            "scim_type": failure.scim_type,
                            "detail": failure.detail,
                            "username": failure.username or None,
                        }
                        for failure in status.recent_failures
                    ],
                }
                for status in statuses
            ],
        }
        self.stdout.write(json.dumps(document, indent=2))

    def _write_client(self, client: OAuthClientStatus | None, now: datetime) -> None:
        if client is None:
            return
        federation = f", federated with application {client.application_id}" if client.application_id else ""
        codes = "" if client.accepts_code else "; the code is not accepted"
        self.stdout.write(f"  OAuth client: {client.client_id}{federation}{codes}")
        for secret in client.secrets:
            self.stdout.write(
                f"    secret …{secret.last_characters}  created {timesince(secret.created_at, now)} ago, "
                f"last used {_ago(secret.last_used_at, now)}, expires {secret.expires_at:%Y-%m-%d}"
            )
            if secret.expiring:
                self.stdout.write(
                    self.style.WARNING(
                        f"  Warning: client secret …{secret.last_characters} expires in "
                        f"{timesince(now, secret.expires_at)}: generate a new one and paste it into Entra ID."
                    )
                )

    def _write_text(self, statuses: list[OrganisationStatus], now: datetime) -> None:
        if not statuses:
            self.stdout.write("No organisations.")
            return
        retention = timedelta(days=settings.PROVISIONING_ACTIVITY_RETENTION_DAYS + 1)
        for index, status in enumerate(statuses):
            org = status.organisation
            if index:
                self.stdout.write("")
            self.stdout.write(self.style.MIGRATE_HEADING(f"{org.name} ({org.slug})"))
            sso = f"enabled, tenant {org.azure_tenant_id}" if org.azure_sso_enabled else "disabled"
            self.stdout.write(f"  Azure SSO: {sso}")
            self.stdout.write(f"  Provisioning: {'enabled' if org.provisioning_enabled else 'disabled'}")
            if status.codes:
                self.stdout.write("  Active codes:")
                for code in status.codes:
                    line = (
                        f"    …{code.last_characters}  created {timesince(code.created_at, now)} ago, "
                        f"last used {_ago(code.last_used_at, now)}"
                    )
                    if code.expires_at:
                        line += f", expires {code.expires_at:%Y-%m-%d %H:%M} UTC"
                    self.stdout.write(line)
            else:
                self.stdout.write("  Active codes: none")
            self._write_client(status.oauth_client, now)
            self.stdout.write(f"  Last request: {_ago(status.last_request_at, now)}")
            if status.is_quiet:
                self.stdout.write(
                    self.style.WARNING("  Warning: provisioning is on but Entra ID has not called for over two hours.")
                )
            counts = status.last_24_hours
            self.stdout.write(
                f"  Last 24 hours: {counts.requests} requests; created {counts.created}, updated {counts.updated}, "
                f"deactivated {counts.deactivated}, reactivated {counts.reactivated}, deleted {counts.deleted}, "
                f"failed {counts.failed}"
            )
            if status.recent_failures:
                self.stdout.write("  Recent failures:")
                for failure in status.recent_failures:
                    parts = [
                        f"{failure.created_at:%Y-%m-%d %H:%M} UTC", failure.method, failure.path, str(failure.status)
                    ]
                    if failure.scim_type:
                        parts.append(failure.scim_type)
                    if failure.username:
                        parts.append(f"user {failure.username}")
                    line = "    " + "  ".join(parts)
                    if failure.detail:
                        line += f": {failure.detail}"
                    self.stdout.write(line)
            else:
                self.stdout.write("  Recent failures: none")
            if status.oldest_request_at and now - status.oldest_request_at > retention:
                self.stdout.write(
                    self.style.WARNING(
                        f"  Warning: history goes back to {status.oldest_request_at:%Y-%m-%d}, beyond the "
                        f"{settings.PROVISIONING_ACTIVITY_RETENTION_DAYS}-day retention: is "
                        "`prune_provisioning_activity` scheduled?"
                    )
                )
