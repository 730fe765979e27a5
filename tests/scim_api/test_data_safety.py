"""Leaving and coming back loses nothing: deactivation, deletion and their reversal through SCIM."""
from __future__ import annotations

import pytest

from organisations.models import Section, User
from scim_provisioning.models import ScimUser

from .conftest import USERS, entra_user, patch_op


@pytest.fixture
def placed(create_user, organisation):
    """A provisioned user whom an administrator has moved to a non-default department and section."""
    created = create_user("alice@contoso.com")
    department = organisation.departments.exclude(pk=organisation.default_department_id).first()
    section = Section.objects.create(department=department, name="Audit")
    User.objects.filter(scim__id=created["id"]).update(department=department, section=section)
    return created


def _state(scim_id: str) -> tuple:
    """Everything kept about the person, apart from whether they are active."""
    scim_user = ScimUser.objects.select_related("user").get(pk=scim_id)
    user = scim_user.user
    return (
        user.pk,
        user.username,
        user.first_name,
        user.last_name,
        user.email,
        user.organisation_id,
        user.department_id,
        user.section_id,
        user.role,
        user.has_usable_password(),
        # The resource as Entra sent it; "active" in it follows the switch itself.
        {k: v for k, v in scim_user.attributes.items() if k != "active"},
        scim_user.external_id,
        scim_user.email,
        scim_user.employee_number,
        scim_user.manager_id,
        scim_user.created,
    )


def _without_last_modified(body: dict) -> dict:
    return {**body, "meta": {k: v for k, v in body["meta"].items() if k != "lastModified"}}


def test_deactivation_and_reactivation_keep_every_attribute(scim_client, placed):
    path = f"{USERS}/{placed['id']}"
    before = scim_client.get(path).json()
    kept = _state(placed["id"])

    off = scim_client.patch(path, patch_op({"op": "Replace", "path": "active", "value": "False"}))
    assert off.status_code == 200
    assert _without_last_modified(off.json()) == _without_last_modified({**before, "active": False})
    assert _state(placed["id"]) == kept
    assert User.objects.get(scim__id=placed["id"]).is_active is False

    on = scim_client.patch(path, patch_op({"op": "Replace", "path": "active", "value": "True"}))
    assert on.status_code == 200
    assert _without_last_modified(scim_client.get(path).json()) == _without_last_modified(before)
    assert _state(placed["id"]) == kept
    assert User.objects.get(scim__id=placed["id"]).is_active is True


def test_delete_and_post_again_bring_back_the_same_person_unchanged(scim_client, placed):
    path = f"{USERS}/{placed['id']}"
    before = scim_client.get(path).json()
    kept = _state(placed["id"])

    assert scim_client.delete(path).status_code == 204
    # Hidden from SCIM, but nothing about the person is gone.
    assert scim_client.get(path).status_code == 404
    assert _state(placed["id"]) == kept
    assert User.objects.get(scim__id=placed["id"]).is_active is False

    again = scim_client.post(USERS, entra_user("alice@contoso.com"))

    assert again.status_code == 201
    assert _without_last_modified(again.json()) == _without_last_modified(before)
    assert _without_last_modified(scim_client.get(path).json()) == _without_last_modified(before)
    assert _state(placed["id"]) == kept
    assert User.objects.get(scim__id=placed["id"]).is_active is True
    assert User.objects.count() == 1 and ScimUser.objects.count() == 1
