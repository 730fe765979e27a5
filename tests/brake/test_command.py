"""``manage.py provisioning_brake``: status, release, keep and set, with their output and exit codes."""
from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from organisations.models import AuditEvent
from scim_provisioning.models import DeactivationBrake, HeldDeactivation

from .conftest import brake_with, deactivate

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("provisioning_brake", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def holding(scim_client, organisation, people):
    brake_with(organisation, max_people=2)
    assert [deactivate(scim_client, person.pk).status_code for person in people[:4]] == [200, 200, 429, 429]
    return people[2:4]


def test_status_of_a_brake_that_holds_nothing(organisation):
    assert run("status", "--organisation", organisation.slug) == (
        f"{organisation.slug}: on, not holding (holds more than 25 people or 10 % within 60 minutes)\n"
    )


def test_status_names_the_people_held_and_how_to_release(organisation, holding):
    out = run("status", "--organisation", organisation.slug)

    lines = out.splitlines()
    assert lines[0] == (
        f"{organisation.slug}: HOLDING 2 deactivation(s). Entra ID tried to deactivate 4 people in 1 minute."
    )
    assert lines[1].endswith(f"Release with: provisioning_brake release --organisation {organisation.slug}")
    assert [line.split()[0] for line in lines[2:]] == [person.user.username for person in holding]


def test_status_as_json(organisation, holding):
    document = json.loads(run("status", "--organisation", organisation.slug, "--json"))

    [entry] = document["organisations"]
    assert {key: entry[key] for key in ("slug", "enabled", "engaged", "held", "attempted", "max_people")} == {
        "slug": organisation.slug, "enabled": True, "engaged": True, "held": 2, "attempted": 4, "max_people": 2,
    }
    assert [person["userName"] for person in entry["held_people"]] == [p.user.username for p in holding]


def test_release_then_nothing_left_to_release(organisation, holding):
    assert run("release", "--organisation", organisation.slug) == (
        f"Released 2 held deactivation(s) of {organisation.slug}: they go through when Entra ID retries them. "
        "New deactivations are counted from now.\n"
    )
    event = AuditEvent.objects.get(action="brake.released")
    assert (event.actor_kind, event.actor_label) == ("system", "command provisioning_brake release")
    assert run("release", "--organisation", organisation.slug) == (
        f"The brake of {organisation.slug} holds nothing: there is nothing to release.\n"
    )


def test_keep_needs_something_held(organisation, holding):
    assert "stay on hold" in run("keep", "--organisation", organisation.slug)
    run("release", "--organisation", organisation.slug)
    with pytest.raises(CommandError, match="is not holding anything"):
        run("keep", "--organisation", organisation.slug)


def test_set_changes_the_limits_and_refuses_bad_ones(organisation):
    assert run("set", "--organisation", organisation.slug, "--people", "40", "--percent", "5") == (
        f"The brake of {organisation.slug} is on: it holds when more than 40 people or 5 % are deactivated "
        "within 60 minutes.\n"
    )
    assert run("set", "--organisation", organisation.slug, "--people", "40") == (
        f"The brake of {organisation.slug} was already set that way.\n"
    )
    with pytest.raises(CommandError, match="Enter a percentage from 1 to 100."):
        run("set", "--organisation", organisation.slug, "--percent", "0")
    brake = DeactivationBrake.objects.get()
    assert (brake.max_people, brake.max_percent) == (40, 5)


def test_switching_off_from_the_command_line_releases(organisation, holding):
    run("set", "--organisation", organisation.slug, "--off")
    assert set(HeldDeactivation.objects.values_list("status", flat=True)) == {"released"}


def test_an_unknown_organisation_exits_1_with_a_clear_message(tmp_path):
    env = {"DJANGO_SETTINGS_MODULE": "prompt_site.test_settings", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
           "PATH": "/usr/bin:/bin"}

    def manage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=Path(__file__).resolve().parents[2], env=env,
            capture_output=True, text=True,
        )

    assert manage("migrate", "--noinput", "-v", "0").returncode == 0
    result = manage("provisioning_brake", "release", "--organisation", "nowhere")

    assert result.returncode == 1
    assert result.stderr.strip() == "CommandError: No organisation has the slug 'nowhere'."
    assert manage("provisioning_brake", "status").stdout == "No organisation has Automated User Provisioning enabled.\n"
