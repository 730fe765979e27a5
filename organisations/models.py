"""Agencies, organisations, their departments and sections, and the people in them."""
import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac

from .usernames import KEY_MAX_LENGTH, address_key, name_key


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
    # Whether placement rules (kept by the provisioning side) place this organisation's people;
    # read with the organisation on every SCIM request, so that without rules placement costs nothing.
    placement_by_rules = models.BooleanField(default=False, editable=False)

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


class KeyField(models.CharField):
    """A comparison key of another field (``source``), recomputed whenever the row is written.

    Computed in ``pre_save``, so every write that stores the row sets it, bulk inserts included.
    """

    def __init__(self, *args, source: str, key, **kwargs):
        self.source = source
        self.key = key
        kwargs.setdefault("max_length", KEY_MAX_LENGTH)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        return name, path, args, {**kwargs, "source": self.source, "key": self.key}

    def pre_save(self, model_instance, add):
        value = self.key(getattr(model_instance, self.source) or "")
        setattr(model_instance, self.attname, value)
        return value


class UserManager(DjangoUserManager):
    def get_by_natural_key(self, username):
        # The admin's password sign-in matches names the way everything else does: by key.
        return self.get(username_key=name_key(username))


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
    # The sign-in name's comparison key (see organisations.usernames): unique across the site,
    # and what the SCIM userName filter, sign-in and /signin/ routing compare.
    username_key = KeyField(source="username", key=name_key, unique=True)
    # The email address's key, for routing /signin/ and matching sign-in's email claim.
    email_key = KeyField(source="email", key=address_key, blank=True, default="", db_index=True)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.NONE, blank=True)
    # Mixed into the session hash: bumping it signs the user out of every open session at once.
    session_version = models.UUIDField(default=uuid.uuid4, editable=False)

    objects = UserManager()

    class Meta:
        ordering = ["username"]
        indexes = [
            # An organisation's people in a stable order, for paging through them (SCIM lists).
            models.Index(fields=["organisation", "id"], name="user_organisation_id_idx"),
        ]

    def __str__(self) -> str:
        return self.username

    # Fields computed from others on every save, and the fields they follow.
    _DERIVED = {"is_staff": "role", "username_key": "username", "email_key": "email"}

    def save(self, *args, **kwargs) -> None:
        # The role alone grants admin rights (see organisations.roles); is_staff mirrors it so that
        # Django's own staff checks, such as the admin sign-in form, always agree with the role.
        self.is_staff = self.role in (Role.PROMPT_ADMIN, Role.AGENCY_ADMIN, Role.ADMIN)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {
                *update_fields,
                *(derived for derived, source in self._DERIVED.items() if source in update_fields),
            }
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
        errors = self.shape_errors()
        if errors:
            raise ValidationError(errors)

    def _placement(self) -> tuple[int | None, int | None]:
        """Return (the section's department, the department's organisation), in one query at most."""
        section = self.section if self.section_id and User.section.is_cached(self) else None
        department = self.department if self.department_id and User.department.is_cached(self) else None
        section_department = section.department_id if section else None
        department_organisation = department.organisation_id if department else None
        if self.section_id and section is None:
            row = Section.objects.filter(pk=self.section_id).values_list("department_id", "department__organisation_id")
            section_department, section_organisation = row.first() or (None, None)
            if department is None and section_department == self.department_id:
                department_organisation = section_organisation
        if self.department_id and department_organisation is None:
            department_organisation = (
                Department.objects.filter(pk=self.department_id).values_list("organisation_id", flat=True).first()
            )
        return section_department, department_organisation

    def shape_errors(self) -> dict[str, str]:
        """Return what makes this person's placement or role inconsistent, by field."""
        errors = {}
        section_department, department_organisation = self._placement()
        if self.department_id and department_organisation != self.organisation_id:
            errors["department"] = "The department must belong to the user's organisation."
        if self.section_id and section_department != self.department_id:
            errors["section"] = "The section must belong to the user's department."
        if self.role == Role.AGENCY_ADMIN and not self.agency_id:
            errors["agency"] = "An Agency Admin needs an agency."
        if self.agency_id and self.role != Role.AGENCY_ADMIN:
            errors["agency"] = "Only an Agency Admin has an agency."
        if self.role == Role.ADMIN and not self.organisation_id:
            errors["organisation"] = "An Admin needs an organisation."
        return errors


class SignInDomain(models.Model):
    """An email domain claimed by one organisation: nobody else may take names in it."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="sign_in_domains")
    # The domain's key (see organisations.usernames.domain_key): "contoso.com".
    domain = models.CharField(max_length=253, unique=True)
    claimed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain


class AuditEvent(models.Model):
    """One change made by an action: who made it, to what, and the fields before and after.

    Written in the same transaction as the change (both commit, or neither). Never holds codes,
    secrets or passwords: only their last characters or the fact of the change.
    """

    class ActorKind(models.TextChoices):
        PERSON = "person", "Person"
        CREDENTIAL = "credential", "Provisioning credential"
        TENANT = "tenant", "Microsoft sign-in"
        SYSTEM = "system", "System"

    created_at = models.DateTimeField(default=timezone.now)
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # How the actor reads in the trail: "Ari Admin (admin@demo.example)", "Entra ID (code …abcd)".
    actor_label = models.CharField(max_length=300)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_events"
    )
    target_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_events"
    )
    # What was changed, as it read at the time: a sign-in name, "Azure AD settings", "Department Finance".
    target_label = models.CharField(max_length=300)
    action = models.CharField(max_length=64)
    # {field: [old, new]}
    changes = models.JSONField(default=dict, blank=True)
    note = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organisation", "created_at"], name="audit_organisation_time_idx"),
            models.Index(fields=["target_user", "created_at"], name="audit_target_time_idx"),
        ]

    # How each action reads in the trail; an action missing here is shown as it is stored.
    ACTION_LABELS = {
        "user.created": "Created",
        "user.updated": "Changed",
        "user.deactivated": "Deactivated",
        "user.reactivated": "Reactivated",
        "user.password_changed": "Password changed",
        "user.signed_in": "Signed in with Microsoft",
        "user.adopted": "Taken over by Entra ID",
        "user.restored": "Restored by Entra ID",
        "user.deleted": "Deleted by Entra ID",
        "user.detached": "Detached from Entra ID",
        "user.placed": "Placed",
        "azure_ad.placement_rules": "Placement rules changed",
        "group.created": "Group created by Entra ID",
        "group.updated": "Group changed by Entra ID",
        "group.deleted": "Group deleted by Entra ID",
        "azure_ad.updated": "Azure AD settings changed",
        "code.issued": "Code generated",
        "code.revoked": "Code revoked",
        "code.revealed": "Code revealed",
    }

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.target_label}"

    @property
    def action_label(self) -> str:
        return self.ACTION_LABELS.get(self.action, self.action)
