"""The site's user and SCIM user tables, as the floor reads and writes them (unmanaged)."""
import uuid

from django.db import models


class Person(models.Model):
    password = models.CharField(max_length=128, default="!")
    last_login = models.DateTimeField(null=True)
    is_superuser = models.BooleanField(default=False)
    first_name = models.CharField(max_length=150, default="")
    last_name = models.CharField(max_length=150, default="")
    email = models.CharField(max_length=254, default="")
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField()
    organisation_id = models.BigIntegerField()
    department_id = models.BigIntegerField(null=True)
    section_id = models.BigIntegerField(null=True)
    agency_id = models.BigIntegerField(null=True)
    username = models.CharField(max_length=256)
    username_key = models.CharField(max_length=1024)
    email_key = models.CharField(max_length=1024, default="")
    role = models.CharField(max_length=20, default="")
    session_version = models.UUIDField(default=uuid.uuid4)

    class Meta:
        managed = False
        db_table = "organisations_user"


class ScimPerson(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    user = models.ForeignKey(Person, on_delete=models.DO_NOTHING, db_column="user_id")
    attributes = models.JSONField(default=dict)
    external_id = models.CharField(max_length=1024, default="")
    email = models.CharField(max_length=1024, default="")
    employee_number = models.CharField(max_length=1024, default="")
    manager_id = models.UUIDField(null=True)
    created = models.DateTimeField()
    last_modified = models.DateTimeField()
    deleted_at = models.DateTimeField(null=True)
    placement = models.CharField(max_length=16, default="defaults")

    class Meta:
        managed = False
        db_table = "scim_provisioning_scimuser"


class FloorGroup(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    organisation_id = models.BigIntegerField()
    last_modified = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "scim_provisioning_scimgroup"


class FloorMember(models.Model):
    group = models.ForeignKey(FloorGroup, on_delete=models.DO_NOTHING, db_column="group_id")
    scim_user_id = models.UUIDField()

    class Meta:
        managed = False
        db_table = "scim_provisioning_scimgroupmember"
