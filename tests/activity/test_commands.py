"""The operators' commands: provisioning_status and prune_provisioning_activity."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from scim_provisioning.codes import actions as scim_services
from scim_provisioning.management.commands import (
    provisioning_status,
    prune_provisioning_activity,
)
from scim_provisioning.models import ProvisioningCode, ScimRequest
from tests.factories import SYSTEM

from ..factories import OrganisationFactory, provisioned_organisation
from .factories import ScimRequestFactory, ScimUserFactory

Action = ScimRequest.Action


def run(name: str, *args: str) -> str:
    out = StringIO()
    call_command(name, *args, stdout=out, no_color=True)
    return out.getvalue()


def exit_code(command, *args: str) -> int:
    """Return the exit status manage.py would give (its run_from_argv, minus closing connections)."""
    instance = command.Command(stdout=StringIO(), stderr=StringIO())
    instance._called_from_command_line = True
    parser = instance.create_parser("manage.py", "command")
    try:
        options = vars(parser.parse_args(args))
        instance.execute(*options.pop("args", ()), **options)
    except SystemExit as exit:
        return exit.code
    except CommandError as error:
        return error.returncode
    return 0


# --- provisioning_status ----------------------------------------------------------------------


@pytest.mark.django_db
def test_status_of_an_empty_database():
    assert run("provisioning_status") == "No organisations.\n"
    document = json.loads(run("provisioning_status", "--json"))
    assert document == {
        "generated_at": document["generated_at"],
        "retention_days": 180,
        "organisations": [],
    }
    datetime.fromisoformat(document["generated_at"])


@pytest.mark.django_db
def test_status_of_an_unknown_organisation():
    OrganisationFactory(slug="known")
    with pytest.raises(CommandError, match="Unknown organisation 'missing'"):
        run("provisioning_status", "--organisation", "missing")
    assert exit_code(provisioning_status, "--organisation", "missing") == 1
    assert exit_code(provisioning_status, "--organisation", "missing", "--json") == 1


@pytest.fixture
def busy_organisation(db):
    """An organisation with two active codes, a revoked one, and some activity."""
    organisation = provisioned_organisation(name="Contoso", slug="contoso")
    scim_services.provisioning_code_issue(acting=SYSTEM, organisation=organisation)
    scim_services.provisioning_code_revoke_all(acting=SYSTEM, organisation=organisation)
    old_code, _ = scim_services.provisioning_code_issue(acting=SYSTEM, organisation=organisation)
    new_code, _ = scim_services.provisioning_code_issue(acting=SYSTEM, organisation=organisation)
    now = timezone.now()
    ProvisioningCode.objects.filter(pk=new_code.pk).update(last_used_at=now - timedelta(minutes=5))
    person = ScimUserFactory(organisation=organisation, user__username="ada@contoso.example")
    ScimRequestFactory(organisation=organisation, created_at=now - timedelta(minutes=20), method="GET")
    ScimRequestFactory(
        organisation=organisation, created_at=now - timedelta(hours=3), method="POST", status=201,
        action=Action.CREATED, scim_user=person,
    )
    ScimRequestFactory(
        organisation=organisation, created_at=now - timedelta(hours=2), method="PATCH",
        path=f"/Users/{person.pk}", status=400, scim_type="invalidValue", detail="Bad active value.",
        scim_user=person,
    )
    # Outside the last 24 hours: in the history but not in the counts.
    ScimRequestFactory(
        organisation=organisation, created_at=now - timedelta(days=2), method="PATCH", action=Action.UPDATED
    )
    return organisation, [new_code, old_code], person


def test_status_json_describes_an_organisation(busy_organisation):
    organisation, codes, person = busy_organisation
    quiet = OrganisationFactory(name="Fabrikam", slug="fabrikam")

    document = json.loads(run("provisioning_status", "--json"))

    now = datetime.fromisoformat(document["generated_at"])
    requests = {r.method + str(r.status): r for r in ScimRequest.objects.all()}
    codes = [ProvisioningCode.objects.get(pk=code.pk) for code in codes]
    assert document == {
        "generated_at": document["generated_at"],
        "retention_days": 180,
        "organisations": [
            {
                "slug": "contoso",
                "name": "Contoso",
                "azure_sso_enabled": True,
                "azure_tenant_id": "6f9c1b2e-4d3a-4c8b-9e7f-1a2b3c4d5e6f",
                "provisioning_enabled": True,
                "codes": [
                    {
                        "last_characters": code.last_characters,
                        "created_at": code.created_at.isoformat(),
                        "age_seconds": int((now - code.created_at).total_seconds()),
                        "last_used_at": code.last_used_at.isoformat() if code.last_used_at else None,
                        "expires_at": code.expires_at.isoformat() if code.expires_at else None,
                    }
                    for code in codes
                ],
                "oauth_client": None,
                "last_request_at": requests["GET200"].created_at.isoformat(),
                "quiet": False,
                "oldest_request_at": requests["PATCH200"].created_at.isoformat(),
                "last_24_hours": {
                    "requests": 3, "created": 1, "updated": 0, "deactivated": 0, "reactivated": 0,
                    "deleted": 0, "failed": 1,
                },
                "recent_failures": [
                    {
                        "created_at": requests["PATCH400"].created_at.isoformat(),
                        "method": "PATCH",
                        "path": f"/Users/{person.pk}",
                        "status": 400,
                        "scim_type": "invalidValue",
                        "detail": "Bad active value.",
                        "username": "ada@contoso.example",
                    }
                ],
            },
            {
                "slug": "fabrikam",
                "name": "Fabrikam",
                "azure_sso_enabled": False,
                "azure_tenant_id": None,
                "provisioning_enabled": False,
                "codes": [],
                "oauth_client": None,
                "last_request_at": None,
                "quiet": False,
                "oldest_request_at": None,
                "last_24_hours": {
                    "requests": 0, "created": 0, "updated": 0, "deactivated": 0, "reactivated": 0,
                    "deleted": 0, "failed": 0,
                },
                "recent_failures": [],
            },
        ],
    }
    assert quiet.slug == "fabrikam"
    # The plaintext of a code never appears, only its last characters.
    assert "pscim_" not in json.dumps(document)


def test_status_text_for_one_organisation(busy_organisation):
    organisation, codes, person = busy_organisation
    OrganisationFactory(name="Fabrikam", slug="fabrikam")

    lines = run("provisioning_status", "--organisation", "contoso").splitlines()

    failure = ScimRequest.objects.get(status=400)
    new_code, old_code = (ProvisioningCode.objects.get(pk=code.pk) for code in codes)
    patterns = [
        r"Contoso \(contoso\)",
        r"  Azure SSO: enabled, tenant 6f9c1b2e-4d3a-4c8b-9e7f-1a2b3c4d5e6f",
        r"  Provisioning: enabled",
        r"  Active codes:",
        rf"    …{new_code.last_characters}  created 0\xa0minutes ago, last used \d{{4}}-\d\d-\d\d \d\d:\d\d UTC "
        r"\(5\xa0minutes ago\)",
        rf"    …{old_code.last_characters}  created 0\xa0minutes ago, last used never, expires "
        r"\d{4}-\d\d-\d\d \d\d:\d\d UTC",
        r"  Last request: \d{4}-\d\d-\d\d \d\d:\d\d UTC \(20\xa0minutes ago\)",
        r"  Last 24 hours: 3 requests; created 1, updated 0, deactivated 0, reactivated 0, deleted 0, failed 1",
        r"  Recent failures:",
        rf"    {failure.created_at:%Y-%m-%d %H:%M} UTC  PATCH  /Users/{person.pk}  400  invalidValue  "
        r"user ada@contoso\.example: Bad active value\.",
    ]
    assert len(lines) == len(patterns), lines
    for line, pattern in zip(lines, patterns):
        assert re.fullmatch(pattern, line), (line, pattern)


@pytest.mark.django_db
def test_status_warns_about_silence_and_missing_pruning(settings):
    settings.PROVISIONING_ACTIVITY_RETENTION_DAYS = 30
    organisation = provisioned_organisation(name="Northwind", slug="northwind")
    ScimRequestFactory(organisation=organisation, created_at=timezone.now() - timedelta(days=40))

    output = run("provisioning_status")

    assert "  Warning: provisioning is on but Entra ID has not called for over two hours.\n" in output
    assert "beyond the 30-day retention: is `prune_provisioning_activity` scheduled?" in output
    assert "  Active codes: none\n" in output
    assert "  Recent failures: none\n" in output


# --- prune_provisioning_activity --------------------------------------------------------------


@pytest.mark.django_db
def test_prune_an_empty_database():
    lines = run("prune_provisioning_activity").splitlines()
    assert re.fullmatch(
        r"Deleting SCIM requests recorded before \d{4}-\d\d-\d\d \d\d:\d\d UTC \(180 days\)\.", lines[0]
    )
    assert lines[1:] == ["Deleted 0 SCIM requests older than 180 days from 0 organisations."]


@pytest.mark.django_db
def test_prune_deletes_only_older_rows_in_batches():
    now = timezone.now()
    first = OrganisationFactory(slug="first")
    second = OrganisationFactory(slug="second")
    OrganisationFactory(slug="untouched")
    keep = []
    for days in (1, 29, 29.9):
        keep.append(ScimRequestFactory(organisation=first, created_at=now - timedelta(days=days)).pk)
        keep.append(ScimRequestFactory(organisation=second, created_at=now - timedelta(days=days)).pk)
    for days in range(31, 38):  # Seven old rows for the first organisation...
        ScimRequestFactory(organisation=first, created_at=now - timedelta(days=days))
    for days in (30.01, 200):  # ...and two for the second.
        ScimRequestFactory(organisation=second, created_at=now - timedelta(days=days))

    lines = run("prune_provisioning_activity", "--older-than", "30", "--batch-size", "3").splitlines()

    assert lines[1:] == [
        "  first: deleted 3 (3 in total)",
        "  first: deleted 6 (6 in total)",
        "  first: deleted 7 (7 in total)",
        "  second: deleted 2 (9 in total)",
        "Deleted 9 SCIM requests older than 30 days from 2 organisations.",
    ]
    assert sorted(ScimRequest.objects.values_list("pk", flat=True)) == sorted(keep)
    assert run("prune_provisioning_activity", "--older-than", "30").splitlines()[1:] == [
        "Deleted 0 SCIM requests older than 30 days from 0 organisations."
    ]


@pytest.mark.django_db
def test_prune_defaults_to_the_retention_setting(settings):
    settings.PROVISIONING_ACTIVITY_RETENTION_DAYS = 10
    organisation = OrganisationFactory(slug="acme")
    kept = ScimRequestFactory(organisation=organisation, created_at=timezone.now() - timedelta(days=9))
    ScimRequestFactory(organisation=organisation, created_at=timezone.now() - timedelta(days=11))

    output = run("prune_provisioning_activity", "--verbosity", "0")

    assert output == ""
    assert list(ScimRequest.objects.values_list("pk", flat=True)) == [kept.pk]


@pytest.mark.django_db
@pytest.mark.parametrize("args", [["--older-than", "0"], ["--older-than", "soon"], ["--batch-size", "-5"]])
def test_prune_refuses_bad_arguments(args):
    ScimRequestFactory(organisation=OrganisationFactory(), created_at=timezone.now() - timedelta(days=400))
    with pytest.raises(CommandError):
        run("prune_provisioning_activity", *args)
    assert exit_code(prune_provisioning_activity, *args) == 2  # argparse's usage error
    assert ScimRequest.objects.count() == 1


@pytest.mark.django_db
def test_prune_refuses_a_bad_retention_setting(settings):
    settings.PROVISIONING_ACTIVITY_RETENTION_DAYS = 0
    with pytest.raises(CommandError, match="at least 1"):
        run("prune_provisioning_activity")
    assert exit_code(prune_provisioning_activity) == 1
