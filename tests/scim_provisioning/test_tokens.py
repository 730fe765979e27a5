"""Provisioning Authentication Codes: format, storage, lookup, rotation and revocation."""
from datetime import timedelta

import pytest
from django.utils import timezone

from organisations.access import Actor
from scim_provisioning.codes import actions as services
from scim_provisioning.codes import tokens
from scim_provisioning.models import ProvisioningCode, ProvisioningCodeReveal
from tests.factories import SYSTEM, OrganisationFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_code_has_prefix_and_256_bits_of_randomness():
    code = tokens.generate_code()
    assert code.startswith("pscim_")
    assert len(code) == len("pscim_") + 43  # 32 random bytes, URL-safe base64 without padding
    assert tokens.generate_code() != code


def test_issued_code_is_stored_only_as_digest_and_ciphertext(organisation):
    code, plaintext = services.provisioning_code_issue(acting=SYSTEM, organisation=organisation)
    row = ProvisioningCode.objects.values().get(pk=code.pk)
    assert plaintext not in str(row)
    assert row["digest"] == tokens.code_digest(plaintext)
    assert tokens.decrypt_code(row["encrypted"]) == plaintext
    assert row["last_characters"] == plaintext[-4:]


def test_lookup_returns_organisation_in_one_query(organisation, django_assert_num_queries):
    _, plaintext = services.provisioning_code_issue(acting=SYSTEM, organisation=organisation)
    with django_assert_num_queries(1):
        assert tokens.organisation_for_code(plaintext) == organisation


@pytest.mark.parametrize(
    "value",
    ["", "pscim_", "Bearer x", "pscim_" + "A" * 43, "x" * 49, "pscim_" + "\x00" * 43, "pscim_" + "é" * 43],
)
def test_lookup_refuses_unknown_values(organisation, value):
    services.provisioning_code_issue(acting=SYSTEM, organisation=organisation)
    assert tokens.organisation_for_code(value) is None


def test_disabling_provisioning_stops_codes_and_enabling_restores_them(organisation):
    _, plaintext = services.provisioning_code_issue(acting=SYSTEM, organisation=organisation)
    organisation.provisioning_enabled = False
    organisation.save()
    assert tokens.organisation_for_code(plaintext) is None
    organisation.provisioning_enabled = True
    organisation.save()
    assert tokens.organisation_for_code(plaintext) == organisation


def test_rotation_keeps_previous_code_for_grace_period(organisation, settings):
    _, old = services.provisioning_code_issue(acting=SYSTEM, organisation=organisation)
    _, new = services.provisioning_code_issue(acting=SYSTEM, organisation=organisation)
    assert tokens.organisation_for_code(old) == organisation
    assert tokens.organisation_for_code(new) == organisation
    old_row = ProvisioningCode.objects.get(digest=tokens.code_digest(old))
    expected_end = timezone.now() + timedelta(hours=settings.PROVISIONING_CODE_GRACE_HOURS)
    assert abs(old_row.expires_at - expected_end) < timedelta(minutes=1)
    ProvisioningCode.objects.filter(pk=old_row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert tokens.organisation_for_code(old) is None


def test_first_use_of_new_code_ends_grace_of_previous(organisation):
    _, old = services.provisioning_code_issue(acting=SYSTEM, organisation=organisation)
    _, new = services.provisioning_code_issue(acting=SYSTEM, organisation=organisation)
    services.provisioning_code_mark_used(code=tokens.code_for_bearer(new))
    assert tokens.organisation_for_code(old) is None
    assert tokens.organisation_for_code(new) == organisation


def test_revoke_previous_and_revoke_all(organisation):
    _, old = services.provisioning_code_issue(acting=SYSTEM, organisation=organisation)
    _, new = services.provisioning_code_issue(acting=SYSTEM, organisation=organisation)
    assert services.provisioning_code_revoke_previous(acting=SYSTEM, organisation=organisation) == 1
    assert tokens.organisation_for_code(old) is None
    assert tokens.organisation_for_code(new) == organisation
    assert services.provisioning_code_revoke_all(acting=SYSTEM, organisation=organisation) == 1
    assert tokens.organisation_for_code(new) is None


def test_code_of_one_organisation_never_selects_another(organisation):
    other = OrganisationFactory(provisioning_enabled=True)
    _, mine = services.provisioning_code_issue(acting=SYSTEM, organisation=organisation)
    _, theirs = services.provisioning_code_issue(acting=SYSTEM, organisation=other)
    assert tokens.organisation_for_code(mine) == organisation
    assert tokens.organisation_for_code(theirs) == other


def test_reveal_records_who_and_when(organisation):
    admin = UserFactory(organisation=organisation, role="admin")
    code, plaintext = services.provisioning_code_issue(acting=SYSTEM, organisation=organisation)
    assert services.provisioning_code_reveal(acting=Actor.person(admin), code=code) == plaintext
    reveal = ProvisioningCodeReveal.objects.get()
    assert reveal.revealed_by == admin and reveal.code == code


def test_issuing_requires_provisioning_enabled(db):
    with pytest.raises(services.ProvisioningNotEnabledError):
        services.provisioning_code_issue(acting=SYSTEM, organisation=OrganisationFactory())


def test_last_used_is_written_at_most_once_a_minute(organisation, django_assert_num_queries):
    _, plaintext = services.provisioning_code_issue(acting=SYSTEM, organisation=organisation)
    code = tokens.code_for_bearer(plaintext)
    services.provisioning_code_mark_used(code=code)
    with django_assert_num_queries(0):
        services.provisioning_code_mark_used(code=code)
