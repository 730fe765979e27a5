"""Check the connection: Entra's Test Connection requests through the real SCIM views, writing nothing."""
from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import resolve
from django.utils import timezone

from organisations.access import Actor, NotInReachError
from organisations.models import AuditEvent, Role, User
from scim_provisioning.api.authentication import SELF_CHECK_ENVIRON_KEY
from scim_provisioning.codes.actions import (
    provisioning_code_issue,
    provisioning_code_revoke_all,
)
from scim_provisioning.health.self_check import CheckStep, connection_check
from scim_provisioning.models import (
    OAuthAccessToken,
    ProvisioningCode,
    ProvisioningCodeReveal,
    ScimRequest,
    ScimUser,
)
from scim_provisioning.oauth import actions as oauth_actions
from tests.factories import SYSTEM, UserFactory, provisioned_organisation
from tests.oauth.conftest import token_for

USERS = "/api/authentication/scim/Users"
LOOKUP = USERS + '?filter=userName eq "0b6b6c55-1e0e-4a53-9c0e-2b1b5a3e0c11"'
QUARANTINE = "Entra ID would report invalid credentials and put the job in quarantine"
NEW_CODE = "generate a new code and paste it into Entra ID as the Secret Token."
PROBES_PASS = [
    CheckStep("Find a user", True, "GET /Users answered 200 with an empty list, as Entra ID expects."),
    CheckStep("Find a group", True, "GET /Groups answered 200 with an empty list, as Entra ID expects."),
    CheckStep(
        "Discovery documents", True, "GET /ServiceProviderConfig, /ResourceTypes and /Schemas answered 200 with SCIM JSON."
    ),
]
SETTINGS_PASS = CheckStep(
    "Settings",
    True,
    "Automated User Provisioning is on; the Tenancy ID, Default Department and Default Section are set.",
)


@pytest.fixture
def code(organisation) -> ProvisioningCode:
    """The organisation's one code, issued as the Azure AD page issues it."""
    code, _ = provisioning_code_issue(acting=SYSTEM, organisation=organisation)
    return code


def check(organisation):
    return connection_check(acting=SYSTEM, organisation=organisation)


def outline(result) -> list[tuple[str, bool | None]]:
    return [(step.name, step.passed) for step in result.steps]


def refused_probes(cause: str) -> list[CheckStep]:
    explanation = f"{QUARANTINE}, because {cause}."
    return [
        CheckStep("Find a user", False, "GET /Users answered 401 Unauthorized.", explanation),
        CheckStep("Find a group", False, "GET /Groups answered 401 Unauthorized.", explanation),
        CheckStep("Discovery documents", False, "GET /ServiceProviderConfig answered 401 Unauthorized.", explanation),
    ]


def skipped_probes(summary: str) -> list[CheckStep]:
    return [CheckStep(name, None, summary) for name in ("Find a user", "Find a group", "Discovery documents")]


def utc(moment) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


# --- what the page shows --------------------------------------------------------------------------


def test_a_fully_set_up_organisation_passes_every_step(organisation, code):
    result = check(organisation)

    assert result.steps == [SETTINGS_PASS, CheckStep("Credential", True, f"Code …{code.last_characters} is active."), *PROBES_PASS]
    assert result.passed


def test_provisioning_off_fails_the_settings_and_every_probe(organisation, code):
    organisation.provisioning_enabled = False
    organisation.save()

    result = check(organisation)

    assert result.steps == [
        CheckStep(
            "Settings",
            False,
            "Needs attention: Automated User Provisioning is off.",
            "Automated User Provisioning is off, so Entra ID's requests are refused. "
            "Tick Enable Automated User Provisioning above and save.",
        ),
        CheckStep("Credential", True, f"Code …{code.last_characters} is active."),
        *refused_probes("Automated User Provisioning is off"),
    ]
    assert not result.passed


def test_a_missing_tenancy_id_fails_the_settings_but_not_the_probes(organisation, code):
    organisation.azure_tenant_id = None
    organisation.save()

    result = check(organisation)

    assert result.steps[0] == CheckStep(
        "Settings",
        False,
        "Needs attention: no Tenancy ID.",
        "No Tenancy ID is set: sign-in with Microsoft and workload identity federation need it. "
        "Enter your Entra ID tenant's Directory (tenant) ID as the Tenancy ID above and save.",
    )
    assert result.steps[2:] == PROBES_PASS
    assert not result.passed


def test_no_default_section_fails_the_settings(organisation, code):
    # The model allows it (the form is what asks for one while provisioning is on).
    organisation.default_section = None
    organisation.save()

    result = check(organisation)

    assert result.steps[0] == CheckStep(
        "Settings",
        False,
        "Needs attention: no Default Section.",
        "No Default Section is chosen, so new users from Entra ID would land in no section. "
        "Choose one under User Creation Details above and save.",
    )
    assert result.steps[1].passed
    assert result.steps[2:] == PROBES_PASS


def test_every_missing_setting_is_its_own_sentence(organisation, code):
    organisation.provisioning_enabled = False
    organisation.azure_tenant_id = None
    organisation.default_department = None
    organisation.default_section = None
    organisation.save()

    settings_step = check(organisation).steps[0]

    assert settings_step.summary == (
        "Needs attention: Automated User Provisioning is off, no Tenancy ID, no Default Department, no Default Section."
    )
    assert settings_step.explanation.count("above and save.") == 4


def test_a_revoked_code_is_named_and_the_probes_show_the_401(organisation, code):
    provisioning_code_revoke_all(acting=SYSTEM, organisation=organisation)
    code.refresh_from_db()

    result = check(organisation)

    ending = f"…{code.last_characters}"
    assert result.steps == [
        SETTINGS_PASS,
        CheckStep(
            "Credential",
            False,
            f"Code {ending} was revoked.",
            f"The newest Provisioning Authentication Code ({ending}) was revoked on {utc(code.revoked_at)}: {NEW_CODE}",
        ),
        *refused_probes(f"the newest code ({ending}) was revoked"),
    ]


def test_the_newest_code_counts_even_when_an_older_one_is_active(organisation, code):
    newer, _ = provisioning_code_issue(acting=SYSTEM, organisation=organisation)
    ProvisioningCode.objects.filter(pk=newer.pk).update(revoked_at=timezone.now())

    result = check(organisation)

    assert result.steps[1].summary == f"Code …{newer.last_characters} was revoked."
    assert outline(result)[2:] == [("Find a user", False), ("Find a group", False), ("Discovery documents", False)]


def test_an_expired_code(organisation, code):
    expired_at = timezone.now() - timedelta(minutes=5)
    ProvisioningCode.objects.filter(pk=code.pk).update(expires_at=expired_at)

    result = check(organisation)

    ending = f"…{code.last_characters}"
    assert result.steps[1:] == [
        CheckStep(
            "Credential",
            False,
            f"Code {ending} has expired.",
            f"The newest Provisioning Authentication Code ({ending}) expired on {utc(expired_at)}: {NEW_CODE}",
        ),
        *refused_probes(f"the newest code ({ending}) has expired"),
    ]


def test_no_code_at_all_skips_the_probes(organisation):
    result = check(organisation)

    assert result.steps == [
        SETTINGS_PASS,
        CheckStep(
            "Credential",
            False,
            "No Provisioning Authentication Code.",
            "This organisation has no Provisioning Authentication Code: generate one with Generate new code above "
            "and paste it into Entra ID as the Secret Token.",
        ),
        *skipped_probes("No code to send."),
    ]
    assert not result.passed


def test_no_code_with_provisioning_off_says_to_turn_it_on(db):
    organisation = provisioned_organisation()
    organisation.provisioning_enabled = False
    organisation.save()

    credential = check(organisation).steps[1]

    assert credential.explanation == (
        "This organisation has no Provisioning Authentication Code: enable Automated User Provisioning above and "
        "save, then paste the code that appears into Entra ID as the Secret Token."
    )


def test_an_oauth_client_that_refuses_codes_skips_the_probes(organisation, code):
    oauth_actions.oauth_client_secret_issue(acting=SYSTEM, organisation=organisation)
    oauth_actions.oauth_client_settings_save(
        acting=SYSTEM, organisation=organisation, wanted=oauth_actions.ClientSettings(None, None, accepts_code=False)
    )

    result = check(organisation)

    assert result.steps == [
        SETTINGS_PASS,
        CheckStep(
            "Credential",
            False,
            "Entra ID authenticates with the OAuth client.",
            "This organisation's OAuth client does not accept the Provisioning Authentication Code, so Entra ID "
            "authenticates with the OAuth client, whose secret only Entra ID holds: this check cannot send Entra's "
            "requests for it. Use Test Connection on the Provisioning page of your enterprise application in Entra "
            "ID instead.",
        ),
        *skipped_probes("Entra ID authenticates with the OAuth client."),
    ]


def test_a_code_no_configured_key_can_read_skips_the_probes(organisation, code, settings):
    settings.PROVISIONING_CODE_KEYS = [Fernet.generate_key().decode()]

    result = check(organisation)

    ending = f"…{code.last_characters}"
    assert result.steps[1:] == [
        CheckStep(
            "Credential",
            False,
            f"Code {ending} cannot be read.",
            f"This site can no longer decrypt code {ending} (its key was removed from PROVISIONING_CODE_KEYS), so "
            f"the check cannot send Entra's requests with it; Entra ID can still use it. To check the connection, "
            f"{NEW_CODE}",
        ),
        *skipped_probes("The code cannot be read."),
    ]


# --- it writes nothing ----------------------------------------------------------------------------


def test_it_writes_nothing(organisation, code):
    used_at = timezone.now() - timedelta(minutes=10)  # old enough for a real request to update it
    ProvisioningCode.objects.filter(pk=code.pk).update(last_used_at=used_at)
    counts = (User.objects.count(), ScimUser.objects.count(), AuditEvent.objects.count())

    with CaptureQueriesContext(connection) as queries:
        result = check(organisation)

    assert result.passed
    statements = [query["sql"].lstrip().split(None, 1)[0].upper() for query in queries]
    assert statements and set(statements) <= {"SELECT"}, statements
    assert ScimRequest.objects.count() == 0
    assert ProvisioningCodeReveal.objects.count() == 0
    assert (User.objects.count(), ScimUser.objects.count(), AuditEvent.objects.count()) == counts
    code.refresh_from_db()
    assert code.last_used_at == used_at


def test_a_new_code_checked_before_entra_uses_it_leaves_the_older_code_working(organisation):
    older, older_plaintext = provisioning_code_issue(acting=SYSTEM, organisation=organisation)
    assert Client(HTTP_AUTHORIZATION=f"Bearer {older_plaintext}").get(LOOKUP).status_code == 200
    newer, newer_plaintext = provisioning_code_issue(acting=SYSTEM, organisation=organisation)

    assert check(organisation).passed

    older.refresh_from_db()
    newer.refresh_from_db()
    assert older.revoked_at is None  # Entra ID may still be sending it
    assert newer.last_used_at is None
    assert Client(HTTP_AUTHORIZATION=f"Bearer {older_plaintext}").get(LOOKUP).status_code == 200
    # Whereas Entra's first use of the newer code does end the older one's grace period.
    assert Client(HTTP_AUTHORIZATION=f"Bearer {newer_plaintext}").get(LOOKUP).status_code == 200
    older.refresh_from_db()
    assert older.revoked_at is not None


def test_failed_self_checks_do_not_count_toward_the_throttle(organisation, code, settings):
    settings.SCIM_AUTH_FAILURE_LIMIT = 5
    settings.SCIM_AUTH_FAILURE_WINDOW_SECONDS = 3600
    provisioning_code_revoke_all(acting=SYSTEM, organisation=organisation)
    for _ in range(30):
        assert outline(check(organisation))[2] == ("Find a user", False)

    # The self-check's address (this server) has no failures on record: a wrong code is a 401, not a 429.
    assert Client(HTTP_AUTHORIZATION="Bearer nope", REMOTE_ADDR="127.0.0.1").get(USERS).status_code == 401
    _, plaintext = provisioning_code_issue(acting=SYSTEM, organisation=organisation)
    assert Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}", REMOTE_ADDR="127.0.0.1").get(LOOKUP).status_code == 200
    # Real failures from that address still count.
    statuses = [
        Client(HTTP_AUTHORIZATION="Bearer nope", REMOTE_ADDR="127.0.0.1").get(USERS).status_code for _ in range(5)
    ]
    assert statuses == [401, 401, 401, 401, 429]


def test_a_self_check_request_with_an_access_token_is_not_marked_used(organisation):
    secret, plaintext = oauth_actions.oauth_client_secret_issue(acting=SYSTEM, organisation=organisation)
    bearer = token_for(secret.client.client_id, plaintext)  # the token endpoint records its grant
    recorded = ScimRequest.objects.count()
    request = RequestFactory().get(LOOKUP, HTTP_AUTHORIZATION=f"Bearer {bearer}", **{SELF_CHECK_ENVIRON_KEY: True})
    match = resolve(USERS)

    response = match.func(request, *match.args, **match.kwargs)

    assert response.status_code == 200
    assert OAuthAccessToken.objects.get().last_used_at is None
    assert ScimRequest.objects.count() == recorded


def test_a_header_cannot_pass_for_a_self_check(organisation, provisioning_code):
    # Headers reach the environ as HTTP_* keys only.
    entra = Client(HTTP_AUTHORIZATION=f"Bearer {provisioning_code}", headers={SELF_CHECK_ENVIRON_KEY: "True"})

    assert entra.get(LOOKUP).status_code == 200

    assert ScimRequest.objects.count() == 1
    assert ProvisioningCode.objects.get().last_used_at is not None


# --- who may run it -------------------------------------------------------------------------------


def test_an_admin_of_the_organisation_may_run_it(organisation, code):
    admin = UserFactory(organisation=organisation, role=Role.ADMIN)

    assert connection_check(acting=Actor.person(admin), organisation=organisation).passed


def test_an_admin_of_another_organisation_finds_nothing(organisation, code):
    stranger = UserFactory(organisation=provisioned_organisation(), role=Role.ADMIN)

    with pytest.raises(NotInReachError):
        connection_check(acting=Actor.person(stranger), organisation=organisation)


def test_a_person_without_a_role_may_not_run_it(organisation, code):
    member = UserFactory(organisation=organisation, role=Role.NONE)

    with pytest.raises(PermissionDenied):
        connection_check(acting=Actor.person(member), organisation=organisation)


def test_a_credential_may_not_run_it(organisation, code):
    # Entra ID's own credential reaches the organisation's people, not its settings.
    acting = Actor.credential(organisation=organisation, label="Entra ID (code …abcd)")

    with pytest.raises(PermissionDenied):
        connection_check(acting=acting, organisation=organisation)
