"""Forms of the members page and the personal API keys page."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

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
    label = forms.CharField(max_length=100)

    def save(self, user) -> tuple[PersonalAPIKey, str]:
        return PersonalAPIKey.issue(user, self.cleaned_data["label"])
