"""Health alerts: a fixed clock, credentials and requests of any age, the people told, and a site of its own."""
from __future__ import annotations

import email
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from smtplib import SMTPServerDisconnected

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management.base import CommandError

from organisations.models import Organisation, Role
from scim_provisioning.models import OAuthClient, OAuthClientSecret, ProvisioningCode, ScimRequest
from tests.deployment import ROOT, database_url_for, production_environment

from ..activity.factories import ScimRequestFactory
from ..factories import OrganisationFactory, UserFactory, provisioned_organisation

# A fixed "now" with odd minutes and microseconds, so that boundaries are exercised.
NOW = datetime(2026, 12, 2, 19, 3, 30, 250000, tzinfo=UTC)


class FailingEmailBackend(BaseEmailBackend):
    """An email backend whose server hangs up: every send fails."""

    def send_messages(self, email_messages):
        raise SMTPServerDisconnected("Connection unexpectedly closed")


def code_at(
    organisation: Organisation,
    *,
    created_at: datetime,
    last_used_at: datetime | None = None,
    expires_at: datetime | None = None,
    revoked_at: datetime | None = None,
    ending: str = "k9Qz",
) -> ProvisioningCode:
    """A code of the organisation created at ``created_at`` (the field is set on insert, so it is moved after)."""
    code = ProvisioningCode.objects.create(
        organisation=organisation,
        digest=uuid.uuid4().hex * 2,
        encrypted="not-read-by-these-tests",
        last_characters=ending,
        last_used_at=last_used_at,
        expires_at=expires_at,
        revoked_at=revoked_at,
    )
    ProvisioningCode.objects.filter(pk=code.pk).update(created_at=created_at)
    code.refresh_from_db()
    return code


def secret_at(
    organisation: Organisation, *, created_at: datetime, expires_at: datetime, revoked_at: datetime | None = None
) -> OAuthClientSecret:
    """An OAuth client secret of the organisation created at ``created_at``."""
    client, _ = OAuthClient.objects.get_or_create(organisation=organisation, defaults={"client_id": uuid.uuid4().hex})
    secret = OAuthClientSecret.objects.create(
        client=client, digest=uuid.uuid4().hex * 2, last_characters="s3cr", expires_at=expires_at, revoked_at=revoked_at
    )
    OAuthClientSecret.objects.filter(pk=secret.pk).update(created_at=created_at)
    return secret


def requests_at(
    organisation: Organisation,
    at: datetime,
    *,
    count: int = 1,
    status: int = 200,
    action: str = ScimRequest.Action.READ,
) -> None:
    """``count`` requests Entra ID made at ``at``, all answered ``status``."""
    ScimRequestFactory.create_batch(count, organisation=organisation, created_at=at, status=status, action=action)


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


@dataclass
class People:
    """Contoso and the people an alert about it goes to, or must not."""

    organisation: Organisation
    recipients: list[str]


@pytest.fixture
def contoso(db) -> People:
    """Contoso with two active Admins, two Prompt Admins, and people who must never get its alerts."""
    organisation = provisioned_organisation(name="Contoso", slug="contoso")
    other = OrganisationFactory(name="Fabrikam", slug="fabrikam")

    def person(address: str, role: str, *, of: Organisation | None = organisation, **fields) -> None:
        UserFactory(username=fields.pop("username", address), email=address, role=role, organisation=of, **fields)

    person("ada@contoso.example", Role.ADMIN)
    person("Bea@Contoso.example", Role.ADMIN)
    person("pat@prompt.example", Role.PROMPT_ADMIN, of=None)
    person("quinn@prompt.example", Role.PROMPT_ADMIN, of=other)
    # Never told: another organisation's Admin, an Agency Admin, inactive people, no address, no role.
    person("olga@fabrikam.example", Role.ADMIN, of=other)
    person("alex@agency.example", Role.AGENCY_ADMIN, agency=organisation.agency)
    person("gone@contoso.example", Role.ADMIN, is_active=False)
    person("gone@prompt.example", Role.PROMPT_ADMIN, of=None, is_active=False)
    person("", Role.ADMIN, username="no.address@contoso.example")
    person("sam@contoso.example", Role.NONE)
    return People(
        organisation=organisation,
        recipients=["ada@contoso.example", "Bea@Contoso.example", "pat@prompt.example", "quinn@prompt.example"],
    )


# --- a site of its own, for manage.py in other processes ----------------------------------------


@dataclass
class Site:
    """A database of its own (SQLite file or a PostgreSQL database) that manage.py processes share."""

    env: dict[str, str]
    mail_dir: Path

    def manage(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def start(self, *args: str, **env: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**self.env, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def shell(self, code: str) -> None:
        result = self.manage("shell", "--no-imports", "-c", code)
        assert result.returncode == 0, result.stderr

    def emails(self) -> list[email.message.Message]:
        """Every email the file backend wrote, in any process (one file per connection)."""
        messages = []
        for path in sorted(self.mail_dir.glob("*.log")):
            for part in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
                if part.strip():
                    messages.append(email.message_from_bytes(part))
        return messages


@pytest.fixture
def site(tmp_path) -> Site:
    """A migrated database with the demo data, and the environment production's manage.py runs with."""
    database_url, drop = database_url_for(tmp_path)
    mail_dir = tmp_path / "mail"
    env = production_environment(
        database_url=database_url,
        SITE_URL="https://prompt.example",
        # django-environ drops one leading slash of the path: four make it absolute.
        EMAIL_URL=f"filemail:///{mail_dir}",
    )
    site = Site(env=env, mail_dir=mail_dir)
    try:
        for args in (("migrate", "--noinput"), ("seed_demo",)):
            result = site.manage(*args)
            assert result.returncode == 0, result.stderr
        yield site
    finally:
        drop()


# The demo's code, used by Entra ID for 400 days: both the code's age and, as Entra ID has never
# called, its silence since the code was issued are alerts.
OLD_CODE_IN_USE = """
from datetime import timedelta
from django.utils import timezone
from scim_provisioning.models import ProvisioningCode
now = timezone.now()
assert ProvisioningCode.objects.filter(organisation__slug="demo").update(
    created_at=now - timedelta(days=400), last_used_at=now - timedelta(days=1)
) == 1
"""


def ago(**delta) -> datetime:
    """A moment before NOW."""
    return NOW - timedelta(**delta)
