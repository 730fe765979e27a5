"""On PostgreSQL the request log is written in batches by a background thread, through its own
connection, which does not wait for the disk; user data keeps the default connection and its
durable commits."""
from __future__ import annotations

import logging

import pytest
from django.db import connections
from django.utils import timezone

from scim_provisioning.activity.writer import activity_writer
from scim_provisioning.models import ScimRequest

from .conftest import USERS, entra_user

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases="__all__")]


@pytest.fixture
def queued(settings):
    settings.SCIM_ACTIVITY_DATABASE = "activity"
    settings.SCIM_ACTIVITY_QUEUED = True
    return activity_writer("activity")


def synchronous_commit(alias: str) -> str:
    with connections[alias].cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


def recorded() -> list[tuple]:
    return list(ScimRequest.objects.order_by("created_at").values_list("method", "status", "action"))


def test_requests_are_recorded_by_the_writer_without_waiting_for_the_disk(scim_client, queued):
    created = scim_client.post(USERS, entra_user("alice@contoso.com"))
    looked_up = scim_client.get(f"{USERS}/{created.json()['id']}")

    assert queued.flush(timeout=10)
    assert (created.status_code, looked_up.status_code) == (201, 200)
    assert recorded() == [("POST", 201, "created"), ("GET", 200, "read")]
    assert synchronous_commit("activity") == "off"
    assert synchronous_commit("default") == "on"


def test_a_failed_batch_is_logged_and_the_next_one_recorded(scim_client, queued, caplog):
    with caplog.at_level(logging.ERROR, logger="scim_provisioning"):
        queued.put(ScimRequest(organisation_id=0, created_at=timezone.now(), method="GET", path="/x", status=200))
        assert queued.flush(timeout=10)
    assert [r.getMessage() for r in caplog.records] == ["Could not record 1 SCIM requests"]

    assert scim_client.get(USERS).status_code == 200

    assert queued.flush(timeout=10)
    assert recorded() == [("GET", 200, "read")]


def test_the_writer_queue_depth_is_a_metric_that_drains_to_where_it_was(scim_client, queued):
    from prometheus_client import REGISTRY

    def depth() -> float:
        return REGISTRY.get_sample_value("prompt_scim_activity_queue_depth")

    assert queued.flush(timeout=10)
    before = depth()
    for _ in range(2):
        queued.put(ScimRequest(organisation_id=0, created_at=timezone.now(), method="GET", path="/x", status=200))
    # The thread lets records gather for a moment before it inserts them, so both are still queued.
    assert depth() == before + 2

    assert queued.flush(timeout=10)
    assert depth() == before
