"""Provisioning credentials (codes, OAuth clients and their tokens), the SCIM view of users, and the request log."""
import uuid

from django.conf import settings
from django.db import models


class ProvisioningCode(models.Model):
    """A bearer code Entra ID uses to provision one organisation; see ``tokens.py``."""

    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.CASCADE, related_name="provisioning_codes"
    )
    # SHA-256 of the plaintext: looked up by index on every SCIM request.
    digest = models.CharField(max_length=64, unique=True)
    # Fernet token of the plaintext, for the admin's "Reveal"; the key is not in the database.
    encrypted = models.TextField()
    last_characters = models.CharField(max_length=8)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    # Set when a newer code is issued: the grace period after which this one stops working.
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organisation", "created_at"], name="code_org_created_idx")]

    def __str__(self) -> str:
        return f"…{self.last_characters}"


class ProvisioningCodeReveal(models.Model):
    """Who revealed a code's plaintext, and when."""

    code = models.ForeignKey(ProvisioningCode, on_delete=models.CASCADE, related_name="reveals")
    revealed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    revealed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-revealed_at"]

    def __str__(self) -> str:
        return f"{self.code} revealed by {self.revealed_by} at {self.revealed_at:%Y-%m-%d %H:%M}"


class OAuthClient(models.Model):
    """An organisation's OAuth 2.0 client: how Entra ID obtains short-lived access tokens.

    Entra authenticates at the token endpoint with a client secret (``OAuthClientSecret``) or,
    under workload identity federation, with a JWT its tenant signed for the application named
    here; see ``scim_provisioning.oauth``.
    """

    organisation = models.OneToOneField(
        "organisations.Organisation", on_delete=models.CASCADE, related_name="oauth_client"
    )
    # Not a secret: Entra's "Client Identifier" field, and what selects the client at the endpoint.
    client_id = models.CharField("Client Identifier", max_length=64, unique=True)
    # Workload identity federation: the Entra application whose tokens are accepted as assertions.
    application_id = models.UUIDField("Application (client) ID", null=True, blank=True)
    object_id = models.UUIDField("Object ID", null=True, blank=True)
    accepts_code = models.BooleanField("Accept the Provisioning Authentication Code", default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # An assertion without client_id is matched by its aud and sub: one client each.
            models.UniqueConstraint(fields=["application_id", "object_id"], name="oauthclient_unique_federation"),
            models.CheckConstraint(
                condition=models.Q(application_id__isnull=True, object_id__isnull=True)
                | models.Q(application_id__isnull=False, object_id__isnull=False),
                name="oauthclient_federation_complete",
            ),
        ]

    def __str__(self) -> str:
        return self.client_id

    @property
    def federated(self) -> bool:
        return self.application_id is not None and self.object_id is not None


class OAuthClientSecret(models.Model):
    """A client secret, stored as its SHA-256 digest only: Entra keeps the plaintext."""

    client = models.ForeignKey(OAuthClient, on_delete=models.CASCADE, related_name="secrets")
    digest = models.CharField(max_length=64, unique=True)
    last_characters = models.CharField(max_length=8)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"…{self.last_characters}"


class OAuthAccessToken(models.Model):
    """A short-lived bearer token the token endpoint issued; a credential with a code's reach."""

    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.CASCADE, related_name="oauth_access_tokens"
    )
    client = models.ForeignKey(OAuthClient, on_delete=models.CASCADE, related_name="access_tokens")
    # The secret it was granted for; None when granted for a federated assertion.
    secret = models.ForeignKey(
        OAuthClientSecret, on_delete=models.CASCADE, null=True, blank=True, related_name="access_tokens"
    )
    digest = models.CharField(max_length=64, unique=True)
    # How the token reads in the activity and the audit trail, such as "OAuth client …abcd".
    label = models.CharField(max_length=64)
    # The Tenancy ID a federated assertion was verified against; the token dies if it changes.
    tenant_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["client", "expires_at"], name="oauthtoken_client_expiry_idx")]

    def __str__(self) -> str:
        return self.label


class OAuthAssertionUse(models.Model):
    """A federated assertion already exchanged: its ``jti`` may not be used again."""

    # SHA-256 of "<tenant>:<jti>", so any jti fits and one tenant's ids never block another's.
    digest = models.CharField(max_length=64, unique=True)
    organisation = models.ForeignKey("organisations.Organisation", on_delete=models.CASCADE, related_name="+")
    # Kept until the assertion itself has expired; after that its exp refuses it anyway.
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.digest[:12]


class ScimUser(models.Model):
    """The SCIM resource of a Prompt user provisioned (or adopted) by their organisation's Entra ID.

    ``userName`` and ``active`` live on the user (``username``, ``is_active``); every other
    attribute is kept in ``attributes`` exactly as Entra sent it, with the few that filters need
    copied into indexed columns. The organisation is the user's own: there is no second copy
    that could fall out of step when a person moves.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="scim")
    attributes = models.JSONField(default=dict, blank=True)
    external_id = models.CharField(max_length=1024, blank=True, default="", db_index=True)
    email = models.CharField(max_length=1024, blank=True, default="", db_index=True)
    employee_number = models.CharField(max_length=1024, blank=True, default="", db_index=True)
    manager = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="reports"
    )
    created = models.DateTimeField(auto_now_add=True)
    last_modified = models.DateTimeField(auto_now=True)
    # A SCIM DELETE hides the resource but keeps the person's Prompt data.
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Placement(models.TextChoices):
        DEFAULTS = "defaults", "Default Department and Section"
        RULE = "rule", "Placement rule"
        BY_HAND = "by_hand", "Moved by hand"

    # How the person came to be in their department and section: a person moved by hand in the
    # admin stays there until an admin lets Entra ID place them again.
    placement = models.CharField(max_length=16, choices=Placement.choices, default=Placement.DEFAULTS)
    placement_rule = models.ForeignKey(
        "PlacementRule", on_delete=models.SET_NULL, null=True, blank=True, related_name="placed"
    )

    def __str__(self) -> str:
        return str(self.id)


class ScimGroup(models.Model):
    """A group Entra ID provisions into one organisation; placement rules may name it.

    Never shown to another organisation: every read and write goes through its organisation.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.CASCADE, related_name="scim_groups", db_index=False
    )
    display_name = models.CharField("name", max_length=256)
    # Entra matches groups by displayName, which must be unique (caseExact false, RFC 7643 §4.2).
    display_name_key = models.CharField(max_length=1024, editable=False)
    external_id = models.CharField("external id", max_length=1024, blank=True, default="")
    # Kept by the actions that change the membership, so that no request has to count it.
    member_count = models.PositiveIntegerField("members", default=0)
    created = models.DateTimeField(auto_now_add=True)
    last_modified = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Entra ID group"
        ordering = ["display_name_key"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "display_name_key"], name="scimgroup_unique_name_per_org")
        ]
        indexes = [models.Index(fields=["organisation", "external_id"], name="scimgroup_org_external_idx")]

    def __str__(self) -> str:
        return self.display_name


class ScimGroupMember(models.Model):
    """One user's membership of one group."""

    # The unique constraint's index serves lookups by group.
    group = models.ForeignKey(ScimGroup, on_delete=models.CASCADE, related_name="memberships", db_index=False)
    scim_user = models.ForeignKey(ScimUser, on_delete=models.CASCADE, related_name="group_memberships")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "scim_user"], name="scimgroupmember_unique")]

    def __str__(self) -> str:
        return f"{self.scim_user_id} in {self.group_id}"


class PlacementRule(models.Model):
    """One row of an organisation's placement rules: a condition, and where it places a person.

    The first rule (by ``position``) that matches a person places them; none means the
    organisation's Default Department and Section.
    """

    class Kind(models.TextChoices):
        GROUP = "group", "member of Entra group"
        DEPARTMENT = "department", "Entra department is"

    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.CASCADE, related_name="placement_rules", db_index=False
    )
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Entra ID may delete the group; the rule then matches nobody and shows the name it had.
    group = models.ForeignKey(
        ScimGroup, on_delete=models.SET_NULL, null=True, blank=True, related_name="placement_rules"
    )
    group_name = models.CharField(max_length=256, blank=True, default="")
    # The enterprise department value as entered, and its comparison key (case and spaces ignored).
    department_value = models.CharField(max_length=256, blank=True, default="")
    department_key = models.CharField(max_length=1024, blank=True, default="", editable=False)
    department = models.ForeignKey("organisations.Department", on_delete=models.PROTECT, related_name="+")
    section = models.ForeignKey("organisations.Section", on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["organisation", "position"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "position"], name="placementrule_unique_position")
        ]

    def __str__(self) -> str:
        return self.condition

    @property
    def condition(self) -> str:
        """The rule's condition as the page and the timeline show it: "member of Nurses-Ward5"."""
        if self.kind == self.Kind.GROUP:
            name = self.group.display_name if self.group_id and self.group else self.group_name
            deleted = "" if self.group_id else " (deleted in Entra ID)"
            return f"member of {name}{deleted}"
        return f"Entra department is {self.department_value}"


class ScimRequest(models.Model):
    """One SCIM request, recorded for the organisation's provisioning activity."""

    class Action(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Updated"
        DEACTIVATED = "deactivated", "Deactivated"
        REACTIVATED = "reactivated", "Reactivated"
        DELETED = "deleted", "Deleted"
        READ = "read", "Read"
        # A deactivation the mass-deactivation brake held (answered 429).
        HELD = "held", "Held"
        NONE = "", "None"

    # Both foreign keys are served by the composite indexes below; their own single-column
    # indexes would only add to the cost of the INSERT every SCIM request makes.
    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.CASCADE, related_name="scim_requests", db_index=False
    )
    created_at = models.DateTimeField(db_index=False)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    status = models.PositiveSmallIntegerField()
    scim_type = models.CharField(max_length=32, blank=True, default="")
    detail = models.CharField(max_length=500, blank=True, default="")
    action = models.CharField(max_length=16, choices=Action.choices, blank=True, default="")
    scim_user = models.ForeignKey(
        ScimUser, on_delete=models.SET_NULL, null=True, blank=True, related_name="requests", db_index=False
    )
    # Field-level changes {"attribute": [old, new]} for the user's provisioning timeline.
    changes = models.JSONField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    # The credential that authenticated, such as "code …abcd" or "OAuth client …abcd".
    credential = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["scim_user", "created_at"], name="scimrequest_user_time_idx"),
            # The activity panel's counts and chart read only these columns over a time range, so
            # this index answers them without visiting the table (index-only scans).
            models.Index(
                fields=["organisation", "created_at", "status", "action"], name="scimrequest_org_activity_idx"
            ),
            # "Recent failures" on the activity panel: failed requests only, so finding the latest
            # few never walks through a year of successful ones.
            models.Index(
                fields=["organisation", "created_at"],
                condition=models.Q(status__gte=400),
                name="scimrequest_org_failed_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.status}"


class DeactivationBrake(models.Model):
    """An organisation's mass-deactivation brake: its limits, and whether it holds Entra's deactivations.

    The row is also the lock every deactivation by Entra ID takes (``brake.actions``), so that
    the count of a window is right across app processes and concurrent requests. An
    organisation without a row has the defaults: the brake is on.
    """

    organisation = models.OneToOneField(
        "organisations.Organisation", on_delete=models.CASCADE, primary_key=True, related_name="deactivation_brake"
    )
    enabled = models.BooleanField("Hold mass deactivations", default=True)
    max_people = models.PositiveIntegerField("people", default=25)
    max_percent = models.PositiveSmallIntegerField("percent", default=10)
    # The active provisioned people the percentage is taken of, counted at most once a window
    # (and no further than the limits need): a deactivation does not count the organisation.
    population = models.PositiveIntegerField(null=True, blank=True)
    population_counted_at = models.DateTimeField(null=True, blank=True)
    # Deactivations let through per minute of the sliding window, {"2026-12-02T14:30": 3, ...}:
    # at most sixty-one minutes, read and written with the lock (``brake.threshold``).
    minute_counts = models.JSONField(default=dict, blank=True)
    # When the brake engaged, the first minute of the window that engaged it, and how many that
    # window had let through: with the held people, whom Entra ID tried to deactivate.
    engaged_at = models.DateTimeField(null=True, blank=True)
    episode_started_at = models.DateTimeField(null=True, blank=True)
    episode_admitted = models.PositiveIntegerField(default=0)
    # An admin chose to keep holding: who, and when.
    kept_at = models.DateTimeField(null=True, blank=True)
    kept_by = models.CharField(max_length=300, blank=True, default="")

    def __str__(self) -> str:
        return f"Brake of {self.organisation_id}: {'engaged' if self.engaged_at else 'not engaged'}"


class HeldDeactivation(models.Model):
    """A deactivation by Entra ID the brake held: whom it concerns, and what an admin decided."""

    class Status(models.TextChoices):
        HELD = "held", "Held"
        # Released by an admin: Entra's next retry goes through without being counted.
        RELEASED = "released", "Released"
        DONE = "done", "Done"

    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    scim_user = models.ForeignKey(ScimUser, on_delete=models.CASCADE, related_name="held_deactivations")
    # How Entra ID asked: PATCH or PUT with active false, or DELETE.
    method = models.CharField(max_length=8)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.HELD)
    first_held_at = models.DateTimeField()
    last_held_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=1)
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["first_held_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["scim_user"],
                condition=models.Q(status__in=["held", "released"]),
                name="helddeactivation_one_open_per_user",
            )
        ]
        indexes = [models.Index(fields=["organisation", "status"], name="helddeact_org_status_idx")]

    def __str__(self) -> str:
        return f"{self.method} {self.scim_user_id}: {self.status}"


class ProvisioningAlert(models.Model):
    """One episode of a provisioning health problem of an organisation, emailed once.

    At most one episode of a kind is open (``cleared_at`` empty) per organisation: the unique
    constraint is what lets several hosts run ``provisioning_alerts`` at once and still send
    one email per episode.
    """

    class Kind(models.TextChoices):
        SILENCE = "silence", "Entra ID has stopped calling"
        FAILURES = "failures", "Many requests failed"
        BRAKE = "brake", "Deactivations are on hold"
        CODE_AGE = "code_age", "The code in use is old"

    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.CASCADE, related_name="provisioning_alerts", db_index=False
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    started_at = models.DateTimeField()
    # What was found, as the email and the page say it.
    detail = models.CharField(max_length=500, blank=True, default="")
    # Claimed by the run that emails; emptied again if sending failed, so a later run retries.
    notified_at = models.DateTimeField(null=True, blank=True)
    recipients = models.PositiveIntegerField(default=0)
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "kind"],
                condition=models.Q(cleared_at__isnull=True),
                name="provisioningalert_one_open_per_kind",
            )
        ]
        indexes = [models.Index(fields=["organisation", "started_at"], name="provalert_org_started_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({'open' if self.cleared_at is None else 'cleared'})"
