"""Factories for SCIM request history: single rows, and a year of an Entra ID tenant's traffic."""
from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import factory
from django.contrib.auth.hashers import make_password
from factory.django import DjangoModelFactory

from organisations.models import Organisation, User
from scim_provisioning.models import ScimRequest, ScimUser

from ..factories import OrganisationFactory, UserFactory

Action = ScimRequest.Action

# What Entra ID gets back when something goes wrong, weighted roughly by how often each happens.
FAILURES = [
    (400, "invalidValue", "Attribute 'userName' must be a string.", 5),
    (409, "uniqueness", "A user with that userName already exists.", 3),
    (404, "", "Resource not found.", 3),
    (400, "invalidFilter", "Unsupported filter attribute 'department'.", 1),
    (400, "invalidSyntax", "The request body is not valid JSON.", 1),
    (429, "", "Too many requests.", 1),
]


class ScimUserFactory(DjangoModelFactory):
    class Meta:
        model = ScimUser

    class Params:
        # The person's organisation, which is the SCIM user's too.
        organisation = factory.SubFactory(OrganisationFactory)

    user = factory.SubFactory(UserFactory, organisation=factory.SelfAttribute("..organisation"))
    external_id = factory.Sequence(lambda n: f"external-{n}")
    email = factory.LazyAttribute(lambda s: s.user.username)


class ScimRequestFactory(DjangoModelFactory):
    class Meta:
        model = ScimRequest

    organisation = factory.SubFactory(OrganisationFactory)
    created_at = factory.Faker("date_time_this_year", tzinfo=UTC)
    method = "GET"
    path = "/Users"
    status = 200
    action = Action.READ
    duration_ms = 12


def scim_users_bulk(*, organisation: Organisation, count: int, prefix: str = "person") -> list[ScimUser]:
    """Create ``count`` provisioned users quickly (no password hashing per user)."""
    unusable = make_password(None)
    users = User.objects.bulk_create(
        User(
            username=f"{prefix}{n}.{organisation.slug}@contoso.example",
            email=f"{prefix}{n}.{organisation.slug}@contoso.example",
            first_name="Person",
            last_name=str(n),
            organisation=organisation,
            password=unusable,
        )
        for n in range(count)
    )
    if users and users[0].pk is None:  # Back-ends that cannot return ids from a bulk insert.
        users = list(User.objects.filter(organisation=organisation, username__startswith=prefix).order_by("pk"))
    return ScimUser.objects.bulk_create(
        ScimUser(user=user, external_id=str(uuid.uuid4()), email=user.email)
        for user in users
    )


def year_of_activity(
    *,
    organisation: Organisation,
    scim_users: list[ScimUser],
    now: datetime,
    seed: int,
    days: int = 365,
    cycle_minutes: int = 40,
    initial_users: int = 2000,
) -> list[ScimRequest]:
    """Return unsaved requests resembling a year of Entra ID provisioning cycles, oldest first.

    An initial cycle looks up and creates ``initial_users`` people; then every ``cycle_minutes``
    (with jitter) Entra ID tests the connection and sends the day's changes: busier on weekday
    working hours, with occasional failures and a few outages when nothing arrives.
    """
    rng = random.Random(seed)
    start = now - timedelta(days=days)
    outages = []
    for _ in range(4):
        outage_start = start + timedelta(hours=rng.uniform(48, days * 24 - 72))
        outages.append((outage_start, outage_start + timedelta(hours=rng.uniform(3, 30))))
    rows: list[ScimRequest] = []

    def add(at: datetime, method: str, path: str, status: int, action: str, scim_user=None, **extra) -> datetime:
        rows.append(
            ScimRequest(
                organisation=organisation,
                created_at=at,
                method=method,
                path=path,
                status=status,
                action=action,
                scim_user=scim_user,
                duration_ms=rng.randint(3, 400),
                **extra,
            )
        )
        # Requests within a cycle follow each other a few hundred milliseconds apart.
        return at + timedelta(milliseconds=rng.randint(50, 900))

    def failure(at: datetime, method: str, path: str, scim_user=None) -> datetime:
        status, scim_type, detail, _ = rng.choices(FAILURES, weights=[f[3] for f in FAILURES])[0]
        return add(at, method, path, status, Action.NONE, scim_user, scim_type=scim_type, detail=detail)

    at = start + timedelta(minutes=3)
    for _ in range(initial_users):
        scim_user = rng.choice(scim_users)
        at = add(at, "GET", '/Users?filter=userName eq "x"', 200, Action.READ)
        if rng.random() < 0.01:
            at = failure(at, "POST", "/Users")
        else:
            at = add(
                at, "POST", "/Users", 201, Action.CREATED, scim_user,
                changes={"userName": [None, scim_user.email], "active": [None, True]},
            )

    cycle = start + timedelta(minutes=cycle_minutes)
    while cycle < now:
        at = cycle + timedelta(seconds=rng.uniform(0, 180))
        cycle += timedelta(minutes=cycle_minutes)
        if at >= now or any(begin <= at < end for begin, end in outages):
            continue
        busy = at.weekday() < 5 and 8 <= at.hour < 18
        at = add(at, "GET", f'/Users?filter=userName eq "{uuid.UUID(int=rng.getrandbits(128))}"', 200, Action.READ)
        for _ in range(rng.randint(0, 6 if busy else 2)):
            scim_user = rng.choice(scim_users)
            path = f"/Users/{scim_user.pk}"
            at = add(at, "GET", path, 200, Action.READ, scim_user)
            roll = rng.random()
            if rng.random() < 0.04:
                if rng.random() < 0.6:
                    # Recorded with its user, or (as some failures are) only by the path it requested.
                    at = failure(at, "PATCH", path, scim_user if rng.random() < 0.5 else None)
                else:
                    at = failure(at, "POST", "/Users")
            elif roll < 0.75:
                at = add(
                    at, "PATCH", path, 200, Action.UPDATED, scim_user,
                    changes={"title": [f"Title {rng.randint(1, 9)}", f"Title {rng.randint(1, 9)}"]},
                )
            elif roll < 0.85:
                at = add(at, "PATCH", path, 200, Action.DEACTIVATED, scim_user, changes={"active": [True, False]})
            elif roll < 0.93:
                at = add(at, "PATCH", path, 200, Action.REACTIVATED, scim_user, changes={"active": [False, True]})
            elif roll < 0.98:
                at = add(at, "GET", '/Users?filter=userName eq "new"', 200, Action.READ)
                at = add(at, "POST", "/Users", 201, Action.CREATED, scim_user, changes={"userName": [None, "new"]})
            else:
                at = add(at, "DELETE", path, 204, Action.DELETED, scim_user)
    return [row for row in rows if row.created_at <= now]
