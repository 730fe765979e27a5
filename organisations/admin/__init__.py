"""The organisations admin, scoped by role (see ``organisations.roles``)."""
from django.contrib import admin
from django.contrib.auth.models import Group

from . import structure, users  # noqa: F401 - registers the model admins

# Prompt grants admin rights by role, not by Django groups.
if admin.site.is_registered(Group):
    admin.site.unregister(Group)
