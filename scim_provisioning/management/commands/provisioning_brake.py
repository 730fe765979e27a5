"""Show, release, keep or set organisations' mass-deactivation brakes, as the Azure AD page does."""
from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.timesince import timesince

from organisations.access import Actor
from organisations.models import Organisation
from scim_provisioning.brake import actions
from scim_provisioning.brake.selectors import (
    BrakeState,
    brake_state,
    held_deactivations,
)
from scim_provisioning.management.arguments import organisation_by_slug

# Held people listed by `status` for one organisation; the Azure AD page's Review lists them all.
LISTED = 20


class Command(BaseCommand):
    help = (
        "The mass-deactivation brake: status [--organisation SLUG] [--json], release --organisation SLUG, "
        "keep --organisation SLUG, set --organisation SLUG [--on|--off] [--people N] [--percent P]."
    )

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="action", required=True, metavar="{status,release,keep,set}")
        status = commands.add_parser("status", help="Each organisation's brake, and whom it holds.")
        status.add_argument("--organisation", metavar="SLUG", help="Only this organisation, with the people held.")
        status.add_argument("--json", action="store_true", help="Machine-readable output.")
        release = commands.add_parser(
            "release", help="Let the held deactivations through on Entra ID's next retry; the count starts again."
        )
        release.add_argument("--organisation", required=True, metavar="SLUG")
        keep = commands.add_parser("keep", help="Record that the deactivations stay on hold.")
        keep.add_argument("--organisation", required=True, metavar="SLUG")
        settings = commands.add_parser("set", help="Switch the brake on or off, or change its limits.")
        settings.add_argument("--organisation", required=True, metavar="SLUG")
        switch = settings.add_mutually_exclusive_group()
        switch.add_argument("--on", dest="enabled", action="store_const", const=True, help="Hold mass deactivations.")
        switch.add_argument("--off", dest="enabled", action="store_const", const=False, help="Hold nothing.")
        settings.add_argument("--people", type=int, metavar="N", help="Hold when more than N people are deactivated.")
        settings.add_argument("--percent", type=int, metavar="P", help="…or more than P %% of the active people.")

    def handle(self, *args, action, **options):
        self.acting = Actor.system(f"command provisioning_brake {action}")
        getattr(self, f"handle_{action}")(**options)

    # --- status ---------------------------------------------------------------------------------

    def handle_status(self, *, organisation, **options):
        if organisation is not None:
            organisations = [organisation_by_slug(organisation)]
        else:
            organisations = list(Organisation.objects.filter(provisioning_enabled=True).order_by("slug"))
        states = [(org, brake_state(organisation=org)) for org in organisations]
        if options["json"]:
            self._write_json(states, detailed=organisation is not None)
            return
        if not states:
            self.stdout.write("No organisation has Automated User Provisioning enabled.")
        for org, state in states:
            self._write_text(org, state, detailed=organisation is not None)

    def _write_text(self, organisation: Organisation, state: BrakeState, *, detailed: bool) -> None:
        limits = f"more than {state.max_people} people or {state.max_percent} % within 60 minutes"
        if not state.enabled:
            self.stdout.write(f"{organisation.slug}: off (nothing is held)")
            return
        if not state.engaged:
            self.stdout.write(f"{organisation.slug}: on, not holding (holds {limits})")
            return
        self.stdout.write(
            self.style.ERROR(f"{organisation.slug}: HOLDING {state.held} deactivation(s). {state.headline}")
        )
        since = timesince(state.engaged_at, timezone.now())
        kept = f"; kept on hold by {state.kept_by} {timesince(state.kept_at, timezone.now())} ago" if state.kept_at else ""
        self.stdout.write(f"  engaged {since} ago{kept}. Release with: provisioning_brake release --organisation {organisation.slug}")
        if detailed:
            for hold in held_deactivations(organisation=organisation)[:LISTED]:
                self.stdout.write(
                    f"  {hold.scim_user.user.username}  {hold.method}, first held {hold.first_held_at:%Y-%m-%d %H:%M} UTC, "
                    f"{hold.attempts} attempt(s)"
                )
            if state.held > LISTED:
                self.stdout.write(f"  … and {state.held - LISTED} more (the Azure AD page lists them all).")

    def _write_json(self, states: list[tuple[Organisation, BrakeState]], *, detailed: bool) -> None:
        def iso(value):
            return value.isoformat() if value else None

        document = []
        for org, state in states:
            entry = {
                "slug": org.slug,
                "enabled": state.enabled,
                "max_people": state.max_people,
                "max_percent": state.max_percent,
                "engaged": state.engaged,
                "engaged_at": iso(state.engaged_at),
                "kept_at": iso(state.kept_at),
                "kept_by": state.kept_by or None,
                "held": state.held,
                "attempted": state.attempted,
                "minutes": state.minutes,
            }
            if detailed:
                entry["held_people"] = [
                    {"userName": hold.scim_user.user.username, "method": hold.method, "first_held_at": iso(hold.first_held_at),
                     "attempts": hold.attempts}
                    for hold in held_deactivations(organisation=org)
                ]
            document.append(entry)
        self.stdout.write(json.dumps({"organisations": document}, indent=2))

    # --- decisions ------------------------------------------------------------------------------

    def handle_release(self, *, organisation, **options):
        target = organisation_by_slug(organisation)
        release = actions.brake_release(acting=self.acting, organisation=target)
        if not release.was_engaged and not release.released:
            self.stdout.write(f"The brake of {target.slug} holds nothing: there is nothing to release.")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Released {release.released} held deactivation(s) of {target.slug}: they go through when Entra ID "
                "retries them. New deactivations are counted from now."
            )
        )

    def handle_keep(self, *, organisation, **options):
        target = organisation_by_slug(organisation)
        if not actions.brake_keep(acting=self.acting, organisation=target):
            raise CommandError(f"The brake of {target.slug} is not holding anything.")
        self.stdout.write(f"Deactivations of {target.slug} stay on hold until the brake is released.")

    def handle_set(self, *, organisation, enabled, people, percent, **options):
        target = organisation_by_slug(organisation)
        state = brake_state(organisation=target)
        wanted = actions.BrakeSettings(
            enabled=state.enabled if enabled is None else enabled,
            max_people=state.max_people if people is None else people,
            max_percent=state.max_percent if percent is None else percent,
        )
        try:
            changed = actions.brake_settings_save(acting=self.acting, organisation=target, settings=wanted)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        if not changed:
            self.stdout.write(f"The brake of {target.slug} was already set that way.")
            return
        state = "on" if wanted.enabled else "off"
        self.stdout.write(
            f"The brake of {target.slug} is {state}: it holds when more than {wanted.max_people} people or "
            f"{wanted.max_percent} % are deactivated within 60 minutes."
        )
