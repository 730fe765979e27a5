"""Admin clients and form bodies shared by the admin tests."""
from __future__ import annotations

from django.test import Client

from organisations.models import User


def signed_in(user: User) -> Client:
    """A test client signed in as ``user``."""
    client = Client()
    client.force_login(user)
    return client


def user_form_data(user: User, **changes) -> dict:
    """The user change form's body for ``user`` as stored, with ``changes``; None drops a field."""
    user = User.objects.get(pk=user.pk)
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "organisation": user.organisation_id or "",
        "department": user.department_id or "",
        "section": user.section_id or "",
        "role": user.role,
        "agency": user.agency_id or "",
        "is_active": "on" if user.is_active else "",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}
