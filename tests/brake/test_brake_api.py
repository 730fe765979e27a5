"""The mass-deactivation brake over real HTTP: what Entra ID sees, and what is held."""
from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from organisations.actions import user_deactivate
from organisations.access import Actor
from organisations.models import AuditEvent, Role, User
from scim_provisioning.brake.actions import RETRY_AFTER_SECONDS, brake_release
from scim_provisioning.brake.selectors import brake_state
from scim_provisioning.models import DeactivationBrake, HeldDeactivation, ScimRequest
from tests.activity.factories import scim_users_bulk
from tests.factories import SYSTEM, UserFactory
from tests.scim_api.conftest import entra_user

from .conftest import BASE, brake_with, deactivate

pytestmark = pytest.mark.django_db

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def active(scim_user) -> bool:
    return User.objects.get(pk=scim_user.user_id).is_active


def test_the_brake_holds_every_deactivation_past_the_threshold_with_a_retryable_429(scim_client, organisation, people):
    # 40 people: 10 % is 4, so the floor of 5 decides.
    statuses = [deactivate(scim_client, person.pk, "False").status_code for person in people[:8]]

    assert statuses == [200] * 5 + [429] * 3
    assert [active(person) for person in people[:8]] == [False] * 5 + [True] * 3
    held = deactivate(scim_client, people[5].pk)
    assert held.status_code == 429
    assert held["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert held["Content-Type"].startswith("application/scim+json")
    assert held.json() == {
        "schemas": [ERROR],
        "status": "429",
        "detail": "Deactivations are on hold: Entra ID asked to deactivate more people at once than this "
        f"organisation's mass-deactivation brake allows. An administrator of {organisation.name} reviews them "
        "on the Azure AD page; once released, this request succeeds when it is retried.",
    }
    holds = list(HeldDeactivation.objects.filter(organisation=organisation).order_by("first_held_at"))
    assert [(h.scim_user_id, h.status, h.method) for h in holds] == [
        (person.pk, "held", "PATCH") for person in people[5:8]
    ]
    assert [h.attempts for h in holds] == [2, 1, 1]
    recorded = ScimRequest.objects.filter(organisation=organisation, action=ScimRequest.Action.HELD)
    assert sorted(str(r.scim_user_id) for r in recorded) == sorted(str(p.pk) for p in [*people[5:8], people[5]])
    assert set(recorded.values_list("status", flat=True)) == {429}
    engaged = AuditEvent.objects.get(organisation=organisation, action="brake.engaged")
    assert engaged.actor_kind == AuditEvent.ActorKind.CREDENTIAL
    state = brake_state(organisation=organisation)
    assert (state.engaged, state.held, state.attempted) == (True, 3, 8)


def test_delete_counts_and_is_held_like_active_false(scim_client, organisation, people):
    brake_with(organisation, max_people=2)
    assert scim_client.delete(f"{BASE}/Users/{people[0].pk}").status_code == 204
    assert deactivate(scim_client, people[1].pk).status_code == 200

    refused = scim_client.delete(f"{BASE}/Users/{people[2].pk}")

    assert refused.status_code == 429
    assert active(people[2])
    assert scim_client.get(f"{BASE}/Users/{people[2].pk}").status_code == 200
    assert HeldDeactivation.objects.get().method == "DELETE"


def test_a_put_with_active_false_is_held_whole(scim_client, organisation):
    brake_with(organisation, max_people=1)
    created = [scim_client.post(f"{BASE}/Users", entra_user(f"p{n}@contoso.example")).json() for n in range(2)]
    assert scim_client.put(f"{BASE}/Users/{created[0]['id']}", entra_user("p0@contoso.example", active=False)).status_code == 200

    renamed = entra_user("p1@contoso.example", active=False, displayName="Renamed")
    assert scim_client.put(f"{BASE}/Users/{created[1]['id']}", renamed).status_code == 429

    # Nothing of the held request was applied: the request is all or nothing.
    body = scim_client.get(f"{BASE}/Users/{created[1]['id']}").json()
    assert (body["active"], body["displayName"]) == (True, "P1 Smith")


def test_creates_updates_and_reactivations_keep_flowing_while_deactivations_are_held(scim_client, organisation, people):
    brake_with(organisation, max_people=1)
    assert deactivate(scim_client, people[0].pk).status_code == 200
    assert deactivate(scim_client, people[1].pk).status_code == 429

    created = scim_client.post(f"{BASE}/Users", entra_user("newcomer@contoso.example"))
    updated = scim_client.patch(
        f"{BASE}/Users/{people[2].pk}",
        {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
         "Operations": [{"op": "Replace", "path": "displayName", "value": "Still Here"}]},
    )
    reactivated = deactivate(scim_client, people[0].pk, "True")
    inactive_again = scim_client.post(f"{BASE}/Users", entra_user("starts.inactive@contoso.example", active=False))

    assert [created.status_code, updated.status_code, reactivated.status_code, inactive_again.status_code] == [
        201, 200, 200, 201
    ]
    assert active(people[0])
    # An already inactive person's active: false deactivates nobody, so it is not held either.
    assert deactivate(scim_client, inactive_again.json()["id"]).status_code == 200
    assert HeldDeactivation.objects.count() == 1


def test_released_deactivations_go_through_on_the_retry_uncounted_and_the_window_resets(
    scim_client, organisation, people
):
    brake_with(organisation, max_people=2)
    statuses = [deactivate(scim_client, person.pk).status_code for person in people[:6]]
    assert statuses == [200, 200, 429, 429, 429, 429]

    admin = UserFactory(organisation=organisation, role=Role.ADMIN)
    release = brake_release(acting=Actor.person(admin), organisation=organisation)
    assert (release.was_engaged, release.released) == (True, 4)

    # Entra's retries of the four held ones go through, and count for nothing...
    assert [deactivate(scim_client, person.pk).status_code for person in people[2:6]] == [200] * 4
    assert not any(active(person) for person in people[:6])
    assert set(HeldDeactivation.objects.values_list("status", flat=True)) == {"done"}
    # ...while new deactivations are counted from the release: two more pass, the third is held.
    assert [deactivate(scim_client, person.pk).status_code for person in people[6:9]] == [200, 200, 429]
    released = AuditEvent.objects.get(organisation=organisation, action="brake.released")
    assert (released.actor_user_id, released.note) == (
        admin.pk, "4 held deactivations go through on Entra ID's next retry; the count starts again."
    )


def test_the_percentage_decides_for_a_mid_sized_organisation(scim_client, organisation):
    people = scim_users_bulk(organisation=organisation, count=200)
    statuses = [deactivate(scim_client, person.pk).status_code for person in people[:22]]
    # 10 % of the 200 active when the window opened is 20.
    assert statuses == [200] * 20 + [429] * 2


def test_a_switched_off_brake_holds_nothing(scim_client, organisation, people):
    brake_with(organisation, enabled=False, max_people=1)
    assert {deactivate(scim_client, person.pk).status_code for person in people[:10]} == {200}
    assert not HeldDeactivation.objects.exists()
    assert DeactivationBrake.objects.get(organisation=organisation).minute_counts == {}


def test_deactivations_made_in_prompt_are_never_held(scim_client, organisation, people):
    brake_with(organisation, max_people=1)
    assert [deactivate(scim_client, person.pk).status_code for person in people[:2]] == [200, 429]
    admin = UserFactory(organisation=organisation, role=Role.ADMIN)

    browser = Client()
    browser.force_login(admin)
    person = User.objects.get(pk=people[3].user_id)
    assert user_deactivate(acting=Actor.person(admin), user=person)
    assert user_deactivate(acting=SYSTEM, user=User.objects.get(pk=people[4].user_id))

    assert not active(people[3]) and not active(people[4])
    assert HeldDeactivation.objects.count() == 1


def test_one_organisations_brake_never_holds_another(scim_client, other_client, organisation, other_organisation):
    brake_with(organisation, max_people=1)
    mine = scim_users_bulk(organisation=organisation, count=3)
    theirs = scim_users_bulk(organisation=other_organisation, count=3, prefix="theirs")
    assert [deactivate(scim_client, person.pk).status_code for person in mine] == [200, 429, 429]

    assert [deactivate(other_client, person.pk).status_code for person in theirs] == [200, 200, 200]
    # Nor can one organisation's Entra ID touch, or be held for, another's people: they are a 404.
    assert deactivate(scim_client, theirs[0].pk).status_code == 404
    assert not HeldDeactivation.objects.filter(organisation=other_organisation).exists()


def test_the_persons_timeline_shows_the_hold(scim_client, organisation, people):
    brake_with(organisation, max_people=1)
    deactivate(scim_client, people[0].pk)
    deactivate(scim_client, people[1].pk)
    admin = Client()
    admin.force_login(UserFactory(organisation=organisation, role=Role.ADMIN))

    page = admin.get(reverse("admin:organisations_user_change", args=[people[1].user_id])).content.decode()

    assert "Held" in page and "Deactivations are on hold" in page


def test_the_window_slides_deactivations_older_than_an_hour_no_longer_count(scim_client, organisation, people):
    from datetime import datetime, timedelta

    brake_with(organisation, max_people=2)
    assert [deactivate(scim_client, person.pk).status_code for person in people[:2]] == [200, 200]
    # Sixty-one minutes later, as far as the counts can tell.
    brake = DeactivationBrake.objects.get(organisation=organisation)
    [(minute, count)] = brake.minute_counts.items()
    earlier = datetime.strptime(minute, "%Y-%m-%dT%H:%M") - timedelta(minutes=61)
    brake.minute_counts = {earlier.strftime("%Y-%m-%dT%H:%M"): count}
    brake.save()

    assert [deactivate(scim_client, person.pk).status_code for person in people[2:5]] == [200, 200, 429]
    # The minute out of the window was dropped when the next one was counted.
    assert list(DeactivationBrake.objects.get(organisation=organisation).minute_counts.values()) == [2]


@pytest.mark.parametrize(
    "operations",
    [
        # Entra's legacy form, its compliant form, and a value object without a path.
        [{"op": "Replace", "path": "active", "value": "False"}],
        [{"op": "replace", "path": "active", "value": False}],
        [{"op": "replace", "value": {"active": False}}],
        [{"op": "Replace", "path": "displayName", "value": "Gone"}, {"op": "Replace", "path": "active", "value": "False"}],
    ],
)
def test_no_patch_form_slips_past_the_brake(scim_client, organisation, people, operations):
    brake_with(organisation, max_people=1)
    assert deactivate(scim_client, people[0].pk).status_code == 200

    response = scim_client.patch(
        f"{BASE}/Users/{people[1].pk}",
        {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations},
    )

    assert response.status_code == 429
    assert active(people[1])


def test_a_credential_cannot_release_keep_or_reconfigure_its_own_brake(organisation, scim_client, people):
    from django.core.exceptions import PermissionDenied

    from scim_provisioning.brake.actions import BrakeSettings, brake_keep, brake_settings_save

    brake_with(organisation, max_people=1)
    deactivate(scim_client, people[0].pk)
    deactivate(scim_client, people[1].pk)
    entra = Actor.credential(organisation=organisation, label="Entra ID (code …test)")

    for attempt in (
        lambda: brake_release(acting=entra, organisation=organisation),
        lambda: brake_keep(acting=entra, organisation=organisation),
        lambda: brake_settings_save(
            acting=entra, organisation=organisation, settings=BrakeSettings(enabled=False, max_people=1, max_percent=10)
        ),
    ):
        with pytest.raises(PermissionDenied):
            attempt()
    assert brake_state(organisation=organisation).engaged
    assert HeldDeactivation.objects.get().status == "held"
