"""Rotating the key that encrypts the revealable copies of Provisioning Authentication Codes."""
from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.test import Client

from scim_provisioning.codes import actions as services
from scim_provisioning.codes import tokens
from scim_provisioning.models import ProvisioningCode
from tests.factories import SYSTEM, provisioned_organisation

USERS = "/api/authentication/scim/Users"


def reencrypt() -> str:
    out = StringIO()
    call_command("provisioning_code", "reencrypt", stdout=out)
    return out.getvalue()


def test_reencrypt_moves_every_code_to_the_new_key(db, settings):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.PROVISIONING_CODE_KEYS = [old_key]
    first, second = provisioned_organisation(), provisioned_organisation()
    _, revoked = services.provisioning_code_issue(acting=SYSTEM, organisation=first)
    services.provisioning_code_revoke_all(acting=SYSTEM, organisation=first)
    plaintexts = {
        revoked,
        services.provisioning_code_issue(acting=SYSTEM, organisation=first)[1],
        services.provisioning_code_issue(acting=SYSTEM, organisation=second)[1],
    }
    digests = dict(ProvisioningCode.objects.values_list("pk", "digest"))

    # Step 1: the new key goes first; the old one stays so that existing copies can be read.
    settings.PROVISIONING_CODE_KEYS = [new_key, old_key]
    assert reencrypt() == "Re-encrypted 3 code(s) with the newest key.\n"

    # Step 2: the old key is removed, and everything still reads and authenticates.
    settings.PROVISIONING_CODE_KEYS = [new_key]
    copies = ProvisioningCode.objects.values_list("encrypted", flat=True)
    assert {tokens.decrypt_code(encrypted) for encrypted in copies} == plaintexts
    assert dict(ProvisioningCode.objects.values_list("pk", "digest")) == digests
    for plaintext in plaintexts - {revoked}:
        assert Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}").get(USERS).status_code == 200
    # The old key alone can no longer read any of them.
    settings.PROVISIONING_CODE_KEYS = [old_key]
    for encrypted in copies:
        with pytest.raises(tokens.CodeDecryptionError):
            tokens.decrypt_code(encrypted)


def test_reencrypt_reports_codes_no_key_can_read(db, settings):
    lost_key, key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    organisation = provisioned_organisation()
    settings.PROVISIONING_CODE_KEYS = [lost_key]
    lost, _ = services.provisioning_code_issue(acting=SYSTEM, organisation=organisation)
    settings.PROVISIONING_CODE_KEYS = [key]
    _, plaintext = services.provisioning_code_issue(acting=SYSTEM, organisation=organisation)
    lost_copy = ProvisioningCode.objects.get(pk=lost.pk).encrypted

    with pytest.raises(CommandError) as raised:
        reencrypt()

    assert str(raised.value) == (
        f"1 code(s) could not be read with any configured key (ids {lost.pk}): keep the old keys until they are "
        "revoked or re-issued."
    )
    assert ProvisioningCode.objects.get(pk=lost.pk).encrypted == lost_copy
    readable = ProvisioningCode.objects.exclude(pk=lost.pk).get()
    assert tokens.decrypt_code(readable.encrypted) == plaintext


def test_reencrypt_with_no_codes(db):
    assert reencrypt() == "Re-encrypted 0 code(s) with the newest key.\n"
