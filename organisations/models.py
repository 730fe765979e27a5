"""Agencies, organisations, their departments and sections, and the people in them."""
import uuid

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils.crypto import salted_hmac


class Agency(models.Model):
    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=100, unique=True)

    class Meta:
        verbose_name_plural = "agencies"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Organisation(models.Model):
    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="organisations", null=True, blank=True
    )
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)

    # Azure AD: sign-in with Microsoft and automated user provisioning from Entra ID.
    azure_sso_enabled = models.BooleanField("Enable Azure SSO", default=False)
    azure_tenant_id = models.UUIDField("Tenancy ID", null=True, blank=True)
    provisioning_enabled = models.BooleanField("Enable Automated User Provisioning", default=False)
    default_department = models.ForeignKey(
        "Department",
        verbose_name="Default Department",
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    default_section = models.ForeignKey(
        "Section",
        verbose_name="Default Section",
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Department(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="departments")
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="department_unique_name_per_org")
        ]

    def __str__(self) -> str:
        return self.name


class Section(models.Model):
    # The organisation is reached through the department, so a section cannot belong to a
    # department of another organisation.
    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="sections")
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["department", "name"], name="section_unique_name_per_department")
        ]

    def __str__(self) -> str:
        return f"{self.department.name} / {self.name}"


class Role(models.TextChoices):
    PROMPT_ADMIN = "prompt_admin", "Prompt Admin"
    AGENCY_ADMIN = "agency_admin", "Agency Admin"
    ADMIN = "admin", "Admin"
    NONE = "", "None"


class User(AbstractUser):
    """A person in Prompt; ``username`` is their Microsoft sign-in name (SCIM ``userName``)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="users", null=True, blank=True
    )
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, related_name="users", null=True, blank=True
    )
    section = models.ForeignKey(Section, on_delete=models.PROTECT, related_name="users", null=True, blank=True)
    agency = models.ForeignKey(
        Agency,
        on_delete=models.PROTECT,
        related_name="admins",
        null=True,
        blank=True,
        help_text="The agency an Agency Admin administers.",
    )
    # Longer than Django's 150 so any Entra userPrincipalName fits; no character validator,
    # since SCIM stores the userName exactly as sent.
    username = models.CharField(
        "username", max_length=256, unique=True, error_messages={"unique": "A user with that username already exists."}
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.NONE, blank=True)
    # Mixed into the session hash: bumping it signs the user out of every open session at once.
    session_version = models.UUIDField(default=uuid.uuid4, editable=False)

    objects = UserManager()

    class Meta:
        ordering = ["username"]
        constraints = [
            # The sign-in name is unique across the whole site, case-insensitively; the SCIM
            # userName filter uses this same expression so lookups and uniqueness always agree.
            models.UniqueConstraint(Lower("username"), name="user_username_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.username

    def save(self, *args, **kwargs) -> None:
        # The role alone grants admin rights (see organisations.roles); is_staff mirrors it so that
        # Django's own staff checks, such as the admin sign-in form, always agree with the role.
        self.is_staff = self.role in (Role.PROMPT_ADMIN, Role.AGENCY_ADMIN, Role.ADMIN)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "role" in update_fields:
            kwargs["update_fields"] = {*update_fields, "is_staff"}
        super().save(*args, **kwargs)

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        # Django's hash covers only the password; adding session_version lets deactivation end
        # sessions of users who have no password at all (they sign in with Microsoft).
        return salted_hmac(
            "organisations.User.session_auth_hash",
            f"{self.password}:{self.session_version}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    def clean(self) -> None:
        super().clean()
        errors = {}
        if self.department_id and self.department.organisation_id != self.organisation_id:
            errors["department"] = "The department must belong to the user's organisation."
        if self.section_id and self.section.department_id != self.department_id:
            errors["section"] = "The section must belong to the user's department."
        if self.role == Role.AGENCY_ADMIN and not self.agency_id:
            errors["agency"] = "An Agency Admin needs an agency."
        if self.role == Role.ADMIN and not self.organisation_id:
            errors["organisation"] = "An Admin needs an organisation."
        if errors:
            raise ValidationError(errors)
