"""An organisation's Azure AD settings and the rules that tie them together.

The rules are checked by the admin form (to show errors next to fields) and again by the action
that stores the settings, so no entry point can save a combination the page would refuse.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from .models import Department, Organisation, Section

# Entra ID shows the Directory (tenant) ID in this 8-4-4-4-12 form; nothing looser is accepted.
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)

TENANCY_ID_FORMAT_ERROR = "Enter the Tenancy ID as a GUID, such as 1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b."


class TenancyIdError(ValueError):
    """A Tenancy ID that is not a GUID."""


def parse_tenancy_id(value: str) -> uuid.UUID | None:
    """Return the GUID a Tenancy ID names, ``None`` when blank; raise TenancyIdError otherwise."""
    value = (value or "").strip()
    if not value:
        return None
    if not _GUID.fullmatch(value):
        raise TenancyIdError(TENANCY_ID_FORMAT_ERROR)
    tenancy_id = uuid.UUID(value)
    if tenancy_id.int == 0:
        raise TenancyIdError("The Tenancy ID cannot be all zeros.")
    return tenancy_id


@dataclass(frozen=True)
class AzureADSettings:
    azure_sso_enabled: bool
    azure_tenant_id: uuid.UUID | None
    provisioning_enabled: bool
    default_department: Department | None
    default_section: Section | None
    # Domain keys (see organisations.domains); claiming them is checked against the actor.
    sign_in_domains: tuple[str, ...] = ()

    @classmethod
    def of(cls, organisation: Organisation) -> AzureADSettings:
        return cls(
            azure_sso_enabled=organisation.azure_sso_enabled,
            azure_tenant_id=organisation.azure_tenant_id,
            provisioning_enabled=organisation.provisioning_enabled,
            default_department=organisation.default_department,
            default_section=organisation.default_section,
            sign_in_domains=tuple(organisation.sign_in_domains.values_list("domain", flat=True)),
        )


def azure_ad_settings_errors(*, organisation: Organisation, settings: AzureADSettings) -> dict[str, list[str]]:
    """Return the errors, by field name, that make these settings invalid for the organisation."""
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if settings.azure_sso_enabled and settings.azure_tenant_id is None:
        add("azure_tenant_id", "Enter the Tenancy ID to enable Azure SSO.")

    department, section = settings.default_department, settings.default_section
    if department is not None and department.organisation_id != organisation.pk:
        add("default_department", "Choose a department of this organisation.")
    if section is not None:
        if section.department.organisation_id != organisation.pk:
            add("default_section", "Choose a section of this organisation.")
        elif department is None:
            add("default_section", "Choose the Default Department this section belongs to.")
        elif section.department_id != department.pk:
            add("default_section", f"Choose a section of the {department.name} department.")

    if settings.provisioning_enabled:
        if not settings.azure_sso_enabled:
            add("provisioning_enabled", "Automated User Provisioning needs Azure SSO: enable Azure SSO as well.")
        # The Tenancy ID it also needs is already required by Azure SSO above.
        if department is None:
            add("default_department", "Choose the department new users are created in.")
        if section is None and "default_section" not in errors:
            add("default_section", "Choose the section new users are created in.")
    return errors
