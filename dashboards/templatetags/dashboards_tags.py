from django import template
from django.utils import timezone
from django.utils.timesince import timesince

from dashboards.permissions import can_edit_insights as _can_edit

register = template.Library()


@register.filter
def can_edit_insights(perms) -> bool:
    """`{% if request.perms|can_edit_insights %}`: may this role save/change insights?"""
    return _can_edit(perms or frozenset())


@register.filter
def ago(moment) -> str:
    """'just now' under a minute, else '3 minutes ago' (Django's timesince)."""
    if not moment:
        return ""
    if (timezone.now() - moment).total_seconds() < 60:
        return "just now"
    return f"{timesince(moment)} ago"
