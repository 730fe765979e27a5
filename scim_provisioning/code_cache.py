"""The bearer-code lookup, cached under the code's digest so that most SCIM requests skip it.

An entry holds only what a SCIM request reads of the code and its organisation (never the
plaintext nor the encrypted copy), for at most ``SCIM_CODE_CACHE_SECONDS`` and never past the
code's grace period. Whatever changes a code's validity, or its organisation, forgets the
organisation's entries; the cache is Django's default one, so with Redis (see README) that
reaches every app process at once, and with a per-process cache only as entries expire.
"""
from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from organisations.models import Organisation

from .models import ProvisioningCode

logger = logging.getLogger(__name__)

KEY_PREFIX = "scim-code"
_CODE_FIELDS = ("id", "organisation_id", "digest", "created_at", "last_used_at", "expires_at")
# What SCIM services read of the organisation; any other field is loaded on first access.
_ORGANISATION_FIELDS = (
    "id",
    "agency_id",
    "name",
    "slug",
    "provisioning_enabled",
    "default_department_id",
    "default_section_id",
)


def _key(digest: str) -> str:
    return f"{KEY_PREFIX}:{digest}"


def _instance(model, stored: dict):
    """Rebuild a model instance from stored field values, the others deferred."""
    fields = [field.attname for field in model._meta.concrete_fields if field.attname in stored]
    return model.from_db("default", fields, [stored[name] for name in fields])


def cached_code(digest: str) -> ProvisioningCode | None:
    """Return the cached active code with this digest, with its organisation, or ``None``.

    A code whose grace period has ended since it was cached is not returned. A cache that
    cannot be reached is logged and counts as a miss: authentication falls back to the database.
    """
    try:
        entry = cache.get(_key(digest))
    except Exception:
        logger.exception("Could not read a provisioning code from the cache")
        return None
    if entry is None:
        return None
    code = _instance(ProvisioningCode, entry["code"])
    if code.expires_at is not None and code.expires_at <= timezone.now():
        return None
    code.organisation = _instance(Organisation, entry["organisation"])
    return code


def code_remember(*, code: ProvisioningCode) -> None:
    """Cache an active code (fetched with its organisation) for later requests."""
    timeout = settings.SCIM_CODE_CACHE_SECONDS
    if code.expires_at is not None:
        timeout = min(timeout, int((code.expires_at - timezone.now()).total_seconds()))
    if timeout <= 0:
        return
    entry = {
        "code": {name: getattr(code, name) for name in _CODE_FIELDS},
        "organisation": {name: getattr(code.organisation, name) for name in _ORGANISATION_FIELDS},
    }
    try:
        cache.set(_key(code.digest), entry, timeout=timeout)
    except Exception:
        logger.exception("Could not cache a provisioning code")


def code_cache_forget(*, organisation_id: int) -> None:
    """Forget the cached entries of all of an organisation's codes, now and after commit.

    Now, so that this process never authenticates with the old state again; and once the
    surrounding transaction commits, in case a concurrent request cached what it read before.
    """
    digests = ProvisioningCode.objects.filter(organisation_id=organisation_id).values_list("digest", flat=True)
    keys = [_key(digest) for digest in digests]
    if not keys:
        return

    def forget() -> None:
        try:
            cache.delete_many(keys)
        except Exception:
            logger.exception("Could not forget the cached provisioning codes of organisation %s", organisation_id)

    forget()
    transaction.on_commit(forget)


# Safety nets for writes that bypass the services: the admin saving an organisation directly,
# and codes deleted along with their organisation.
@receiver(post_save, sender=Organisation, dispatch_uid="scim_code_cache_organisation_saved")
def _organisation_saved(sender, instance: Organisation, created: bool, **kwargs) -> None:
    if not created:
        code_cache_forget(organisation_id=instance.pk)


@receiver(post_delete, sender=ProvisioningCode, dispatch_uid="scim_code_cache_code_deleted")
def _code_deleted(sender, instance: ProvisioningCode, **kwargs) -> None:
    try:
        cache.delete(_key(instance.digest))
    except Exception:
        logger.exception("Could not forget a deleted provisioning code")
