"""The organisation's Azure AD page: settings, validation and the Provisioning Authentication Code."""
from __future__ import annotations

import logging
import re
import uuid
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from organisations.azure_ad import AzureADSettings
from organisations.models import Organisation, Role, Section
from scim_provisioning.codes import actions as scim_services
from scim_provisioning.codes import tokens
from scim_provisioning.models import ProvisioningCode, ProvisioningCodeReveal
from tests.factories import (
    SYSTEM,
    DepartmentFactory,
    OrganisationFactory,
    SectionFactory,
    UserFactory,
    provisioned_organisation,
)

pytestmark = pytest.mark.django_db

TENANCY_ID = "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b"


@pytest.fixture
def fresh_organisation() -> Organisation:
    """An organisation with departments and sections but no Azure AD settings yet."""
    organisation = OrganisationFactory(name="Fresh Organisation")
    for department_name, section_names in {"Operations": ["Onboarding", "Service Desk"], "Finance": ["Payroll"]}.items():
        department = DepartmentFactory(organisation=organisation, name=department_name)
        for section_name in section_names:
            SectionFactory(department=department, name=section_name)
    return organisation


@pytest.fixture
def admin_user(fresh_organisation):
    return UserFactory(organisation=fresh_organisation, role=Role.ADMIN)


@pytest.fixture
def admin_client(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def page_url(organisation: Organisation) -> str:
    return reverse("admin:organisations_organisation_azure_ad", args=[organisation.pk])


def reveal_url(code: ProvisioningCode) -> str:
    return reverse(
        "admin:organisations_organisation_azure_ad_code_reveal",
        kwargs={"id": code.organisation_id, "code_id": code.pk},
    )


def generate_url(organisation: Organisation) -> str:
    return reverse("admin:organisations_organisation_azure_ad_code_generate", args=[organisation.pk])


def revoke_previous_url(organisation: Organisation) -> str:
    return reverse("admin:organisations_organisation_azure_ad_code_revoke_previous", args=[organisation.pk])


def valid_data(organisation: Organisation, **changes) -> dict:
    department = organisation.departments.get(name="Operations")
    data = {
        "azure_sso_enabled": "on",
        "azure_tenant_id": TENANCY_ID,
        "provisioning_enabled": "on",
        "default_department": department.pk,
        "default_section": department.sections.get(name="Onboarding").pk,
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def active_codes(organisation: Organisation) -> list[ProvisioningCode]:
    return list(ProvisioningCode.objects.filter(tokens.active_codes_q(), organisation=organisation))


# --- The page -----------------------------------------------------------------------------------


def test_change_page_links_to_the_azure_ad_page(admin_client, fresh_organisation):
    response = admin_client.get(reverse("admin:organisations_organisation_change", args=[fresh_organisation.pk]))
    body = response.content.decode()
    assert f'<a href="{page_url(fresh_organisation)}" class="azure-ad-link">Azure AD</a>' in body


def test_page_has_the_fields_and_labels_the_steps_name(admin_client, fresh_organisation):
    response = admin_client.get(page_url(fresh_organisation))
    assert response.status_code == 200
    body = response.content.decode()
    assert "<h1>Azure AD</h1>" in body
    assert "<h2>Fresh Organisation</h2>" in body
    checkboxes = {"azure_sso_enabled": "Enable Azure SSO", "provisioning_enabled": "Enable Automated User Provisioning"}
    for name, label in checkboxes.items():
        assert f'<label class="vCheckboxLabel" for="id_{name}">{label}</label>' in body, label
    fields = {"azure_tenant_id": "Tenancy ID", "default_department": "Default Department", "default_section": "Default Section"}
    for name, label in fields.items():
        assert f'<label for="id_{name}">{label}:</label>' in body, label
    assert '<h2 id="fieldset-0-1-heading" class="fieldset-heading">User Creation Details</h2>' in body
    assert '<input type="submit" value="Save" class="default" name="_save">' in body
    assert "{% block" not in body
    # Nothing to reveal before provisioning is enabled.
    assert "Reveal" not in body
    assert "Enable Automated User Provisioning above and click Save" in body


def test_section_options_name_their_department(admin_client, fresh_organisation):
    other = SectionFactory(name="Elsewhere")  # another organisation's section is never offered
    response = admin_client.get(page_url(fresh_organisation))
    field = response.context["adminform"].form["default_section"]
    html = str(field)
    options = re.findall(r'<option value="(\d+)" data-department="(\d+)">([^<]*)</option>', html)
    assert options == [
        (str(section.pk), str(section.department_id), str(section))
        for section in Section.objects.filter(department__organisation=fresh_organisation).order_by(
            "department__name", "name"
        )
    ]
    assert len(options) == 3
    assert f'value="{other.pk}"' not in html


# --- Validation ---------------------------------------------------------------------------------

GUID_ERROR = "Enter the Tenancy ID as a GUID, such as 1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b."


VALIDATION_CASES = {
    "tenancy id required with azure sso": (
        {"azure_tenant_id": "", "provisioning_enabled": None},
        {"azure_tenant_id": ["Enter the Tenancy ID to enable Azure SSO."]},
    ),
    "tenancy id not a guid": (
        {"azure_tenant_id": "contoso.onmicrosoft.com"},
        {"azure_tenant_id": [GUID_ERROR]},
    ),
    "tenancy id without hyphens": (
        {"azure_tenant_id": TENANCY_ID.replace("-", "")},
        {"azure_tenant_id": [GUID_ERROR]},
    ),
    "tenancy id in braces": ({"azure_tenant_id": "{" + TENANCY_ID + "}"}, {"azure_tenant_id": [GUID_ERROR]}),
    "tenancy id one character short": ({"azure_tenant_id": TENANCY_ID[:-1]}, {"azure_tenant_id": [GUID_ERROR]}),
    "tenancy id all zeros": (
        {"azure_tenant_id": "00000000-0000-0000-0000-000000000000"},
        {"azure_tenant_id": ["The Tenancy ID cannot be all zeros."]},
    ),
    "tenancy id malformed even without azure sso": (
        {"azure_sso_enabled": None, "provisioning_enabled": None, "azure_tenant_id": "nope"},
        {"azure_tenant_id": [GUID_ERROR]},
    ),
    "tenancy id far too long": (
        {"azure_tenant_id": "x" * 500},
        {"azure_tenant_id": ["Ensure this value has at most 100 characters (it has 500)."]},
    ),
    "provisioning needs azure sso": (
        {"azure_sso_enabled": None},
        {"provisioning_enabled": ["Automated User Provisioning needs Azure SSO: enable Azure SSO as well."]},
    ),
    "provisioning needs the tenancy id": (
        {"azure_tenant_id": ""},
        {"azure_tenant_id": ["Enter the Tenancy ID to enable Azure SSO."]},
    ),
    "provisioning needs a default department and section": (
        {"default_department": "", "default_section": ""},
        {
            "default_department": ["Choose the department new users are created in."],
            "default_section": ["Choose the section new users are created in."],
        },
    ),
    "provisioning needs a default section": (
        {"default_section": ""},
        {"default_section": ["Choose the section new users are created in."]},
    ),
    "department of another organisation": (
        {"default_department": "other-organisation-department"},
        {
            "default_department": ["Choose a department of this organisation."],
        },
    ),
    "section of another organisation": (
        {"default_section": "other-organisation-section"},
        {"default_section": ["Choose a section of this organisation."]},
    ),
    "section outside the department": (
        {"default_section": "payroll"},
        {"default_section": ["Choose a section of the Operations department."]},
    ),
    "section without a department": (
        {"provisioning_enabled": None, "default_department": ""},
        {"default_section": ["Choose the Default Department this section belongs to."]},
    ),
    "department id that is not a number": (
        {"default_department": "abc"},
        {"default_department": ["Choose a department of this organisation."]},
    ),
}


@pytest.mark.parametrize("case", list(VALIDATION_CASES))
def test_bad_input_gives_form_errors_and_changes_nothing(admin_client, fresh_organisation, case):
    changes, expected_errors = VALIDATION_CASES[case]
    other_section = SectionFactory(name="Elsewhere")
    placeholders = {
        "other-organisation-department": other_section.department.pk,
        "other-organisation-section": other_section.pk,
        "payroll": fresh_organisation.departments.get(name="Finance").sections.get().pk,
    }
    changes = {key: placeholders.get(value, value) for key, value in changes.items()}
    before = AzureADSettings.of(Organisation.objects.get(pk=fresh_organisation.pk))

    response = admin_client.post(page_url(fresh_organisation), valid_data(fresh_organisation, **changes))

    assert response.status_code == 200
    assert response.context["form"].errors == expected_errors
    body = response.content.decode()
    assert "Please correct the error" in body
    assert AzureADSettings.of(Organisation.objects.get(pk=fresh_organisation.pk)) == before
    assert not ProvisioningCode.objects.exists()
    assert not LogEntry.objects.exists()


def test_existing_settings_stay_when_a_change_is_refused():
    organisation = provisioned_organisation()
    admin = UserFactory(organisation=organisation, role=Role.ADMIN)
    client = Client()
    client.force_login(admin)
    before = AzureADSettings.of(Organisation.objects.get(pk=organisation.pk))
    response = client.post(page_url(organisation), valid_data(organisation, azure_tenant_id="not-a-guid"))
    assert response.status_code == 200
    assert AzureADSettings.of(Organisation.objects.get(pk=organisation.pk)) == before


# --- Saving and the first code ------------------------------------------------------------------


def test_first_save_with_provisioning_issues_one_code_and_logs_without_it(admin_client, admin_user, fresh_organisation):
    response = admin_client.post(page_url(fresh_organisation), valid_data(fresh_organisation), follow=True)

    assert response.redirect_chain == [(page_url(fresh_organisation), 302)]
    organisation = Organisation.objects.get(pk=fresh_organisation.pk)
    department = organisation.departments.get(name="Operations")
    assert AzureADSettings.of(organisation) == AzureADSettings(
        azure_sso_enabled=True,
        azure_tenant_id=uuid.UUID(TENANCY_ID),
        provisioning_enabled=True,
        default_department=department,
        default_section=department.sections.get(name="Onboarding"),
    )
    [code] = active_codes(organisation)
    assert code.created_by == admin_user
    plaintext = tokens.decrypt_code(code.encrypted)

    body = response.content.decode()
    assert "A Provisioning Authentication Code was generated" in body
    assert f"pscim_{'•' * 24}{code.last_characters}" in body
    assert plaintext not in body
    assert 'value="http://testserver/api/authentication/scim"' in body
    assert reveal_url(code) in body

    [entry] = LogEntry.objects.all()
    assert entry.user == admin_user
    assert entry.get_change_message() == (
        "Changed Enable Azure SSO, Tenancy ID, Enable Automated User Provisioning, Default Department and "
        f"Default Section. Added Provisioning Authentication Code “…{code.last_characters}”."
    )
    assert plaintext not in entry.change_message

    # Saving again changes nothing and issues nothing.
    admin_client.post(page_url(fresh_organisation), valid_data(fresh_organisation))
    assert active_codes(organisation) == [code]
    assert LogEntry.objects.count() == 1


def test_azure_sso_alone_issues_no_code(admin_client, fresh_organisation):
    response = admin_client.post(
        page_url(fresh_organisation),
        valid_data(fresh_organisation, provisioning_enabled=None, default_department="", default_section=""),
    )
    assert response.status_code == 302
    organisation = Organisation.objects.get(pk=fresh_organisation.pk)
    assert (organisation.azure_sso_enabled, organisation.provisioning_enabled) == (True, False)
    assert not ProvisioningCode.objects.exists()


def test_default_section_follows_department_on_save(admin_client, fresh_organisation):
    finance = fresh_organisation.departments.get(name="Finance")
    response = admin_client.post(
        page_url(fresh_organisation),
        valid_data(fresh_organisation, default_department=finance.pk, default_section=finance.sections.get().pk),
    )
    assert response.status_code == 302
    organisation = Organisation.objects.get(pk=fresh_organisation.pk)
    assert (organisation.default_department, organisation.default_section) == (finance, finance.sections.get())


# --- Disabling provisioning ---------------------------------------------------------------------


def test_turning_provisioning_off_stops_codes_and_on_restores_them(admin_client, fresh_organisation):
    admin_client.post(page_url(fresh_organisation), valid_data(fresh_organisation))
    [code] = active_codes(fresh_organisation)
    plaintext = tokens.decrypt_code(code.encrypted)
    assert tokens.organisation_for_code(plaintext) == fresh_organisation

    admin_client.post(page_url(fresh_organisation), valid_data(fresh_organisation, provisioning_enabled=None))
    assert tokens.organisation_for_code(plaintext) is None
    body = admin_client.get(page_url(fresh_organisation)).content.decode()
    assert "Automated User Provisioning is off, so Entra ID cannot use this organisation's codes." in body
    assert "Reveal" not in body

    response = admin_client.post(reveal_url(code))
    assert response.status_code == 409
    assert response.json() == {"error": "Automated User Provisioning is not enabled."}
    assert not ProvisioningCodeReveal.objects.exists()

    response = admin_client.post(generate_url(fresh_organisation), follow=True)
    assert "Enable Automated User Provisioning before generating a Provisioning Authentication Code." in (
        response.content.decode()
    )
    assert ProvisioningCode.objects.count() == 1

    admin_client.post(page_url(fresh_organisation), valid_data(fresh_organisation))
    assert tokens.organisation_for_code(plaintext) == fresh_organisation
    assert ProvisioningCode.objects.count() == 1


# --- Reveal -------------------------------------------------------------------------------------


@pytest.fixture
def provisioned(admin_client, fresh_organisation) -> tuple[ProvisioningCode, str]:
    admin_client.post(page_url(fresh_organisation), valid_data(fresh_organisation))
    [code] = active_codes(fresh_organisation)
    return code, tokens.decrypt_code(code.encrypted)


def test_reveal_returns_the_code_uncached_and_records_who(admin_client, admin_user, provisioned):
    code, plaintext = provisioned
    before = timezone.now()
    response = admin_client.post(reveal_url(code))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]
    assert response.json() == {"code": plaintext}
    [reveal] = ProvisioningCodeReveal.objects.all()
    assert (reveal.code, reveal.revealed_by) == (code, admin_user)
    assert before <= reveal.revealed_at <= timezone.now()
    assert tokens.organisation_for_code(response.json()["code"]) == code.organisation
    # The page now says who revealed it last, and still never the code itself.
    body = admin_client.get(page_url(code.organisation)).content.decode()
    assert f"Last revealed by {admin_user.username}" in body
    assert plaintext not in body


def test_reveal_is_post_only(admin_client, provisioned):
    code, _ = provisioned
    response = admin_client.get(reveal_url(code))
    assert response.status_code == 405
    assert not ProvisioningCodeReveal.objects.exists()


def test_reveal_needs_the_csrf_token(admin_user, provisioned):
    code, plaintext = provisioned
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.post(reveal_url(code)).status_code == 403
    assert not ProvisioningCodeReveal.objects.exists()

    client.get(page_url(code.organisation))  # sets the CSRF cookie, as the browser does
    token = client.cookies["csrftoken"].value
    response = client.post(reveal_url(code), HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    assert response.json() == {"code": plaintext}


def test_other_organisations_admins_cannot_reveal(provisioned):
    code, plaintext = provisioned
    for intruder in (
        UserFactory(role=Role.ADMIN),
        UserFactory(role=Role.AGENCY_ADMIN, agency=OrganisationFactory().agency),
    ):
        client = Client()
        client.force_login(intruder)
        response = client.post(reveal_url(code))
        assert response.status_code == 404
        assert plaintext not in response.content.decode()
    assert not ProvisioningCodeReveal.objects.exists()


def test_revoked_code_cannot_be_revealed(admin_client, provisioned):
    code, _ = provisioned
    scim_services.provisioning_code_revoke_all(acting=SYSTEM, organisation=code.organisation)
    assert admin_client.post(reveal_url(code)).status_code == 404


# --- Rotation and revocation --------------------------------------------------------------------


def test_generate_new_code_keeps_the_previous_one_for_the_grace_period(admin_client, admin_user, provisioned):
    old, old_plaintext = provisioned
    organisation = old.organisation
    assert admin_client.get(generate_url(organisation)).status_code == 405

    before = timezone.now()
    response = admin_client.post(generate_url(organisation), follow=True)
    assert response.redirect_chain == [(page_url(organisation), 302)]
    new = ProvisioningCode.objects.exclude(pk=old.pk).get()
    new_plaintext = tokens.decrypt_code(new.encrypted)
    body = response.content.decode()
    assert f"A new Provisioning Authentication Code ending {new.last_characters} was generated." in body
    assert new_plaintext not in body and old_plaintext not in body
    assert reveal_url(new) in body
    assert "Revoke previous code now" in body

    old.refresh_from_db()
    assert before + timedelta(hours=24) <= old.expires_at <= timezone.now() + timedelta(hours=24)
    assert tokens.organisation_for_code(old_plaintext) == organisation
    assert tokens.organisation_for_code(new_plaintext) == organisation
    # After the grace period the old code stops; the new one goes on.
    ProvisioningCode.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert tokens.organisation_for_code(old_plaintext) is None
    assert tokens.organisation_for_code(new_plaintext) == organisation

    entry = LogEntry.objects.order_by("-action_time", "-id").first()
    assert entry.get_change_message() == f"Added Provisioning Authentication Code “…{new.last_characters}”."


def test_first_use_of_the_new_code_ends_the_previous_one(admin_client, provisioned):
    old, old_plaintext = provisioned
    admin_client.post(generate_url(old.organisation))
    new = ProvisioningCode.objects.exclude(pk=old.pk).get()
    scim_services.provisioning_code_mark_used(code=new)
    assert tokens.organisation_for_code(old_plaintext) is None


def test_revoke_previous_code_now(admin_client, provisioned):
    old, old_plaintext = provisioned
    organisation = old.organisation
    admin_client.post(generate_url(organisation))
    new = ProvisioningCode.objects.exclude(pk=old.pk).get()
    assert admin_client.get(revoke_previous_url(organisation)).status_code == 405

    response = admin_client.post(revoke_previous_url(organisation), follow=True)
    body = response.content.decode()
    assert "Revoked 1 previous Provisioning Authentication Code: only the newest code works now." in body
    assert "Revoke previous code now" not in body
    assert tokens.organisation_for_code(old_plaintext) is None
    assert tokens.organisation_for_code(tokens.decrypt_code(new.encrypted)) == organisation
    assert LogEntry.objects.order_by("-action_time", "-id").first().get_change_message() == (
        "Revoked 1 previous Provisioning Authentication Code."
    )

    response = admin_client.post(revoke_previous_url(organisation), follow=True)
    assert "There was no previous code to revoke." in response.content.decode()


def test_active_codes_are_listed_by_last_characters_with_times(admin_client, provisioned):
    old, _ = provisioned
    admin_client.post(generate_url(old.organisation))
    new = ProvisioningCode.objects.exclude(pk=old.pk).get()
    scim_services.provisioning_code_mark_used(code=old)
    response = admin_client.get(page_url(old.organisation))
    rows = response.context["codes"]
    assert rows == [new, old]
    body = response.content.decode()
    assert body.index(f"<code>…{new.last_characters}</code>") < body.index(f"<code>…{old.last_characters}</code>")
    assert "Never" in body  # the new code has not been used
    assert "0\xa0minutes ago" in body  # the old one just was
    assert "Previous: works until" in body


def test_other_organisations_admins_cannot_rotate_or_revoke(provisioned):
    code, plaintext = provisioned
    intruder = UserFactory(role=Role.ADMIN)
    client = Client()
    client.force_login(intruder)
    assert client.post(generate_url(code.organisation)).status_code == 404
    assert client.post(revoke_previous_url(code.organisation)).status_code == 404
    assert active_codes(code.organisation) == [code]


# --- No code in logs ----------------------------------------------------------------------------


def test_no_code_in_logs_or_history(admin_client, fresh_organisation, caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger().setLevel(logging.DEBUG)
    admin_client.post(page_url(fresh_organisation), valid_data(fresh_organisation))  # issue
    first = ProvisioningCode.objects.get()
    revealed = admin_client.post(reveal_url(first)).json()["code"]  # reveal
    admin_client.post(generate_url(fresh_organisation))  # rotate
    second = ProvisioningCode.objects.exclude(pk=first.pk).get()
    admin_client.post(reveal_url(second))
    admin_client.post(revoke_previous_url(fresh_organisation))  # revoke

    plaintexts = [tokens.decrypt_code(c.encrypted) for c in ProvisioningCode.objects.all()]
    assert revealed in plaintexts and len(plaintexts) == 2
    assert caplog.records, "expected the code actions to log something"
    logged = "\n".join(
        [caplog.text] + [record.getMessage() for record in caplog.records] + [repr(r.args) for r in caplog.records]
    )
    history = "\n".join(LogEntry.objects.values_list("change_message", flat=True))
    for plaintext in plaintexts:
        assert plaintext not in logged
        assert plaintext[len(tokens.CODE_PREFIX) :] not in logged
        assert plaintext not in history
