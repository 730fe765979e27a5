"""The cached bearer code never outlives a change to the code or its organisation.

Every test warms the cache with a successful request first, then changes something through
the same service the admin and the commands use, and expects the very next request to see it.
"""
from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from organisations.azure_ad import AzureADSettings
from organisations.services import organisation_update_azure_ad
from scim_provisioning import services
from scim_provisioning.models import ProvisioningCode
from scim_provisioning.tokens import code_digest
from tests.conftest import ScimClient

from .conftest import USERS, entra_user

pytestmark = pytest.mark.django_db

NOT_VALID = (
    "The Provisioning Authentication Code is not valid, or automated user provisioning is not enabled "
    "for its organisation."
)


def assert_refused(response) -> None:
    assert response.status_code == 401
    assert response.json()["detail"] == NOT_VALID


@pytest.fixture
def warm_client(scim_client, provisioning_code) -> ScimClient:
    assert scim_client.get(USERS).status_code == 200
    assert cache.get(f"scim-code:{code_digest(provisioning_code)}") is not None
    return scim_client


def test_cache_holds_neither_the_code_nor_its_encrypted_copy(warm_client, provisioning_code):
    entry = cache.get(f"scim-code:{code_digest(provisioning_code)}")
    assert set(entry["code"]) == {"id", "organisation_id", "digest", "created_at", "last_used_at", "expires_at"}
    assert provisioning_code not in repr(entry)
    assert ProvisioningCode.objects.get().encrypted not in repr(entry)


def test_revoked_code_is_refused_at_once(warm_client, organisation):
    services.provisioning_code_revoke_all(organisation=organisation)

    assert_refused(warm_client.get(USERS))


def test_older_code_revoked_from_the_admin_is_refused_at_once(warm_client, organisation):
    _, newer = services.provisioning_code_issue(organisation=organisation)
    assert warm_client.get(USERS).status_code == 200  # in its grace period, and cached again

    services.provisioning_code_revoke_previous(organisation=organisation)

    assert_refused(warm_client.get(USERS))
    assert ScimClient(newer).get(USERS).status_code == 200


def test_first_use_of_a_newer_code_ends_the_older_one_at_once(warm_client, organisation):
    _, newer = services.provisioning_code_issue(organisation=organisation)
    assert warm_client.get(USERS).status_code == 200

    assert ScimClient(newer).get(USERS).status_code == 200

    assert_refused(warm_client.get(USERS))


def test_turning_provisioning_off_refuses_the_code_at_once(warm_client, organisation):
    settings = replace(AzureADSettings.of(organisation), provisioning_enabled=False)
    organisation_update_azure_ad(organisation=organisation, settings=settings, updated_by=None)

    assert_refused(warm_client.get(USERS))


def test_organisation_saved_directly_is_read_afresh(warm_client, organisation, create_user):
    organisation.default_department, organisation.default_section = None, None
    organisation.save()

    create_user("alice@contoso.com")

    user = ProvisioningCode.objects.get().organisation.scim_users.get().user
    assert (user.department_id, user.section_id) == (None, None)


def test_grace_period_ends_even_for_a_cached_code(scim_client, organisation):
    services.provisioning_code_issue(organisation=organisation)
    # The grace period is hours long; bring its end close without going through the services.
    ProvisioningCode.objects.filter(expires_at__isnull=False).update(
        expires_at=timezone.now() + timedelta(seconds=1.5)
    )
    assert scim_client.get(USERS).status_code == 200

    time.sleep(1.6)

    assert_refused(scim_client.get(USERS))


def test_nothing_is_cached_when_the_time_is_zero(warm_client, provisioning_code, settings):
    settings.SCIM_CODE_CACHE_SECONDS = 0
    cache.clear()

    assert warm_client.post(USERS, entra_user("alice@contoso.com")).status_code == 201

    assert cache.get(f"scim-code:{code_digest(provisioning_code)}") is None
