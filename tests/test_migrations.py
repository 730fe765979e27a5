"""Every migration applies on PostgreSQL: to an empty database, and to one holding data.

Each test gets a database of its own (``prompt_migrations_<pid>``), created and dropped here, so
the migrations run exactly as ``manage.py migrate`` runs them in production.
"""
from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

import psycopg
import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connections
from django.db.migrations.executor import MigrationExecutor

from organisations.models import User
from scim_provisioning.models import ProvisioningCode, ScimRequest, ScimUser
from scim_provisioning.users import mapping

pytestmark = pytest.mark.postgres

ALIAS = "migrations"
PROJECT_APPS = ("organisations", "scim_provisioning")
# The state the first release created; data is written there with the models of that time.
FIRST_RELEASE = [("organisations", "0001_initial"), ("scim_provisioning", "0001_initial")]
WHEN = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def database(django_db_blocker):
    """A connection alias to a new, empty PostgreSQL database, dropped afterwards."""
    settings_dict = connections["default"].settings_dict
    name = f"prompt_migrations_{os.getpid()}"
    server = {
        "dbname": "postgres",
        "user": settings_dict["USER"] or None,
        "password": settings_dict["PASSWORD"] or None,
        "host": settings_dict["HOST"] or None,
        "port": settings_dict["PORT"] or None,
        "autocommit": True,
    }
    with psycopg.connect(**server) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    connections.settings[ALIAS] = {
        **settings_dict,
        "NAME": name,
        "OPTIONS": dict(settings_dict["OPTIONS"]),
        "TEST": {**settings_dict["TEST"], "NAME": name},
    }
    try:
        with django_db_blocker.unblock():
            yield connections[ALIAS]
            connections[ALIAS].close()
    finally:
        del connections[ALIAS]
        del connections.settings[ALIAS]
        with psycopg.connect(**server) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _migrate(*args) -> None:
    call_command("migrate", *args, database=ALIAS, interactive=False, verbosity=0)


def _unapplied(connection) -> list:
    executor = MigrationExecutor(connection)
    return executor.migration_plan(executor.loader.graph.leaf_nodes())


def test_migrations_apply_to_an_empty_database(database):
    assert database.introspection.table_names() == []

    _migrate()

    assert _unapplied(database) == []
    tables = set(database.introspection.table_names())
    for app in PROJECT_APPS:
        assert {model._meta.db_table for model in apps.get_app_config(app).get_models()} <= tables
    # The models and the migrations agree: nothing is left for makemigrations to write.
    call_command("makemigrations", *PROJECT_APPS, check=True, dry_run=True, verbosity=0)


def _seed_first_release(connection) -> dict:
    """Write an organisation with a provisioned user, a code and activity, as the first release did."""
    executor = MigrationExecutor(connection)
    old = executor.loader.project_state(FIRST_RELEASE).apps

    def model(app_label: str, name: str):
        return old.get_model(app_label, name).objects.db_manager(ALIAS)

    agency = model("organisations", "Agency").create(name="Agency", slug="agency")
    organisation = model("organisations", "Organisation").create(
        name="Contoso", slug="contoso", agency=agency, azure_sso_enabled=True,
        azure_tenant_id=uuid.UUID("4f6c1d2a-9b3e-4c5d-8e7f-0a1b2c3d4e5f"), provisioning_enabled=True,
    )
    department = model("organisations", "Department").create(organisation=organisation, name="Finance")
    section = model("organisations", "Section").create(department=department, name="Payroll")
    organisation.default_department, organisation.default_section = department, section
    organisation.save()
    user = model("organisations", "User").create(
        username="Alice@Contoso.com", first_name="Alice", last_name="Smith", email="alice@contoso.com",
        is_active=False, organisation=organisation, department=department, section=section, password="!",
    )
    attributes = {
        "userName": "Alice@Contoso.com",
        "active": True,
        "displayName": "Alice Smith",
        "externalId": "alice",
        "emails": [{"primary": True, "type": "work", "value": "alice@contoso.com"}],
        "name": {"familyName": "Smith", "givenName": "Alice"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "1001"},
    }
    scim_user = model("scim_provisioning", "ScimUser").create(
        user=user, organisation=organisation, attributes=attributes, external_id="alice",
        email="alice@contoso.com", employee_number="1001", deleted_at=WHEN,
    )
    code = model("scim_provisioning", "ProvisioningCode").create(
        organisation=organisation, digest="d" * 64, encrypted="encrypted", last_characters="abcd", last_used_at=WHEN
    )
    model("scim_provisioning", "ScimRequest").create(
        organisation=organisation, scim_user=scim_user, created_at=WHEN, method="DELETE",
        path=f"/Users/{scim_user.pk}", status=204, action="deleted", duration_ms=12,
    )
    return {"scim_id": scim_user.pk, "user_id": user.pk, "code_id": code.pk, "attributes": attributes}


def _assert_data_survived(seeded: dict) -> None:
    """Read the first release's rows with today's models and code."""
    scim_user = ScimUser.objects.using(ALIAS).select_related("user").get(pk=seeded["scim_id"])
    user = User.objects.using(ALIAS).select_related("department", "section", "organisation").get(
        pk=seeded["user_id"]
    )
    assert scim_user.user_id == user.pk
    assert (user.username, user.is_active, user.department.name, user.section.name, user.organisation.slug) == (
        "Alice@Contoso.com", False, "Finance", "Payroll", "contoso",
    )
    assert (scim_user.attributes, scim_user.deleted_at) == (seeded["attributes"], WHEN)
    code = ProvisioningCode.objects.using(ALIAS).get(pk=seeded["code_id"])
    assert (code.digest, code.last_used_at, code.revoked_at) == ("d" * 64, WHEN, None)
    request = ScimRequest.objects.using(ALIAS).get()
    assert (request.scim_user_id, request.status, request.action) == (scim_user.pk, 204, "deleted")
    # The SCIM representation is built from the migrated row as from a new one.
    body = mapping.user_resource(scim_user, location=lambda scim_id: f"/Users/{scim_id}")
    assert (body["id"], body["userName"], body["active"], body["displayName"]) == (
        str(seeded["scim_id"]), "Alice@Contoso.com", False, "Alice Smith",
    )


def test_migrations_apply_to_a_database_with_data(database):
    _migrate("scim_provisioning", "0001_initial")
    seeded = _seed_first_release(database)

    _migrate()

    assert _unapplied(database) == []
    _assert_data_survived(seeded)

    # Every migration since the first release also reverses with data present, and reapplies.
    for app_label, migration in FIRST_RELEASE:
        _migrate(app_label, migration)
    _assert_first_release_state(database)
    _migrate()
    assert _unapplied(database) == []
    _assert_data_survived(seeded)


def _assert_first_release_state(connection) -> None:
    loader = MigrationExecutor(connection).loader
    expected = {key for target in FIRST_RELEASE for key in loader.graph.forwards_plan(target) if key[0] in PROJECT_APPS}
    assert {key for key in loader.applied_migrations if key[0] in PROJECT_APPS} == expected


def test_migration_refuses_sign_in_names_that_collide_once_normalised(database):
    _migrate("scim_provisioning", "0001_initial")
    old = MigrationExecutor(database).loader.project_state(FIRST_RELEASE).apps
    users = old.get_model("organisations", "User").objects.db_manager(ALIAS)
    # Distinct under the first release's lower(), the same person's name under NFKC case folding.
    users.create(username="Straße@contoso.com", password="!")
    users.create(username="STRASSE@contoso.com", password="!")
    users.create(username="alice@contoso.com", password="!")

    with pytest.raises(RuntimeError) as refused:
        _migrate()

    message = str(refused.value)
    assert "1 group(s) of users have sign-in names that are the same once normalised" in message
    assert "'Straße@contoso.com'" in message and "'STRASSE@contoso.com'" in message
    assert "alice" not in message
