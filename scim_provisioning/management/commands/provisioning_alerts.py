"""Email Admins and Prompt Admins about provisioning problems, once per episode (cron, every 10 minutes)."""
from __future__ import annotations

from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser

from organisations.access import Actor
from scim_provisioning.health.alerts import (
    AlertNotice,
    AlertsRun,
    Outcome,
    provisioning_alerts_run,
)
from scim_provisioning.management.arguments import organisation_by_slug


def _count(number: int, singular: str, plural: str | None = None) -> str:
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


def _people(number: int) -> str:
    return _count(number, "person", "people")


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


class Command(BaseCommand):
    help = (
        "Check every organisation with Automated User Provisioning on (or one) for silence, failures, "
        "held deactivations and an old code in use; email its Admins and the Prompt Admins once per "
        "problem, and clear problems that went. Safe to run on several hosts at once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organisation", metavar="SLUG", help="Only this organisation.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would be emailed and cleared; write and send nothing."
        )

    def handle(self, *args, organisation: str | None, dry_run: bool, **options) -> None:
        target = organisation_by_slug(organisation) if organisation is not None else None
        run = provisioning_alerts_run(
            acting=Actor.system("command provisioning_alerts"), organisation=target, dry_run=dry_run
        )
        if not run.organisations:
            self.stdout.write("No organisation has Automated User Provisioning enabled.")
        for org in run.organisations:
            notices = [notice for notice in run.notices if notice.organisation.pk == org.pk]
            if not notices:
                state = "no problems" if org.provisioning_enabled else "provisioning is off, nothing to check"
                self.stdout.write(f"{org.slug}: {state}")
            for notice in notices:
                self._write_notice(notice, dry_run=dry_run)
        self._write_summary(run)
        if run.failed:
            raise CommandError(
                f"{_count(len(run.failed), 'alert')} could not be emailed; the next run tries again."
            )

    def _write_notice(self, notice: AlertNotice, *, dry_run: bool) -> None:
        prefix = f"{notice.organisation.slug}: {notice.title}: "
        if notice.outcome is Outcome.CLEARED:
            self.stdout.write(prefix + ("would clear" if dry_run else "cleared"))
            return
        if notice.outcome is Outcome.OPEN:
            if notice.notified_at is None:
                emailed = "not emailed yet"
            elif notice.recipients:
                emailed = f"emailed {_people(notice.recipients)} at {_utc(notice.notified_at)}"
            else:
                emailed = "nobody to email"
            self.stdout.write(f"{prefix}still open, {emailed}")
            return
        if notice.outcome is Outcome.FAILED:
            self.stdout.write(
                self.style.ERROR(f"{prefix}could not email {_people(notice.recipients)} ({notice.error})")
            )
        elif not notice.recipients:
            self.stdout.write(
                self.style.WARNING(f"{prefix}nobody to email: no active Admin or Prompt Admin has an email address")
            )
        elif dry_run:
            self.stdout.write(f"{prefix}would email {_people(notice.recipients)}: {', '.join(notice.addresses)}")
        else:
            self.stdout.write(self.style.SUCCESS(f"{prefix}emailed {_people(notice.recipients)}"))
        self.stdout.write(f"  {notice.detail}")

    def _write_summary(self, run: AlertsRun) -> None:
        checked = f"Checked {_count(len(run.organisations), 'organisation')}"
        still_open = f"{len(run.still_open)} still open"
        if run.dry_run:
            self.stdout.write(
                f"Dry run, nothing was written or sent. {checked}: {_count(len(run.emailed), 'alert')} to email "
                f"({_count(run.emails, 'email')}), {len(run.cleared)} to clear, {still_open}."
            )
            return
        self.stdout.write(
            f"{checked}: {_count(len(run.emailed), 'alert')} emailed ({_count(run.emails, 'email')}), "
            f"{len(run.cleared)} cleared, {still_open}, {len(run.failed)} failed."
        )
