"""``provisioning_client``: issue, revoke and federate from the command line."""
from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from organisations.models import AuditEvent
from scim_provisioning.models import OAuthClient

from .conftest import APPLICATION_ID, OBJECT_ID, assertion, exchange, request_token, scim_get

pytestmark = pytest.mark.django_db


def run(*args) -> list[str]:
    out = StringIO()
    call_command("provisioning_client", *args, stdout=out)
    return out.getvalue().splitlines()


def test_issue_prints_the_client_id_and_secret_last_and_they_work(organisation):
    lines = run("issue", "--organisation", organisation.slug)
    client_line, secret_line = lines[-2:]
    assert client_line.startswith("client_id=") and secret_line.startswith("client_secret=pcs_")
    client_id, secret = client_line.removeprefix("client_id="), secret_line.removeprefix("client_secret=")
    assert client_id == OAuthClient.objects.get(organisation=organisation).client_id
    response = request_token(grant_type="client_credentials", client_id=client_id, client_secret=secret)
    assert response.status_code == 200
    assert AuditEvent.objects.filter(action="client.secret_issued", actor_kind="system").count() == 1


def test_issue_refuses_a_third_secret_and_an_unknown_or_disabled_organisation(organisation):
    run("issue", "--organisation", organisation.slug)
    run("issue", "--organisation", organisation.slug)
    with pytest.raises(CommandError, match="2 active client secrets already"):
        run("issue", "--organisation", organisation.slug)
    with pytest.raises(CommandError, match="No organisation has the slug"):
        run("issue", "--organisation", "nope")
    organisation.provisioning_enabled = False
    organisation.save()
    with pytest.raises(CommandError, match="not enabled"):
        run("issue", "--organisation", organisation.slug)


def test_revoke_ends_secrets_and_tokens_at_once(organisation):
    lines = run("issue", "--organisation", organisation.slug)
    client_id, secret = (line.split("=", 1)[1] for line in lines[-2:])
    token = request_token(grant_type="client_credentials", client_id=client_id, client_secret=secret).json()["access_token"]
    assert scim_get(token).status_code == 200
    assert run("revoke", "--organisation", organisation.slug) == [
        f"Revoked 1 client secret(s) and 1 access token(s) of {organisation.slug}."
    ]
    assert scim_get(token).status_code == 401
    assert run("revoke", "--organisation", organisation.slug) == [
        f"{organisation.slug} has no active OAuth client credential: nothing to revoke."
    ]


def test_federate_prints_the_client_id_last_and_assertions_then_work(organisation, fake_issuer):
    lines = run(
        "federate", "--organisation", organisation.slug, "--application-id", str(APPLICATION_ID), "--object-id", str(OBJECT_ID)
    )
    client_id = lines[-1].removeprefix("client_id=")
    assert client_id == OAuthClient.objects.get(organisation=organisation).client_id
    assert exchange(assertion(fake_issuer, organisation), client_id=client_id).status_code == 200


def test_federate_refuses_what_the_page_refuses(organisation):
    with pytest.raises(CommandError, match="is not a GUID"):
        run("federate", "--organisation", organisation.slug, "--application-id", "x", "--object-id", str(OBJECT_ID))
    organisation.azure_tenant_id = None
    organisation.azure_sso_enabled = False
    organisation.provisioning_enabled = True
    organisation.save()
    with pytest.raises(CommandError, match="Enter the Tenancy ID"):
        run(
            "federate", "--organisation", organisation.slug, "--application-id", str(APPLICATION_ID), "--object-id", str(OBJECT_ID)
        )


def test_provisioning_status_lists_the_client_and_warns_before_a_secret_expires(organisation):
    import json
    from datetime import timedelta

    from django.utils import timezone

    from scim_provisioning.models import OAuthClientSecret

    run("issue", "--organisation", organisation.slug)
    out = StringIO()
    call_command("provisioning_status", "--organisation", organisation.slug, stdout=out)
    text = out.getvalue()
    client_id = OAuthClient.objects.get().client_id
    assert f"OAuth client: {client_id}" in text
    assert "Warning: client secret" not in text

    OAuthClientSecret.objects.update(expires_at=timezone.now() + timedelta(days=10))
    out = StringIO()
    call_command("provisioning_status", "--organisation", organisation.slug, stdout=out)
    assert "Warning: client secret …" in out.getvalue()
    assert "generate a new one and paste it into Entra ID" in out.getvalue()

    out = StringIO()
    call_command("provisioning_status", "--organisation", organisation.slug, "--json", stdout=out)
    document = json.loads(out.getvalue())["organisations"][0]["oauth_client"]
    assert document["client_id"] == client_id
    assert [secret["expiring"] for secret in document["secrets"]] == [True]


def test_housekeeping_deletes_expired_tokens_and_spent_assertion_ids(organisation):
    from datetime import timedelta

    from django.utils import timezone

    from scim_provisioning.models import OAuthAccessToken, OAuthAssertionUse

    lines = run("issue", "--organisation", organisation.slug)
    client_id, secret = (line.split("=", 1)[1] for line in lines[-2:])
    for _ in range(2):
        request_token(grant_type="client_credentials", client_id=client_id, client_secret=secret)
    OAuthAssertionUse.objects.create(digest="a" * 64, organisation=organisation, expires_at=timezone.now() - timedelta(minutes=1))
    OAuthAssertionUse.objects.create(digest="b" * 64, organisation=organisation, expires_at=timezone.now() + timedelta(minutes=5))
    expired = OAuthAccessToken.objects.order_by("id").first()
    OAuthAccessToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(days=2))

    out = StringIO()
    call_command("prune_provisioning_activity", stdout=out)
    assert "Deleted 1 expired access token(s) and 1 spent assertion id(s)." in out.getvalue()
    assert OAuthAccessToken.objects.count() == 1
    assert list(OAuthAssertionUse.objects.values_list("digest", flat=True)) == ["b" * 64]
