"""Writes on organisations and their people, shared by the admin, SCIM and commands."""
from __future__ import annotations

import uuid

from django.db import transaction

from .models import User


@transaction.atomic
def user_deactivate(*, user: User) -> bool:
    """Deactivate a user and end every open session; return whether anything changed."""
    if not user.is_active:
        return False
    user.is_active = False
    # A new session_version changes the session hash, so existing sessions stop validating.
    user.session_version = uuid.uuid4()
    user.save(update_fields=["is_active", "session_version"])
    return True


@transaction.atomic
def user_reactivate(*, user: User) -> bool:
    """Reactivate a user; sessions ended at deactivation stay ended. Return whether it changed."""
    if user.is_active:
        return False
    user.is_active = True
    user.save(update_fields=["is_active"])
    return True
