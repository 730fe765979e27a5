"""Health alerts: one email per recipient per episode, cleared and sent again, and the provisioning_alerts command."""
from __future__ import annotations

import contextlib
from datetime import UTC, timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from organisations.access import Actor
from organisations.models import Role
from scim_provisioning.brake.actions import brake_release
from scim_provisioning.brake.selectors import brake_state
from scim_provisioning.health import alerts as alerts_module
from scim_provisioning.health.alerts import Outcome, health_state, provisioning_alerts_run
from scim_provisioning.health.conditions import HealthCondition, health_conditions
from scim_provisioning.management.commands import provisioning_alerts
from scim_provisioning.models import ProvisioningAlert, ScimRequest
from tests.activity.factories import scim_users_bulk
from tests.brake.conftest import brake_with, entra_deactivates
from tests.deployment import free_port

from ..factories import SYSTEM, UserFactory, provisioned_organisation
from .conftest import NOW, OLD_CODE_IN_USE, ago, code_at, exit_code, requests_at

Action = ScimRequest.Action
SILENCE_DETAIL = (
    "Provisioning is on, but Entra ID has not called for 4 hours (since 2026-12-02 15:03 UTC). Check the "
    "provisioning job in Entra ID: it may be in quarantine, or its credential may have been revoked."
)


def alerts(now=NOW, **options):
    return provisioning_alerts_run(acting=SYSTEM, now=now, **options)


def sent(outbox) -> list[tuple[str, ...]]:
    return sorted(tuple(message.to) for message in outbox)


def recipients_of(people) -> list[tuple[str, ...]]:
    return sorted((address,) for address in people.recipients)


def run_command(*args: str) -> str:
    out = StringIO()
    call_command("provisioning_alerts", *args, stdout=out, no_color=True)
    return out.getvalue()


# --- episodes -----------------------------------------------------------------------------------


def test_an_alert_is_emailed_once_per_episode_and_again_when_the_problem_returns(contoso, mailoutbox):
    organisation = contoso.organisation
    requests_at(organisation, ago(hours=4))

    first = alerts()
    assert [(n.kind, n.outcome, n.opened, n.recipients) for n in first.notices] == [
        ("silence", Outcome.EMAILED, True, 4)
    ]
    assert sent(mailoutbox) == recipients_of(contoso)
    alert = ProvisioningAlert.objects.get()
    assert (alert.kind, alert.started_at, alert.notified_at, alert.recipients, alert.cleared_at) == (
        "silence", NOW, NOW, 4, None
    )
    assert alert.detail == SILENCE_DETAIL

    # Ten minutes later, and on another host at the same time: nobody is emailed again.
    for _ in range(2):
        again = alerts(NOW + timedelta(minutes=10))
        assert [(n.outcome, n.notified_at, n.recipients) for n in again.notices] == [(Outcome.OPEN, NOW, 4)]
    assert len(mailoutbox) == 4

    # Entra ID calls again: the episode ends, silently.
    requests_at(organisation, NOW + timedelta(minutes=15))
    cleared = alerts(NOW + timedelta(minutes=20))
    assert [(n.kind, n.outcome) for n in cleared.notices] == [("silence", Outcome.CLEARED)]
    assert ProvisioningAlert.objects.get().cleared_at == NOW + timedelta(minutes=20)
    assert alerts(NOW + timedelta(minutes=30)).notices == []
    assert len(mailoutbox) == 4

    # It stops again: a new episode, emailed again.
    returned = NOW + timedelta(minutes=15, hours=3, seconds=1)
    assert [(n.outcome, n.opened) for n in alerts(returned).notices] == [(Outcome.EMAILED, True)]
    assert sent(mailoutbox[4:]) == recipients_of(contoso)
    assert list(ProvisioningAlert.objects.order_by("started_at").values_list("started_at", "cleared_at")) == [
        (NOW, NOW + timedelta(minutes=20)),
        (returned, None),
    ]


def test_the_email_names_the_organisation_the_problem_and_the_azure_ad_page(contoso, mailoutbox, settings):
    settings.SITE_URL = "https://prompt.example"
    settings.DEFAULT_FROM_EMAIL = "Prompt <alerts@prompt.example>"
    requests_at(contoso.organisation, ago(hours=4))

    alerts()

    message = mailoutbox[0]
    assert message.subject == "[Prompt] Contoso: Entra ID has stopped calling"
    assert message.from_email == "Prompt <alerts@prompt.example>"
    assert (len(message.to), message.cc, message.bcc) == (1, [], [])
    assert message.body == (
        "Automated User Provisioning from Entra ID needs attention at Contoso.\n"
        "\n"
        "Entra ID has stopped calling\n"
        f"{SILENCE_DETAIL}\n"
        "\n"
        "See the Azure AD page:\n"
        f"https://prompt.example/admin/organisations/organisation/{contoso.organisation.pk}/azure-ad/\n"
        "\n"
        "Found at 2026-12-02 19:03 UTC. You get one email for each problem: another comes only if this one "
        "clears and then returns.\n"
        "\n"
        "You are receiving this as an Admin of Contoso or as a Prompt Admin.\n"
    )
    # Every recipient gets the same message, on their own.
    assert {(m.subject, m.body) for m in mailoutbox} == {(message.subject, message.body)}


def test_the_old_code_email_links_to_where_a_new_code_is_generated(contoso, mailoutbox, settings):
    settings.SITE_URL = "https://prompt.example"
    organisation = contoso.organisation
    organisation.name = "Contoso & Sons <Ltd>"
    organisation.save()
    requests_at(organisation, ago(minutes=5))
    code_at(organisation, created_at=ago(days=400), last_used_at=ago(minutes=5))

    alerts()

    message = mailoutbox[0]
    # Plain text: nothing is HTML-escaped.
    assert message.subject == "[Prompt] Contoso & Sons <Ltd>: The code in use is old"
    assert message.body.splitlines()[:8] == [
        "Automated User Provisioning from Entra ID needs attention at Contoso & Sons <Ltd>.",
        "",
        "The code in use is old",
        (
            "The Provisioning Authentication Code ending …k9Qz was created 400 days ago (2025-10-28) and Entra ID "
            "still uses it (last used 2026-12-02 18:58 UTC). Rotate it: generate a new code on the Azure AD page "
            "and paste it into Entra ID as the Secret Token."
        ),
        "",
        'Rotate the code on the Azure AD page ("Generate new code"):',
        f"https://prompt.example/admin/organisations/organisation/{organisation.pk}/azure-ad/",
        "",
    ]


def test_each_problem_is_its_own_episode(contoso, mailoutbox):
    organisation = contoso.organisation
    requests_at(organisation, ago(minutes=5), count=5, status=500, action=Action.NONE)
    code_at(organisation, created_at=ago(days=400), last_used_at=ago(minutes=5))

    run = alerts()

    assert [(n.kind, n.outcome) for n in run.emailed] == [("failures", Outcome.EMAILED), ("code_age", Outcome.EMAILED)]
    assert (len(run.opened), run.emails) == (2, 8)
    assert sorted({m.subject for m in mailoutbox}) == [
        "[Prompt] Contoso: Many requests failed",
        "[Prompt] Contoso: The code in use is old",
    ]
    assert sorted(m.to[0] for m in mailoutbox if "failed" in m.subject) == sorted(contoso.recipients)

    # The failures stop (the hour passes); the code is still old.
    later = alerts(NOW + timedelta(minutes=61))
    assert [(n.kind, n.outcome) for n in later.notices] == [("failures", Outcome.CLEARED), ("code_age", Outcome.OPEN)]
    assert len(mailoutbox) == 8


def test_the_brake_alert_follows_the_brake(contoso, mailoutbox):
    organisation = contoso.organisation
    people = scim_users_bulk(organisation=organisation, count=40)
    brake_with(organisation, max_people=3, max_percent=50)
    assert entra_deactivates(organisation, people[:5]) == [True, True, True, False, False]
    now = timezone.now()
    requests_at(organisation, now)

    run = alerts(now)

    assert [(n.kind, n.outcome) for n in run.notices] == [("brake", Outcome.EMAILED)]
    headline = brake_state(organisation=organisation).headline
    assert run.notices[0].detail == (
        f"{headline} Deactivations are on hold: review them on the Azure AD page, then release them or keep "
        "them on hold."
    )
    assert mailoutbox[0].subject == "[Prompt] Contoso: Deactivations are on hold"
    assert run.notices[0].detail in mailoutbox[0].body

    brake_release(acting=SYSTEM, organisation=organisation)
    assert [(n.kind, n.outcome) for n in alerts(now).notices] == [("brake", Outcome.CLEARED)]
    assert len(mailoutbox) == 4


def test_turning_provisioning_off_clears_its_alerts(contoso, mailoutbox):
    organisation = contoso.organisation
    requests_at(organisation, ago(hours=4))
    alerts()
    organisation.provisioning_enabled = False
    organisation.save()

    run = alerts(NOW + timedelta(minutes=10))

    assert [(n.organisation, n.kind, n.outcome, n.detail) for n in run.notices] == [
        (organisation, "silence", Outcome.CLEARED, SILENCE_DETAIL)
    ]
    assert ProvisioningAlert.objects.get().cleared_at == NOW + timedelta(minutes=10)
    # Nothing open any more, and provisioning off: the organisation is not even checked.
    assert alerts(NOW + timedelta(minutes=20)).organisations == []
    assert len(mailoutbox) == 4


# --- recipients ---------------------------------------------------------------------------------


def test_recipients_are_the_active_admins_and_prompt_admins_with_an_address(contoso, mailoutbox):
    requests_at(contoso.organisation, ago(hours=4))
    # The same address twice (whatever its case) is emailed once.
    UserFactory(username="pat.again@prompt.example", email="PAT@prompt.example", role=Role.PROMPT_ADMIN, organisation=None)

    alerts()

    assert sorted(m.to[0].lower() for m in mailoutbox) == sorted(a.lower() for a in contoso.recipients)
    assert all(len(m.to) == 1 and not m.cc and not m.bcc for m in mailoutbox)


def test_another_organisations_alert_goes_to_its_own_admins(contoso, mailoutbox):
    other = provisioned_organisation(name="Northwind", slug="northwind")
    UserFactory(username="nora@northwind.example", email="nora@northwind.example", role=Role.ADMIN, organisation=other)
    requests_at(other, ago(hours=4))
    requests_at(contoso.organisation, ago(minutes=5))

    run = alerts()

    assert [(n.organisation.slug, n.kind) for n in run.notices] == [("northwind", "silence")]
    assert sorted(m.to[0] for m in mailoutbox) == ["nora@northwind.example", "pat@prompt.example", "quinn@prompt.example"]


def test_an_organisation_nobody_can_be_told_about_is_noted_once(db, mailoutbox):
    organisation = provisioned_organisation(name="Lonely", slug="lonely")
    requests_at(organisation, timezone.now() - timedelta(hours=4))

    assert run_command().splitlines()[0] == (
        "lonely: Entra ID has stopped calling: nobody to email: no active Admin or Prompt Admin has an email address"
    )
    assert mailoutbox == []
    assert ProvisioningAlert.objects.get().recipients == 0
    assert run_command().splitlines()[0] == "lonely: Entra ID has stopped calling: still open, nobody to email"


# --- failures and races -------------------------------------------------------------------------


def test_a_failed_sending_is_retried_by_the_next_run(contoso, mailoutbox, settings):
    requests_at(contoso.organisation, ago(hours=4))
    settings.EMAIL_BACKEND = "tests.health.conftest.FailingEmailBackend"

    run = alerts()

    assert [(n.outcome, n.opened, n.recipients, n.error) for n in run.notices] == [
        (Outcome.FAILED, True, 4, "SMTPServerDisconnected: Connection unexpectedly closed")
    ]
    alert = ProvisioningAlert.objects.get()
    assert (alert.notified_at, alert.recipients, alert.cleared_at) == (None, 0, None)
    assert [n.outcome for n in alerts(NOW + timedelta(minutes=5)).notices] == [Outcome.FAILED]

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    retry = alerts(NOW + timedelta(minutes=10))

    assert [(n.outcome, n.opened, n.recipients) for n in retry.notices] == [(Outcome.EMAILED, False, 4)]
    assert sent(mail.outbox) == recipients_of(contoso)
    alert.refresh_from_db()
    assert (alert.started_at, alert.notified_at, alert.recipients) == (NOW, NOW + timedelta(minutes=10), 4)


def test_a_backend_that_sends_fewer_messages_than_asked_has_failed(contoso, settings, monkeypatch):
    requests_at(contoso.organisation, ago(hours=4))
    monkeypatch.setattr(
        "django.core.mail.backends.locmem.EmailBackend.send_messages", lambda self, messages: len(messages) - 1
    )

    run = alerts()

    assert [(n.outcome, n.error) for n in run.notices] == [
        (Outcome.FAILED, "the email backend sent 3 of 4 messages")
    ]
    assert ProvisioningAlert.objects.get().notified_at is None


@contextlib.contextmanager
def another_host_opens_it_first(monkeypatch, **fields):
    """Let another host open each episode while this run is still finding the problems."""

    def found_elsewhere_too(*, organisation, now=None):
        found = health_conditions(organisation=organisation, now=now)
        for condition in found:
            ProvisioningAlert.objects.create(
                organisation=organisation, kind=condition.kind, started_at=now, detail=condition.detail, **fields
            )
        return found

    with monkeypatch.context() as patched:
        patched.setattr(alerts_module, "health_conditions", found_elsewhere_too)
        yield


def test_an_episode_another_host_opened_and_emailed_is_not_emailed_again(contoso, mailoutbox, monkeypatch):
    requests_at(contoso.organisation, ago(hours=4))

    with another_host_opens_it_first(monkeypatch, notified_at=NOW, recipients=4):
        run = alerts()

    assert [(n.outcome, n.opened, n.notified_at, n.recipients) for n in run.notices] == [(Outcome.OPEN, False, NOW, 4)]
    assert ProvisioningAlert.objects.count() == 1
    assert mailoutbox == []


def test_an_episode_another_host_opened_but_has_not_emailed_is_claimed_by_one_run(contoso, mailoutbox, monkeypatch):
    requests_at(contoso.organisation, ago(hours=4))

    with another_host_opens_it_first(monkeypatch):
        run = alerts()

    assert [(n.outcome, n.opened) for n in run.notices] == [(Outcome.EMAILED, False)]
    assert ProvisioningAlert.objects.get().notified_at == NOW
    assert sent(mailoutbox) == recipients_of(contoso)


def test_only_the_system_runs_alerts(contoso):
    admin = UserFactory(role=Role.ADMIN, organisation=contoso.organisation)
    for acting in (Actor.person(admin), Actor.credential(organisation=contoso.organisation, label="code …k9Qz")):
        with pytest.raises(PermissionDenied):
            provisioning_alerts_run(acting=acting)
    assert ProvisioningAlert.objects.count() == 0


# --- the Azure AD page's view -------------------------------------------------------------------


def test_health_state_shows_each_problem_with_its_episode(contoso, mailoutbox):
    organisation = contoso.organisation
    requests_at(organisation, ago(hours=4))
    silence = HealthCondition(kind="silence", title="Entra ID has stopped calling", detail=SILENCE_DETAIL)
    [item] = health_state(organisation=organisation, now=NOW)
    assert (item.condition, item.alert, item.emailed) == (silence, None, False)

    alerts()
    code_at(organisation, created_at=ago(days=400), last_used_at=ago(hours=4))

    silent, old_code = health_state(organisation=organisation, now=NOW + timedelta(minutes=1))
    assert (silent.condition, silent.alert, silent.emailed) == (silence, ProvisioningAlert.objects.get(), True)
    assert (silent.alert.started_at, silent.alert.notified_at, silent.alert.recipients) == (NOW, NOW, 4)
    assert (old_code.condition.kind, old_code.alert, old_code.emailed) == ("code_age", None, False)
    assert health_state(organisation=provisioned_organisation(), now=NOW) == []


# --- the command --------------------------------------------------------------------------------


def test_the_command_reports_each_alert_and_a_summary(contoso, mailoutbox):
    now = timezone.now()
    requests_at(contoso.organisation, now - timedelta(hours=4, minutes=5))
    last = f"{now - timedelta(hours=4, minutes=5):%Y-%m-%d %H:%M}"
    quiet = provisioned_organisation(name="Quiet", slug="quiet")
    requests_at(quiet, now - timedelta(minutes=5))
    code_at(quiet, created_at=now - timedelta(days=400), last_used_at=now - timedelta(minutes=5))
    code_at(quiet, created_at=now - timedelta(days=10), last_used_at=now - timedelta(minutes=5))

    detail = (
        f"Provisioning is on, but Entra ID has not called for 4 hours (since {last} UTC). Check the provisioning "
        "job in Entra ID: it may be in quarantine, or its credential may have been revoked."
    )
    assert run_command() == (
        "contoso: Entra ID has stopped calling: emailed 4 people\n"
        f"  {detail}\n"
        "quiet: The code in use is old: emailed 2 people\n"
        f"  {ProvisioningAlert.objects.get(kind='code_age').detail}\n"
        "Checked 2 organisations: 2 alerts emailed (6 emails), 0 cleared, 0 still open, 0 failed.\n"
    )
    # Prompt Admins hear about every organisation.
    assert sorted(m.to[0] for m in mailoutbox if m.subject == "[Prompt] Quiet: The code in use is old") == [
        "pat@prompt.example", "quinn@prompt.example"
    ]

    notified = f"{ProvisioningAlert.objects.get(kind='code_age').notified_at.astimezone(UTC):%Y-%m-%d %H:%M}"
    requests_at(contoso.organisation, timezone.now())
    assert run_command() == (
        "contoso: Entra ID has stopped calling: cleared\n"
        f"quiet: The code in use is old: still open, emailed 2 people at {notified} UTC\n"
        "Checked 2 organisations: 0 alerts emailed (0 emails), 1 cleared, 1 still open, 0 failed.\n"
    )
    assert run_command("--organisation", "contoso") == (
        "contoso: no problems\n"
        "Checked 1 organisation: 0 alerts emailed (0 emails), 0 cleared, 0 still open, 0 failed.\n"
    )
    assert len(mailoutbox) == 6


def test_the_command_dry_run_writes_and_sends_nothing(contoso, mailoutbox):
    now = timezone.now()
    requests_at(contoso.organisation, now - timedelta(hours=4, minutes=5))

    output = run_command("--dry-run")

    assert output.splitlines()[0] == (
        "contoso: Entra ID has stopped calling: would email 4 people: ada@contoso.example, Bea@Contoso.example, "
        "pat@prompt.example, quinn@prompt.example"
    )
    assert output.splitlines()[2] == (
        "Dry run, nothing was written or sent. Checked 1 organisation: 1 alert to email (4 emails), 0 to clear, "
        "0 still open."
    )
    assert len(output.splitlines()) == 3
    assert (ProvisioningAlert.objects.count(), mailoutbox) == (0, [])

    run_command()
    requests_at(contoso.organisation, timezone.now())
    assert run_command("--dry-run") == (
        "contoso: Entra ID has stopped calling: would clear\n"
        "Dry run, nothing was written or sent. Checked 1 organisation: 0 alerts to email (0 emails), 1 to clear, "
        "0 still open.\n"
    )
    assert ProvisioningAlert.objects.get().cleared_at is None


def test_the_command_for_one_organisation(contoso, mailoutbox):
    requests_at(contoso.organisation, timezone.now() - timedelta(hours=4))
    off = provisioned_organisation(name="Off", slug="off")
    off.provisioning_enabled = False
    off.save()

    assert run_command("--organisation", "off") == (
        "off: provisioning is off, nothing to check\n"
        "Checked 1 organisation: 0 alerts emailed (0 emails), 0 cleared, 0 still open, 0 failed.\n"
    )
    assert mailoutbox == []
    with pytest.raises(CommandError, match=r"^No organisation has the slug 'nope'\.$"):
        run_command("--organisation", "nope")
    assert exit_code(provisioning_alerts, "--organisation", "nope") == 1
    assert exit_code(provisioning_alerts, "--organisation", "contoso") == 0
    assert len(mailoutbox) == 4


@pytest.mark.django_db
def test_the_command_with_nothing_to_check():
    assert run_command() == (
        "No organisation has Automated User Provisioning enabled.\n"
        "Checked 0 organisations: 0 alerts emailed (0 emails), 0 cleared, 0 still open, 0 failed.\n"
    )


def test_the_command_fails_when_an_email_could_not_be_sent(contoso, mailoutbox, settings):
    settings.EMAIL_BACKEND = "tests.health.conftest.FailingEmailBackend"
    requests_at(contoso.organisation, timezone.now() - timedelta(hours=4, minutes=5))
    out = StringIO()

    with pytest.raises(CommandError, match=r"^1 alert could not be emailed; the next run tries again\.$"):
        call_command("provisioning_alerts", stdout=out, no_color=True)

    assert out.getvalue().splitlines()[0] == (
        "contoso: Entra ID has stopped calling: could not email 4 people "
        "(SMTPServerDisconnected: Connection unexpectedly closed)"
    )
    assert out.getvalue().splitlines()[2] == (
        "Checked 1 organisation: 0 alerts emailed (0 emails), 0 cleared, 0 still open, 1 failed."
    )
    assert ProvisioningAlert.objects.get().notified_at is None
    assert exit_code(provisioning_alerts) == 1
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert exit_code(provisioning_alerts) == 0
    assert sent(mailoutbox) == recipients_of(contoso)


# --- manage.py in a process of its own ----------------------------------------------------------


def test_manage_py_exit_codes_and_output(site):
    unknown = site.manage("provisioning_alerts", "--organisation", "nope")
    assert (unknown.returncode, unknown.stdout, unknown.stderr) == (
        1, "", "CommandError: No organisation has the slug 'nope'.\n"
    )

    healthy = site.manage("provisioning_alerts")
    assert (healthy.returncode, healthy.stderr) == (0, "")
    assert healthy.stdout == (
        "demo: no problems\n"
        "Checked 1 organisation: 0 alerts emailed (0 emails), 0 cleared, 0 still open, 0 failed.\n"
    )

    site.shell(OLD_CODE_IN_USE)
    # Nothing listens on the SMTP port: the server cannot be reached.
    refused = site.manage("provisioning_alerts", EMAIL_URL=f"smtp://127.0.0.1:{free_port()}")
    assert (refused.returncode, refused.stderr) == (
        1, "CommandError: 2 alerts could not be emailed; the next run tries again.\n"
    )
    lines = refused.stdout.splitlines()
    assert [line for line in lines if not line.startswith("  ")] == [
        "demo: Entra ID has stopped calling: could not email 2 people (ConnectionRefusedError: [Errno 111] Connection refused)",
        "demo: The code in use is old: could not email 2 people (ConnectionRefusedError: [Errno 111] Connection refused)",
        "Checked 1 organisation: 0 alerts emailed (0 emails), 0 cleared, 0 still open, 2 failed.",
    ]
    assert site.emails() == []

    retried = site.manage("provisioning_alerts")
    assert (retried.returncode, retried.stderr) == (0, "")
    assert [line for line in retried.stdout.splitlines() if not line.startswith("  ")] == [
        "demo: Entra ID has stopped calling: emailed 2 people",
        "demo: The code in use is old: emailed 2 people",
        "Checked 1 organisation: 2 alerts emailed (4 emails), 0 cleared, 0 still open, 0 failed.",
    ]
    assert sorted((m["To"], m["Subject"]) for m in site.emails()) == [
        ("admin@demo.example", "[Prompt] Demo Organisation: Entra ID has stopped calling"),
        ("admin@demo.example", "[Prompt] Demo Organisation: The code in use is old"),
        ("prompt.admin@demo.example", "[Prompt] Demo Organisation: Entra ID has stopped calling"),
        ("prompt.admin@demo.example", "[Prompt] Demo Organisation: The code in use is old"),
    ]
    body = site.emails()[0].get_payload(decode=True).decode()
    assert "https://prompt.example/admin/organisations/organisation/" in body
