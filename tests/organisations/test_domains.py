"""Sign-in domains: who may claim one, what a claim forbids others, and how /signin/ routes."""
from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from organisations.models import AuditEvent, Organisation, Role, SignInDomain, User
from tests.admin_forms import signed_in, user_form_data
from tests.conftest import ScimClient
from tests.factories import AgencyFactory, UserFactory, provisioned_organisation
from tests.scim_api.conftest import USERS, entra_user, error, patch_op

pytestmark = pytest.mark.django_db


def page_url(organisation: Organisation) -> str:
    return reverse("admin:organisations_organisation_azure_ad", args=[organisation.pk])


def settings_form(organisation: Organisation, domains: str) -> dict:
    return {
        "azure_sso_enabled": "on",
        "azure_tenant_id": str(organisation.azure_tenant_id),
        "provisioning_enabled": "on",
        "default_department": organisation.default_department_id,
        "default_section": organisation.default_section_id,
        "sign_in_domains": domains,
    }


def claim(client: Client, organisation: Organisation, domains: str):
    return client.post(page_url(organisation), settings_form(organisation, domains))


def claimed(organisation: Organisation) -> list[str]:
    return list(SignInDomain.objects.filter(organisation=organisation).values_list("domain", flat=True))


def domain_errors(response) -> list[str]:
    assert response.status_code == 200, response.status_code
    return list(response.context["form"].errors.get("sign_in_domains", []))


@pytest.fixture
def agency():
    return AgencyFactory()


@pytest.fixture
def contoso(agency):
    return provisioned_organisation(agency=agency, name="Contoso")


@pytest.fixture
def fabrikam(agency):
    return provisioned_organisation(agency=agency, name="Fabrikam")


@pytest.fixture
def woodgrove():
    return provisioned_organisation(name="Woodgrove")  # another agency


# --- Claiming -----------------------------------------------------------------------------------


def test_an_admin_claims_a_free_domain_and_the_claim_is_recorded(contoso):
    admin = UserFactory(organisation=contoso, role=Role.ADMIN)

    response = claim(signed_in(admin), contoso, "Contoso.COM\nmail.contoso.com, contoso.com")

    assert response.status_code == 302
    assert claimed(contoso) == ["contoso.com", "mail.contoso.com"]
    event = AuditEvent.objects.get(action="azure_ad.updated", organisation=contoso)
    assert event.actor_user == admin
    assert event.changes == {"Sign-in domains": ["", "contoso.com, mail.contoso.com"]}
    page = signed_in(admin).get(page_url(contoso)).content.decode()
    assert "contoso.com\nmail.contoso.com</textarea>" in page


def test_malformed_domains_are_form_errors_and_nothing_is_stored(contoso):
    admin = UserFactory(organisation=contoso, role=Role.ADMIN)

    response = claim(signed_in(admin), contoso, "contoso\nada@contoso.com")

    assert domain_errors(response) == [
        "'contoso' must be a domain name such as contoso.com.",
        "'ada@contoso.com' must be a domain name such as contoso.com, without '@' or spaces.",
    ]
    assert claimed(contoso) == []


def test_an_admin_cannot_take_another_organisations_domain(contoso, woodgrove):
    SignInDomain.objects.create(organisation=woodgrove, domain="contoso.com")
    admin = UserFactory(organisation=contoso, role=Role.ADMIN)

    response = claim(signed_in(admin), contoso, "contoso.com")

    # Which organisation holds it is not said.
    assert domain_errors(response) == ["contoso.com is already claimed by another organisation."]
    assert claimed(woodgrove) == ["contoso.com"]
    assert claimed(contoso) == []


def test_an_admin_cannot_claim_a_domain_where_another_organisation_has_people(contoso, woodgrove):
    UserFactory(organisation=woodgrove, username="someone@CONTOSO.com")
    admin = UserFactory(organisation=contoso, role=Role.ADMIN)

    response = claim(signed_in(admin), contoso, "contoso.com")

    assert domain_errors(response) == [
        "contoso.com has users of another organisation, so only a Prompt Admin can claim it."
    ]
    assert claimed(contoso) == []


def test_an_agency_admin_moves_a_domain_between_the_agencys_organisations(agency, contoso, fabrikam):
    SignInDomain.objects.create(organisation=fabrikam, domain="contoso.com")
    agency_admin = UserFactory(organisation=contoso, role=Role.AGENCY_ADMIN, agency=agency)

    response = claim(signed_in(agency_admin), contoso, "contoso.com")

    assert response.status_code == 302
    assert (claimed(contoso), claimed(fabrikam)) == (["contoso.com"], [])


def test_an_agency_admin_cannot_take_a_domain_from_another_agency(agency, contoso, woodgrove):
    SignInDomain.objects.create(organisation=woodgrove, domain="contoso.com")
    agency_admin = UserFactory(organisation=contoso, role=Role.AGENCY_ADMIN, agency=agency)

    response = claim(signed_in(agency_admin), contoso, "contoso.com")

    assert domain_errors(response) == ["contoso.com is already claimed by another organisation."]
    assert claimed(woodgrove) == ["contoso.com"]


def test_a_prompt_admin_reassigns_any_domain(contoso, woodgrove):
    SignInDomain.objects.create(organisation=woodgrove, domain="contoso.com")
    UserFactory(organisation=woodgrove, username="someone@contoso.com")
    prompt_admin = UserFactory(organisation=woodgrove, role=Role.PROMPT_ADMIN)

    response = claim(signed_in(prompt_admin), contoso, "contoso.com")

    assert response.status_code == 302
    assert (claimed(contoso), claimed(woodgrove)) == (["contoso.com"], [])


def test_an_organisation_can_release_its_domains(contoso):
    SignInDomain.objects.create(organisation=contoso, domain="contoso.com")
    admin = UserFactory(organisation=contoso, role=Role.ADMIN)

    assert claim(signed_in(admin), contoso, "").status_code == 302

    assert claimed(contoso) == []


# --- What a claim forbids others ----------------------------------------------------------------


def domain_claimed(domain: str) -> str:
    return f"{domain} is a sign-in domain of another organisation. Names in it cannot be created or given here."


@pytest.fixture
def codes(contoso, woodgrove):
    from scim_provisioning.codes.actions import provisioning_code_issue
    from tests.factories import SYSTEM

    SignInDomain.objects.create(organisation=contoso, domain="contoso.com")
    return {
        org.slug: ScimClient(provisioning_code_issue(acting=SYSTEM, organisation=org)[1]) for org in (contoso, woodgrove)
    }


def test_another_organisation_cannot_create_names_in_a_claimed_domain(codes, contoso, woodgrove):
    squatter = codes[woodgrove.slug].post(USERS, entra_user("ceo@Contoso.com"))

    assert squatter.json() == error(409, domain_claimed("contoso.com"), "uniqueness")
    assert not User.objects.filter(username_key="ceo@contoso.com").exists()
    # The rightful organisation is not blocked by anything the squatter tried.
    assert codes[contoso.slug].post(USERS, entra_user("ceo@contoso.com")).status_code == 201


def test_another_organisation_cannot_rename_or_re_address_anyone_into_a_claimed_domain(codes, woodgrove):
    theirs = codes[woodgrove.slug].post(USERS, entra_user("bob@woodgrove.example")).json()
    path = f"{USERS}/{theirs['id']}"

    renamed = codes[woodgrove.slug].patch(path, patch_op({"op": "Replace", "path": "userName", "value": "bob@contoso.com"}))
    readdressed = codes[woodgrove.slug].patch(
        path, patch_op({"op": "Replace", "path": 'emails[type eq "work"].value', "value": "bob@contoso.com"})
    )

    assert renamed.json() == error(409, domain_claimed("contoso.com"), "uniqueness")
    assert readdressed.json() == error(409, domain_claimed("contoso.com"), "uniqueness")
    person = User.objects.get(scim__pk=theirs["id"])
    assert (person.username, person.email) == ("bob@woodgrove.example", "bob@woodgrove.example")


def test_the_admin_of_another_organisation_gets_a_form_error(codes, woodgrove):
    admin = UserFactory(organisation=woodgrove, role=Role.ADMIN)
    client = signed_in(admin)

    response = client.post(
        reverse("admin:organisations_user_add"),
        {
            "username": "ceo@contoso.com",
            "usable_password": "false",
            "organisation": woodgrove.pk,
            "role": "",
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["username"] == ["contoso.com is a sign-in domain of another organisation."]
    assert not User.objects.filter(username="ceo@contoso.com").exists()


def test_names_already_in_a_domain_keep_working_when_it_is_claimed(contoso, woodgrove):
    # A Prompt Admin may claim a domain where another organisation already has people; they
    # keep their names, and changes that leave the name alone go through.
    person = UserFactory(organisation=woodgrove, username="old@contoso.com")
    SignInDomain.objects.create(organisation=contoso, domain="contoso.com")
    admin = UserFactory(organisation=woodgrove, role=Role.ADMIN)

    response = signed_in(admin).post(
        reverse("admin:organisations_user_change", args=[person.pk]), user_form_data(person, first_name="Renamed", agency=None)
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    person.refresh_from_db()
    assert person.first_name == "Renamed"


# --- /signin/ routing ---------------------------------------------------------------------------


@pytest.fixture
def routing(contoso, woodgrove, settings):
    settings.AZURE_CLIENT_ID, settings.AZURE_CLIENT_SECRET = "client", "secret"
    return contoso, woodgrove


def routed_to(address: str) -> Organisation | None:
    from organisations import sso

    try:
        return sso.organisation_for_email(email=address)
    except sso.AddressNotRoutedError:
        return None


def test_routing_prefers_the_sign_in_name(routing):
    contoso, woodgrove = routing
    UserFactory(organisation=contoso, username="ada@example.com", email="ada.lovelace@example.com")
    UserFactory(organisation=woodgrove, username="ada.lovelace@example.com", email="ada@example.com")

    assert routed_to("ADA@example.com") == contoso
    assert routed_to("ada.lovelace@example.com") == woodgrove


def test_an_email_held_by_two_people_routes_by_domain_only(routing):
    contoso, woodgrove = routing
    UserFactory(organisation=contoso, username="ada.l@contoso.com", email="ada@contoso.com")
    # Another organisation gives one of its people the same work email: it captures nothing.
    UserFactory(organisation=woodgrove, username="imposter@woodgrove.example", email="Ada@Contoso.com")

    assert routed_to("ada@contoso.com") is None
    SignInDomain.objects.create(organisation=contoso, domain="contoso.com")
    assert routed_to("ada@contoso.com") == contoso


def test_an_email_held_by_one_active_person_routes_to_their_organisation(routing):
    _, woodgrove = routing
    UserFactory(organisation=woodgrove, username="grace.h@woodgrove.example", email="grace@elsewhere.example")

    assert routed_to("Grace@Elsewhere.example") == woodgrove


def test_unknown_addresses_route_only_to_a_claimed_domains_owner(routing):
    contoso, woodgrove = routing
    UserFactory(organisation=woodgrove, username="someone@contoso.com")

    assert routed_to("new.person@contoso.com") is None
    SignInDomain.objects.create(organisation=contoso, domain="contoso.com")
    assert routed_to("new.person@contoso.com") == contoso
