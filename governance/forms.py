"""Forms of the members, invites, roles and personal API keys pages."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.utils import timezone

from analytics_app.access import projects_for
from analytics_app.models import Membership, PersonalAPIKey, Project

from .models import CustomRole, Invite, role_label, role_permissions
from .roles import Permission, Role


@dataclass(frozen=True)
class AssignedRole:
    """A built-in role or a project's custom role, as chosen in a role select."""

    role: str
    custom_role: CustomRole | None = None

    @property
    def key(self) -> str:
        return f"custom:{self.custom_role.pk}" if self.custom_role is not None else self.role

    @property
    def label(self) -> str:
        return role_label(self.role, self.custom_role)

    @property
    def permissions(self) -> frozenset[str]:
        return role_permissions(self.role, self.custom_role)

    @property
    def audited(self) -> str:
        """How the audit log names it: a built-in role's value, or "<name> (custom)"."""
        return f"{self.custom_role.name} (custom)" if self.custom_role is not None else self.role

    @classmethod
    def of(cls, holder) -> AssignedRole:
        """The role a Membership or an Invite holds."""
        if holder.custom_role_id:
            return cls("", holder.custom_role)
        return cls(holder.role)

    def fields(self) -> dict:
        """The model fields that store this role."""
        return {"role": "" if self.custom_role is not None else self.role, "custom_role": self.custom_role}


def role_choices(project: Project) -> list[tuple[str, str]]:
    """The role select's options: the built-ins, then the project's custom roles."""
    custom = [(f"custom:{r.pk}", f"{r.name} (custom)") for r in CustomRole.objects.filter(project=project)]
    return [*Role.choices, *custom]


class RoleField(forms.ChoiceField):
    """A role select whose value cleans to an AssignedRole of the form's project."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", Role.PM)
        super().__init__(*args, **kwargs)

    def clean(self, value):
        value = super().clean(value)
        if value.startswith("custom:"):
            custom = CustomRole.objects.filter(pk=int(value.removeprefix("custom:"))).first()
            if custom is None:
                raise forms.ValidationError("This role was deleted.")
            return AssignedRole("", custom)
        return AssignedRole(value)


class ProjectFormMixin:
    """Forms whose `role` choices are the project's roles."""

    def setup_project(self, project: Project) -> None:
        self.project = project
        if "role" in self.fields:
            self.fields["role"].choices = role_choices(project)


class AddMemberForm(ProjectFormMixin, forms.Form):
    """Add an existing account to the project."""

    email = forms.CharField(label="E-mail or username", max_length=254)
    role = RoleField()

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        self.setup_project(project)

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        user = (
            get_user_model().objects.filter(email__iexact=email).first()
            or get_user_model().objects.filter(username__iexact=email).first()
        )
        if user is None:
            raise forms.ValidationError(
                "No Sextant user has this e-mail. Invite them by e-mail, or create their account, below."
            )
        if Membership.objects.filter(project=self.project, user=user).exists():
            raise forms.ValidationError("This user is already a member; change their role below.")
        self.user = user
        return email


class ChangeRoleForm(ProjectFormMixin, forms.Form):
    role = RoleField()

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        self.setup_project(project)


def _already_member(project: Project, email: str) -> bool:
    return Membership.objects.filter(project=project, user__email__iexact=email).exists() or (
        Membership.objects.filter(project=project, user__username__iexact=email).exists()
    )


class InviteForm(ProjectFormMixin, forms.Form):
    email = forms.EmailField(label="E-mail", max_length=150)  # it becomes the username
    role = RoleField()

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        self.setup_project(project)

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if _already_member(self.project, email):
            raise forms.ValidationError("This person already is a member; change their role in the list.")
        pending = [
            i
            for i in Invite.objects.filter(project=self.project, email__iexact=email)
            if i.state == "pending"
        ]
        if pending:
            raise forms.ValidationError("This address already has a pending invite; resend it from the list.")
        return email


class NewUserForm(ProjectFormMixin, forms.Form):
    """Create an account with a password and make it a member."""

    email = forms.EmailField(label="E-mail", max_length=150)
    name = forms.CharField(label="Name", max_length=150)
    password = forms.CharField(
        label="Password", widget=forms.PasswordInput(render_value=False), strip=False, max_length=128
    )
    role = RoleField()

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        self.setup_project(project)
        self.fields["password"].widget.attrs["autocomplete"] = "new-password"

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        User = get_user_model()
        if (
            User.objects.filter(email__iexact=email).exists()
            or User.objects.filter(username__iexact=email).exists()
        ):
            raise forms.ValidationError("An account with this e-mail exists; add it as a member instead.")
        return email

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("email"):
            candidate = get_user_model()(
                username=data["email"], email=data["email"], first_name=data.get("name", "")
            )
            try:
                password_validation.validate_password(data["password"], candidate)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return data

    def save(self):
        data = self.cleaned_data
        return create_account(data["email"], data["name"], data["password"])


def create_account(email: str, name: str, password: str):
    user = get_user_model()(username=email, email=email, first_name=name.strip()[:150])
    user.set_password(password)
    user.save()
    return user


class AcceptInviteForm(forms.Form):
    """The invitee's name and password, for an address without an account."""

    name = forms.CharField(label="Your name", max_length=150)
    password1 = forms.CharField(label="Password", widget=forms.PasswordInput, strip=False, max_length=128)
    password2 = forms.CharField(
        label="Password again", widget=forms.PasswordInput, strip=False, max_length=128
    )

    def __init__(self, *args, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email
        for name in ("password1", "password2"):
            self.fields[name].widget.attrs["autocomplete"] = "new-password"
        self.fields["password1"].help_text = " ".join(password_validation.password_validators_help_texts())

    def clean(self):
        data = super().clean()
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", "The two passwords differ.")
        elif p1:
            candidate = get_user_model()(
                username=self.email, email=self.email, first_name=data.get("name", "")
            )
            try:
                password_validation.validate_password(p1, candidate)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data


class CustomRoleForm(forms.Form):
    name = forms.CharField(label="Name", max_length=50)
    permissions = forms.MultipleChoiceField(
        label="Permissions", choices=Permission.choices, widget=forms.CheckboxSelectMultiple, required=False
    )

    def __init__(self, *args, project: Project, instance: CustomRole | None = None, **kwargs):
        if instance is not None and not args and "data" not in kwargs:
            kwargs.setdefault("initial", {"name": instance.name, "permissions": instance.permissions})
        super().__init__(*args, **kwargs)
        self.project = project
        self.instance = instance

    def clean_name(self):
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError("Give the role a name.")
        if name.lower() in {v.lower() for v in Role.values} | {str(label).lower() for label in Role.labels}:
            raise forms.ValidationError("This is the name of a built-in role; choose another.")
        clash = CustomRole.objects.filter(project=self.project, name__iexact=name)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError("This project already has a role with this name.")
        return name


class APIKeyForm(forms.Form):
    """A new key: its label, scope (all the user's projects or chosen ones), access and
    optional last day. The projects offered are those the user is a member of."""

    ALL = "all"
    CHOSEN = "chosen"
    READ = "read"
    WRITE = "write"

    label = forms.CharField(max_length=100)
    scope = forms.ChoiceField(
        choices=[(ALL, "All my projects, including ones I join later"), (CHOSEN, "Only the projects chosen")],
        initial=ALL,
        widget=forms.RadioSelect,
    )
    projects = forms.ModelMultipleChoiceField(
        queryset=Project.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    access = forms.ChoiceField(
        choices=[(READ, "Read-only"), (WRITE, "Read and write")],
        initial=READ,
        widget=forms.RadioSelect,
    )
    expires = forms.DateField(
        required=False,
        label="Last day (optional)",
        help_text="The key stops working at the end of this day, UTC.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["projects"].queryset = projects_for(user).order_by("name", "pk")
        self.user = user

    def clean_expires(self):
        day = self.cleaned_data["expires"]
        if day is not None and day < timezone.now().astimezone(dt.UTC).date():
            raise forms.ValidationError("The last day cannot be in the past.")
        return day

    def clean(self):
        data = super().clean()
        if data.get("scope") == self.CHOSEN and not data.get("projects"):
            self.add_error("projects", "Choose at least one project, or give the key all your projects.")
        return data

    def save(self) -> tuple[PersonalAPIKey, str]:
        data = self.cleaned_data
        day = data["expires"]
        expires_at = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC) if day else None
        return PersonalAPIKey.issue(
            self.user,
            data["label"],
            projects=list(data["projects"]) if data["scope"] == self.CHOSEN else None,
            read_only=data["access"] == self.READ,
            expires_at=expires_at,
        )
