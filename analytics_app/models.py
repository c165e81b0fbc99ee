"""Metadata: projects, memberships with roles, personal API keys."""

from __future__ import annotations

import hashlib
import secrets
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from governance.models import role_label, role_permissions
from governance.roles import Permission, Role


def generate_project_token() -> str:
    return "phc_" + secrets.token_urlsafe(32).replace("-", "").replace("_", "")[:40]


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known IANA time zone")


DEFAULT_REPLAY_MASK_SELECTORS = "[data-sextant-mask], .ph-sensitive, .ph-no-capture"


class Project(models.Model):
    name = models.CharField(max_length=200)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    api_token = models.CharField(max_length=64, unique=True, default=generate_project_token, editable=False)
    recording_enabled = models.BooleanField(default=True)
    recording_mask_all_text = models.BooleanField(default=False)
    recording_retention_days = models.PositiveIntegerField(default=30)
    # Events older than this are deleted daily (governance.purge_expired_events); empty keeps them.
    event_retention_days = models.PositiveIntegerField(null=True, blank=True, default=None, db_default=None)
    anonymize_ips = models.BooleanField(default=False)
    replay_resources = models.CharField(
        max_length=8,
        default="origin",
        db_default="origin",
        choices=[
            ("origin", "From the recorded site only"),
            ("none", "None (show placeholders)"),
            ("any", "From anywhere"),
        ],
    )
    # What a role without view-PII sees of a replay's text (replay/masking.py): "policy" masks
    # inputs, what the PII detectors find, the recorded person's PII values and what sits in
    # an element matched by `replay_mask_selectors`; "all" masks every text.
    replay_text_masking = models.CharField(
        max_length=8,
        default="policy",
        db_default="policy",
        choices=[
            ("policy", "By the PII policy: inputs, detected and personal data, masked elements"),
            ("all", "All text"),
        ],
    )
    replay_mask_selectors = models.CharField(
        max_length=1000,
        blank=True,
        default=DEFAULT_REPLAY_MASK_SELECTORS,
        db_default=DEFAULT_REPLAY_MASK_SELECTORS,
    )
    # Admins of the project must have confirmed a two-factor device to open any of its pages.
    require_admin_2fa = models.BooleanField(default=False, db_default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        default_permissions = ()
        permissions = [(p.value, p.label) for p in Permission]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def for_token(cls, token) -> Project | None:
        """The project a client-sent token names, or None. A string that cannot be a token
        (not a string, empty, too long, a NUL byte, which PostgreSQL refuses in a query
        value) is never looked up."""
        if not isinstance(token, str) or not token or len(token) > 64 or "\x00" in token:
            return None
        return cls.objects.filter(api_token=token).first()

    def rotate_token(self) -> None:
        self.api_token = generate_project_token()
        self.save(update_fields=["api_token"])

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    # A built-in role, or blank when the member holds `custom_role`.
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.PM, blank=True)
    # A project's own role; when set it wins over `role` (RESTRICT: a role in use cannot be
    # deleted, except together with its project).
    custom_role = models.ForeignKey(
        "governance.CustomRole", null=True, blank=True, on_delete=models.RESTRICT, related_name="memberships"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "project"], name="unique_membership")]
        ordering = ["project_id", "user_id"]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} as {self.role_label}"

    def save(self, *args, **kwargs):
        with transaction.atomic():
            super().save(*args, **kwargs)
            sync_permissions(self.user, self.project, self.role, self.custom_role)

    def delete(self, *args, **kwargs):
        with transaction.atomic():
            sync_permissions(self.user, self.project, None)
            return super().delete(*args, **kwargs)

    @property
    def permission_set(self) -> frozenset[str]:
        return role_permissions(self.role, self.custom_role)

    @property
    def role_label(self) -> str:
        return role_label(self.role, self.custom_role)

    @property
    def role_key(self) -> str:
        """The value of the role in the members page's role select."""
        return f"custom:{self.custom_role_id}" if self.custom_role_id else self.role


def sync_permissions(user, project: Project, role: str | None, custom_role=None) -> None:
    """Make the user's guardian permissions on `project` exactly those of `role`, or of
    `custom_role` (a governance.CustomRole) when given."""
    from guardian.models import UserObjectPermission  # noqa: PLC0415
    from guardian.shortcuts import assign_perm  # noqa: PLC0415

    wanted = role_permissions(role, custom_role)
    UserObjectPermission.objects.filter(
        user=user,
        content_type__app_label="analytics_app",
        content_type__model="project",
        object_pk=str(project.pk),
    ).exclude(permission__codename__in=wanted).delete()
    for codename in wanted:
        assign_perm(f"analytics_app.{codename}", user, project)


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class APIKeyRefused(Exception):
    """A bearer key that cannot be used; `message` is what the API answers (401)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class PersonalAPIKey(models.Model):
    """A key for `Authorization: Bearer <key>`. Only its SHA-256 is stored.

    Its scope: every project of its owner (`all_projects`) or the chosen `projects`, reads
    only (`read_only`) or reads and writes, until `expires_at` if set. It never grants more
    than its owner's role in a project: the gate checks the owner's permissions and then
    narrows them to the key's scope (analytics_app/access.py).
    """

    PREFIX = "phx_"
    UNKNOWN = "Invalid API key."
    REVOKED = "This API key was revoked."
    EXPIRED = "This API key has expired."

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    label = models.CharField(max_length=100)
    secure_value = models.CharField(max_length=64, unique=True, editable=False)
    mask = models.CharField(max_length=16, editable=False)
    all_projects = models.BooleanField(default=False)
    projects = models.ManyToManyField(Project, blank=True, related_name="+")
    read_only = models.BooleanField(default=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.label} ({self.mask}…)"

    @classmethod
    def issue(
        cls, user, label: str, *, projects=None, read_only: bool = True, expires_at=None
    ) -> tuple[PersonalAPIKey, str]:
        """Create a key for every project of `user` (`projects=None`) or for the listed
        ones; the raw value is returned once and never stored."""
        raw = cls.PREFIX + secrets.token_urlsafe(32)
        with transaction.atomic():
            key = cls.objects.create(
                user=user,
                label=label,
                secure_value=hash_key(raw),
                mask=raw[:10],
                all_projects=projects is None,
                read_only=read_only,
                expires_at=expires_at,
            )
            if projects is not None:
                key.projects.set(projects)
        return key, raw

    @classmethod
    def authenticate(cls, raw: str) -> PersonalAPIKey:
        """The usable key for a raw value (its `user` loaded); raises APIKeyRefused saying
        whether it is unknown, revoked or expired."""
        if not isinstance(raw, str) or not raw.startswith(cls.PREFIX):
            raise APIKeyRefused(cls.UNKNOWN)
        key = cls.objects.select_related("user").filter(secure_value=hash_key(raw)).first()
        if key is None or not key.user.is_active:
            raise APIKeyRefused(cls.UNKNOWN)
        if key.revoked_at is not None:
            raise APIKeyRefused(cls.REVOKED)
        now = timezone.now()
        if key.expires_at is not None and key.expires_at <= now:
            raise APIKeyRefused(cls.EXPIRED)
        if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
            cls.objects.filter(pk=key.pk).update(last_used_at=now)
        return key

    def revoke(self) -> None:
        self.revoked_at = timezone.now()
        self.save(update_fields=["revoked_at"])

    def covers(self, project: Project) -> bool:
        """Whether the key's scope includes `project` (the owner's role is checked apart)."""
        return self.all_projects or self.projects.filter(pk=project.pk).exists()

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def active(self) -> bool:
        return self.revoked_at is None and not self.expired
