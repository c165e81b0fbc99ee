"""Forms of the members page and the personal API keys page."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone

from analytics_app.access import projects_for
from analytics_app.models import Membership, PersonalAPIKey, Project

from .roles import Role


class AddMemberForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices, initial=Role.PM)

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        user = (
            get_user_model().objects.filter(email__iexact=email).first()
            or get_user_model().objects.filter(username__iexact=email).first()
        )
        if user is None:
            raise forms.ValidationError(
                "No Sextant user has this email. Ask an administrator to create the account first (manage.py bootstrap or createsuperuser)."
            )
        if Membership.objects.filter(project=self.project, user=user).exists():
            raise forms.ValidationError("This user is already a member; change their role below.")
        self.user = user
        return email


class ChangeRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


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
