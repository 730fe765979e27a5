"""What the provisioning commands share: the organisation an operator names by its slug."""
from __future__ import annotations

from django.core.management.base import CommandError

from organisations.models import Organisation


def organisation_by_slug(slug: str) -> Organisation:
    """Return the organisation with this slug; a CommandError (exit 1) that says so otherwise."""
    try:
        return Organisation.objects.get(slug=slug)
    except Organisation.DoesNotExist:
        raise CommandError(f"No organisation has the slug {slug!r}.") from None
