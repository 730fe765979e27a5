"""`manage.py seed_demo`: idempotent demo data with one account per admin role."""
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from organisations.models import Agency, Department, Organisation, Role, Section, User
from scim_provisioning.codes import tokens
from scim_provisioning.models import ProvisioningCode

pytestmark = pytest.mark.django_db

ACCOUNTS = {
    "prompt.admin@demo.example": ("demo-prompt-admin", Role.PROMPT_ADMIN),
    "agency.admin@demo.example": ("demo-agency-admin", Role.AGENCY_ADMIN),
    "admin@demo.example": ("demo-admin", Role.ADMIN),
    "staff@demo.example": ("demo-staff", Role.NONE),
}


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def snapshot() -> dict:
    return {
        model.__name__: sorted(map(str, model.objects.values_list("pk", flat=True)))
        for model in (Agency, Organisation, Department, Section, User, ProvisioningCode)
    }


def test_seed_demo_creates_the_demo_and_prints_how_to_sign_in():
    output = seed()
    organisation = Organisation.objects.get(slug="demo")
    assert organisation.name == "Demo Organisation"
    assert organisation.agency.name == "Demo Agency"
    assert organisation.departments.count() >= 2
    assert Section.objects.filter(department__organisation=organisation).count() >= 4
    assert organisation.azure_sso_enabled and organisation.provisioning_enabled
    assert organisation.default_section.department == organisation.default_department
    [code] = ProvisioningCode.objects.filter(tokens.active_codes_q(), organisation=organisation)
    assert tokens.organisation_for_code(tokens.decrypt_code(code.encrypted)) == organisation
    assert tokens.decrypt_code(code.encrypted) not in output

    assert "Admin: http://127.0.0.1:8000/admin/" in output
    for username, (password, role) in ACCOUNTS.items():
        assert f"{username}" in output and password in output
        user = User.objects.get(username=username)
        assert user.role == role
        assert user.check_password(password)
        response = Client().post(reverse("admin:login"), {"username": username, "password": password})
        assert response.status_code == (302 if role else 200), username


def test_seed_demo_twice_is_idempotent():
    seed()
    first = snapshot()
    seed()
    assert snapshot() == first
    assert ProvisioningCode.objects.filter(tokens.active_codes_q()).count() == 1


def test_demo_admin_reaches_the_azure_ad_page():
    seed()
    client = Client()
    assert client.login(username="admin@demo.example", password="demo-admin")
    organisation = Organisation.objects.get(slug="demo")
    response = client.get(reverse("admin:organisations_organisation_azure_ad", args=[organisation.pk]))
    assert response.status_code == 200
    assert "Reveal" in response.content.decode()
