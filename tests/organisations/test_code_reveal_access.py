"""Who may reveal a Provisioning Authentication Code, and how: refusals beyond the page's own tests."""
from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from organisations.models import Role
from scim_provisioning.codes import actions as scim_services
from scim_provisioning.models import ProvisioningCodeReveal
from tests.factories import SYSTEM, UserFactory, provisioned_organisation


@pytest.fixture
def issued(organisation):
    code, plaintext = scim_services.provisioning_code_issue(acting=SYSTEM, organisation=organisation)
    url = reverse(
        "admin:organisations_organisation_azure_ad_code_reveal", kwargs={"id": organisation.pk, "code_id": code.pk}
    )
    return code, plaintext, url


def test_anonymous_visitors_are_sent_to_sign_in(issued):
    _, plaintext, url = issued

    response = Client().post(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert plaintext not in response.content.decode()
    assert not ProvisioningCodeReveal.objects.exists()


def test_people_without_an_admin_role_in_the_organisation_cannot_reveal(organisation, issued):
    _, plaintext, url = issued
    people = [UserFactory(organisation=organisation, role=Role.NONE) for _ in range(2)]
    people[1].is_active = False
    people[1].save()
    for person in people:
        client = Client()
        client.force_login(person)
        response = client.post(url)
        assert response.status_code == 302  # back to the admin sign-in
        assert plaintext not in response.content.decode()
    assert not ProvisioningCodeReveal.objects.exists()


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_only_post_reveals(organisation, issued, method):
    _, plaintext, url = issued
    client = Client()
    client.force_login(UserFactory(organisation=organisation, role=Role.ADMIN))

    response = client.generic(method, url)

    assert response.status_code == 405
    assert plaintext not in response.content.decode()
    assert not ProvisioningCodeReveal.objects.exists()


def test_a_wrong_csrf_token_is_refused(organisation, issued):
    _, plaintext, url = issued
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(organisation=organisation, role=Role.ADMIN))
    client.get(reverse("admin:organisations_organisation_azure_ad", args=[organisation.pk]))

    for token in ("", "x" * 64, client.cookies["csrftoken"].value[::-1]):
        response = client.post(url, HTTP_X_CSRFTOKEN=token)
        assert response.status_code == 403
        assert plaintext not in response.content.decode()
    assert not ProvisioningCodeReveal.objects.exists()


def test_a_code_of_another_organisation_is_not_found_through_this_one(organisation):
    other_code, other_plaintext = scim_services.provisioning_code_issue(
        acting=SYSTEM, organisation=provisioned_organisation()
    )
    client = Client()
    client.force_login(UserFactory(organisation=organisation, role=Role.ADMIN))
    # This organisation's URL with the other organisation's code id.
    url = reverse(
        "admin:organisations_organisation_azure_ad_code_reveal", kwargs={"id": organisation.pk, "code_id": other_code.pk}
    )

    response = client.post(url)

    assert response.status_code == 404
    assert other_plaintext not in response.content.decode()
    assert not ProvisioningCodeReveal.objects.exists()
