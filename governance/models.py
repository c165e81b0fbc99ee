"""Governance records: the audit log, custom roles, invites.

References to the core's models are by name ("analytics_app.Project"), so this module
imports nothing of Sextant's and sits in the policy layer with roles and masking.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from .roles import ROLE_PERMISSIONS, Permission, Role


class AuditEntryQuerySet(models.QuerySet):
    """Refuses bulk changes: entries are deleted only by `purge_before` (the retention
    purge), and updated only to clear `actor` / `project` when the user or project they
    point to is deleted (what `on_delete=SET_NULL` does)."""

    CLEARABLE = frozenset({"actor", "actor_id", "project", "project_id"})

    def update(self, **kwargs):
        if kwargs and set(kwargs) <= self.CLEARABLE and all(v is None for v in kwargs.values()):
            return super().update(**kwargs)
        raise PermissionError("audit entries are append-only")

    def delete(self):
        raise PermissionError("audit entries are append-only: only the retention purge deletes them")

    def purge_before(self, cutoff) -> int:
        """Delete the entries created before `cutoff`, in one transaction; returns how many.
        On PostgreSQL the table's trigger refuses any DELETE unless the transaction has set
        `sextant.audit_purge_before`, and then only of rows older than it (docs/audit.md)."""
        from django.db import connections, transaction  # noqa: PLC0415

        with transaction.atomic(using=self.db):
            connection = connections[self.db]
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT set_config('sextant.audit_purge_before', %s, true)", [cutoff.isoformat()]
                    )
            old = self.model.objects.using(self.db).filter(created_at__lt=cutoff)
            return old._raw_delete(self.db)


class AuditEntry(models.Model):
    """One change somebody made: who, when, what, from where, before and after.

    Append-only: the application only ever creates entries (`governance.audit.record`);
    `save` refuses to update, `delete` refuses to delete, and so do the queryset's
    `update` and `delete` (AuditEntryQuerySet); the retention purge is the one deletion
    (`AuditEntry.objects.purge_before`), and on PostgreSQL a trigger enforces the same
    (governance/migrations/0003_append_only_trigger.py). The project and actor are
    kept by value as well (`project_name`, `actor_label`) so an entry still reads right
    after the project or user is gone.
    """

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=254, blank=True)
    project = models.ForeignKey(
        "analytics_app.Project", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    project_name = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    target = models.CharField(max_length=254, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "-created_at"], name="audit_project_time")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label or 'system'} {self.action} {self.target}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("audit entries are append-only")


class CustomRole(models.Model):
    """A project's own role: a name and any set of `Permission` codenames.

    A member holds either a built-in role (`Membership.role`) or one of these
    (`Membership.custom_role`); `analytics_app.models.sync_permissions` grants the set.
    `view_project` is always part of it (without it the member could not open the project).
    """

    project = models.ForeignKey(
        "analytics_app.Project", on_delete=models.CASCADE, related_name="custom_roles"
    )
    name = models.CharField(max_length=50)
    permissions = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="unique_custom_role_name")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.permissions = ordered_permissions(self.permissions)
        super().save(*args, **kwargs)

    def clean(self):
        unknown = sorted(set(self.permissions) - set(Permission.values))
        if unknown:
            raise ValidationError({"permissions": f"Unknown permissions: {', '.join(unknown)}."})
        self.permissions = ordered_permissions(self.permissions)

    @property
    def permission_set(self) -> frozenset[str]:
        return frozenset(self.permissions) & frozenset(Permission.values)


def ordered_permissions(codenames) -> list[str]:
    """`codenames` (plus view_project) in the order `Permission` declares them."""
    wanted = set(codenames) | {Permission.VIEW_PROJECT.value}
    return [p for p in Permission.values if p in wanted]


def role_permissions(role: str | None, custom_role: CustomRole | None) -> frozenset[str]:
    """What a member holding the built-in `role` or `custom_role` (which wins) may do."""
    if custom_role is not None:
        return custom_role.permission_set
    return ROLE_PERMISSIONS.get(role, frozenset()) if role else frozenset()


def role_label(role: str | None, custom_role: CustomRole | None) -> str:
    if custom_role is not None:
        return custom_role.name
    return Role(role).label if role in Role.values else (role or "")


def default_invite_expiry():
    days = int(getattr(settings, "INVITE_TTL_DAYS", 7) or 7)
    return timezone.now() + timedelta(days=days)


def hash_invite_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class Invite(models.Model):
    """An invitation by e-mail to join a project with a role; the link carries a random
    token of which only the SHA-256 is stored. Single use: accepting, revoking or a
    resend (which issues a new token) ends the old link."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    project = models.ForeignKey("analytics_app.Project", on_delete=models.CASCADE, related_name="invites")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices, blank=True)
    custom_role = models.ForeignKey(
        CustomRole, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(default=default_invite_expiry)
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"invite of {self.email} to {self.project_id}"

    @classmethod
    def issue(
        cls, project, email: str, role: str, custom_role: CustomRole | None, created_by
    ) -> tuple[Invite, str]:
        """A new pending invite and the raw token of its link (returned once, never stored)."""
        raw = secrets.token_urlsafe(32)
        invite = cls.objects.create(
            project=project,
            email=email.strip().lower(),
            role="" if custom_role is not None else role,
            custom_role=custom_role,
            token_hash=hash_invite_token(raw),
            created_by=created_by,
        )
        return invite, raw

    @classmethod
    def for_token(cls, raw) -> Invite | None:
        if not isinstance(raw, str) or not raw or len(raw) > 100:
            return None
        return (
            cls.objects.select_related("project", "custom_role")
            .filter(token_hash=hash_invite_token(raw))
            .first()
        )

    def renew(self) -> str:
        """A fresh token and expiry (the old link stops working); the new raw token."""
        raw = secrets.token_urlsafe(32)
        self.token_hash = hash_invite_token(raw)
        self.expires_at = default_invite_expiry()
        self.save(update_fields=["token_hash", "expires_at"])
        return raw

    @property
    def state(self) -> str:
        if self.accepted_at is not None:
            return self.State.ACCEPTED
        if self.revoked_at is not None:
            return self.State.REVOKED
        if self.expires_at <= timezone.now():
            return self.State.EXPIRED
        return self.State.PENDING

    @property
    def role_gone(self) -> bool:
        """The invite named a custom role that was deleted since."""
        return not self.role and self.custom_role_id is None

    @property
    def permissions(self) -> frozenset[str]:
        return role_permissions(self.role, self.custom_role)

    @property
    def role_label(self) -> str:
        return role_label(self.role, self.custom_role)


PATTERN_MAX_LENGTH = 200


def validate_pattern(value: str) -> None:
    """A property's pattern: at most 200 characters and a valid Python regular expression."""
    import re  # noqa: PLC0415

    if len(value) > PATTERN_MAX_LENGTH:
        raise ValidationError(f"At most {PATTERN_MAX_LENGTH} characters.")
    try:
        re.compile(value)
    except re.error as exc:
        raise ValidationError(f"Not a valid regular expression: {exc}.") from None


class EventDefinition(models.Model):
    """One event of a project's tracking plan (docs/tracking-plan.md)."""

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        LIVE = "live", "Live"
        DEPRECATED = "deprecated", "Deprecated"

    project = models.ForeignKey(
        "analytics_app.Project", on_delete=models.CASCADE, related_name="event_definitions"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PLANNED)
    tags = models.JSONField(default=list, blank=True)
    example = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="unique_event_definition")]

    def __str__(self) -> str:
        return self.name


class PropertyDefinition(models.Model):
    """A property of an event definition, or a person property when `event` is null."""

    class Type(models.TextChoices):
        STRING = "string", "String"
        NUMBER = "number", "Number"
        BOOLEAN = "boolean", "Boolean"
        DATETIME = "datetime", "Date and time"
        OBJECT = "object", "Object"
        ARRAY = "array", "Array"

    class PII(models.TextChoices):
        NONE = "none", "None"
        PII = "pii", "PII"
        SENSITIVE = "sensitive", "Sensitive"

    project = models.ForeignKey(
        "analytics_app.Project", on_delete=models.CASCADE, related_name="property_definitions"
    )
    event = models.ForeignKey(
        EventDefinition, null=True, blank=True, on_delete=models.CASCADE, related_name="properties"
    )
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=16, choices=Type.choices, default=Type.STRING)
    required = models.BooleanField(default=False)
    allowed_values = models.JSONField(default=list, blank=True)
    pattern = models.CharField(max_length=PATTERN_MAX_LENGTH, blank=True, validators=[validate_pattern])
    pii_class = models.CharField(max_length=16, choices=PII.choices, default=PII.NONE)
    # Used by alert root-cause ranking as a breakdown candidate.
    dimension = models.BooleanField(default=False)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "event", "name"],
                condition=models.Q(event__isnull=False),
                name="unique_event_property_definition",
            ),
            models.UniqueConstraint(
                fields=["project", "name"],
                condition=models.Q(event__isnull=True),
                name="unique_person_property_definition",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.allowed_values = [_exact_number(v) for v in self.allowed_values]
        super().save(*args, **kwargs)


def _exact_number(value):
    """A whole float of 1e16 or more as the int it exactly is. JSON writes such a float in
    e-notation (4.2971539375189970e+16), which PostgreSQL's jsonb turns into an integer of the
    printed digits, a different number (…970 instead of …968); the int survives both backends
    and equals the float."""
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1e16:
        return int(value)
    return value


class PlanSettings(models.Model):
    """A project's naming convention for event names and how ingestion treats events
    that break the plan (`enforcement`, applied by governance/enforcement.py)."""

    class Naming(models.TextChoices):
        NONE = "none", "No convention"
        SNAKE_CASE = "snake_case", "snake_case object_action"
        TITLE_CASE = "title_case", "Title Case “Object Action”"
        REGEX = "regex", "Regular expression"

    class Enforcement(models.TextChoices):
        ALLOW = "allow", "Allow (store, flag)"
        WARN = "warn", "Warn (store, write an ingestion warning)"
        QUARANTINE = "quarantine", "Quarantine (hold events that break the plan)"

    project = models.OneToOneField(
        "analytics_app.Project", on_delete=models.CASCADE, related_name="plan_settings"
    )
    naming = models.CharField(max_length=16, choices=Naming.choices, default=Naming.NONE)
    naming_regex = models.CharField(max_length=PATTERN_MAX_LENGTH, blank=True, validators=[validate_pattern])
    enforcement = models.CharField(max_length=16, choices=Enforcement.choices, default=Enforcement.ALLOW)

    class Meta:
        verbose_name_plural = "plan settings"

    def __str__(self) -> str:
        return f"plan settings of {self.project_id}"

    @classmethod
    def of(cls, project) -> PlanSettings:
        """The project's settings, or unsaved defaults."""
        found = cls.objects.filter(project=project).first()
        return found if found is not None else cls(project=project)


def hash_identifier(kind: str, value: str) -> str:
    """What a deletion request keeps of the identifier it was asked for: a sha256 of the kind
    and the value (e-mails lower-cased), enough to answer "was X deleted?" without keeping X."""
    normal = value.strip().lower() if kind == "email" else value.strip()
    return hashlib.sha256(f"{kind}:{normal}".encode()).hexdigest()


class DeletionRequest(models.Model):
    """A request to delete one person's data from a project (GDPR / CCPA erasure).

    The record itself holds no PII: the identifier is kept as `identifier_hash` and a
    masked form, the persons by their random ids. governance/deletion.py does the work;
    docs/deletion.md says what is deleted.
    """

    class Kind(models.TextChoices):
        DISTINCT_ID = "distinct_id", "Distinct ID"
        EMAIL = "email", "E-mail (the person's email property)"
        PERSON = "person", "Person ID"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    project = models.ForeignKey("analytics_app.Project", on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    identifier_kind = models.CharField(max_length=16, choices=Kind.choices)
    identifier_hash = models.CharField(max_length=64, db_index=True)
    identifier_masked = models.CharField(max_length=254)
    person_ids = models.JSONField(default=list)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    steps_done = models.PositiveIntegerField(default=0)
    steps_total = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_identifier_kind_display()} {self.identifier_masked} ({self.status})"

    @property
    def active(self) -> bool:
        return self.status in (self.Status.PENDING, self.Status.RUNNING)

    @property
    def percent(self) -> int:
        return int(100 * self.steps_done / self.steps_total) if self.steps_total else 0


class QuarantineAction(models.Model):
    """A release or discard of one quarantine group (reason, event name) of a project, run by
    the `governance.quarantine_action` task (governance/quarantine.py). Covers the events of
    the group quarantined up to `requested_at`; `done` of `total` counts progress."""

    class Kind(models.TextChoices):
        RELEASE = "release", "Release"
        DISCARD = "discard", "Discard"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    project = models.ForeignKey(
        "analytics_app.Project", on_delete=models.CASCADE, related_name="quarantine_actions"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    reason = models.CharField(max_length=500)
    event = models.CharField(max_length=200)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The run's last sign of life (its start, each batch): a run silent for longer than
    # governance.tasks.STALLED is taken over by the next delivery (a worker killed mid-run).
    heartbeat = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.event} ({self.reason})"

    @property
    def active(self) -> bool:
        return self.status in (self.Status.PENDING, self.Status.RUNNING)

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else (100 if self.status == "done" else 0)
