"""Organisations whose Entra ID deactivates many people, and the brake's settings for them."""
from __future__ import annotations

import pytest

from scim_provisioning.models import DeactivationBrake
from tests.activity.factories import scim_users_bulk
from tests.scim_api.conftest import other_client, other_organisation  # noqa: F401 (fixtures)

BASE = "/api/authentication/scim"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def deactivate(client, scim_id, value=False):
    """Entra's deactivation PATCH (the legacy form: a string "False")."""
    return client.patch(
        f"{BASE}/Users/{scim_id}",
        {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": value}]},
    )


def brake_with(organisation, **settings) -> DeactivationBrake:
    brake, _ = DeactivationBrake.objects.update_or_create(organisation=organisation, defaults=settings)
    return brake


@pytest.fixture
def people(organisation):
    """Forty active people Entra ID provisioned into ``organisation``."""
    return scim_users_bulk(organisation=organisation, count=40)


def entra_deactivates(organisation, people) -> list[bool]:
    """Ask the brake about Entra ID deactivating each person in turn, as the SCIM actions do; True when admitted."""
    from django.db import transaction

    from organisations.access import Actor
    from scim_provisioning.brake.actions import DeactivationHeldError, brake_admit, brake_hold

    acting = Actor.credential(organisation=organisation, label="Entra ID (code …k9Qz)")
    admitted = []
    for person in people:
        try:
            with transaction.atomic():
                brake_admit(acting=acting, scim_user=person, method="PATCH")
        except DeactivationHeldError as held:
            brake_hold(acting=acting, held=held)
            admitted.append(False)
        else:
            admitted.append(True)
    return admitted
