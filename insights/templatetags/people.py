"""Filters for people lists: `{{ names|display_name:person_id }}` and
`{{ names|shown_distinct_id:person_id }}` read insights.people.people_details' dict."""

from django import template

register = template.Library()


@register.filter
def display_name(names, person_id):
    return (names or {}).get(str(person_id), ("", ""))[0]


@register.filter
def shown_distinct_id(names, person_id):
    return (names or {}).get(str(person_id), ("", ""))[1]
