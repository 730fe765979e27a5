"""Delete SCIM request history older than the retention period, a batch at a time.

Safe to run from cron on a large table: each batch is one short transaction deleting at most
``--batch-size`` rows, found through the (organisation, created_at) index, so writers are never
held up for long and a run with nothing to delete costs one index probe per organisation.
"""
from __future__ import annotations

import argparse
import time
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from organisations.access import Actor
from organisations.models import Organisation
from scim_provisioning.models import ScimRequest
from scim_provisioning.oauth.actions import oauth_housekeeping

DEFAULT_BATCH_SIZE = 5000


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {number}")
    return number


class Command(BaseCommand):
    help = "Delete recorded SCIM requests older than a number of days, in small batches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=_positive_int,
            default=None,
            metavar="DAYS",
            help="Delete requests older than DAYS days (default: PROVISIONING_ACTIVITY_RETENTION_DAYS, "
            f"currently {settings.PROVISIONING_ACTIVITY_RETENTION_DAYS}).",
        )
        parser.add_argument(
            "--batch-size",
            type=_positive_int,
            default=DEFAULT_BATCH_SIZE,
            help=f"Rows deleted per transaction (default {DEFAULT_BATCH_SIZE}).",
        )
        parser.add_argument(
            "--pause",
            type=float,
            default=0.0,
            metavar="SECONDS",
            help="Sleep between batches, to leave room for other writers on a busy database.",
        )

    def handle(self, *args, older_than: int | None, batch_size: int, pause: float, **options) -> None:
        days = older_than if older_than is not None else settings.PROVISIONING_ACTIVITY_RETENTION_DAYS
        if days < 1:
            raise CommandError("PROVISIONING_ACTIVITY_RETENTION_DAYS must be at least 1.")
        if pause < 0:
            raise CommandError("--pause cannot be negative.")
        verbosity = options["verbosity"]
        cutoff = timezone.now() - timedelta(days=days)
        if verbosity >= 1:
            self.stdout.write(f"Deleting SCIM requests recorded before {cutoff:%Y-%m-%d %H:%M} UTC ({days} days).")

        total = 0
        organisations_pruned = 0
        for organisation_id, slug in Organisation.objects.order_by("pk").values_list("pk", "slug"):
            deleted_here = 0
            while True:
                deleted = self._delete_batch(organisation_id=organisation_id, cutoff=cutoff, batch_size=batch_size)
                if not deleted:
                    break
                deleted_here += deleted
                total += deleted
                if verbosity >= 1:
                    self.stdout.write(f"  {slug}: deleted {deleted_here:,} ({total:,} in total)")
                if deleted < batch_size:
                    break
                if pause:
                    time.sleep(pause)
            if deleted_here:
                organisations_pruned += 1

        # Expired access tokens (a day after expiry) and spent assertion ids go with the old activity.
        tokens, assertions = oauth_housekeeping(acting=Actor.system("command prune_provisioning_activity"))
        if verbosity >= 1 and (tokens or assertions):
            self.stdout.write(f"Deleted {tokens:,} expired access token(s) and {assertions:,} spent assertion id(s).")

        if verbosity >= 1:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Deleted {total:,} SCIM request{'s' if total != 1 else ''} older than {days} days "
                    f"from {organisations_pruned} organisation{'s' if organisations_pruned != 1 else ''}."
                )
            )

    @staticmethod
    def _delete_batch(*, organisation_id: int, cutoff, batch_size: int) -> int:
        """Delete the oldest ``batch_size`` expired rows of one organisation in one transaction."""
        batch = (
            ScimRequest.objects.filter(organisation_id=organisation_id, created_at__lt=cutoff)
            .order_by("created_at")
            .values("pk")[:batch_size]
        )
        with transaction.atomic():
            deleted, _ = ScimRequest.objects.filter(pk__in=batch).delete()
        return deleted
