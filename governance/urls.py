from django.urls import path

from . import (
    audit_views,
    custom_roles,
    deletions,
    discovery_views,
    invites,
    keys,
    plan_views,
    suggestion_views,
    views,
)

# Not namespaced: the names predate the app (`project_members`, `member_update`, `api_keys`).
urlpatterns = [
    path("project/<int:project_id>/members/", views.project_members, name="project_members"),
    path("project/<int:project_id>/members/<int:membership_id>/", views.member_update, name="member_update"),
    path("account/api-keys/", keys.api_keys, name="api_keys"),
    path("project/<int:project_id>/audit/", audit_views.project_audit, name="project_audit"),
    path(
        "project/<int:project_id>/audit/export/",
        audit_views.project_audit_export,
        name="project_audit_export",
    ),
    path("project/<int:project_id>/members/invite/", invites.invite_create, name="invite_create"),
    path(
        "project/<int:project_id>/members/invites/<int:invite_id>/",
        invites.invite_update,
        name="invite_update",
    ),
    path("project/<int:project_id>/members/new-user/", invites.member_create_user, name="member_create_user"),
    path("project/<int:project_id>/roles/", custom_roles.project_roles, name="project_roles"),
    path(
        "project/<int:project_id>/roles/<int:role_id>/",
        custom_roles.custom_role_update,
        name="custom_role_update",
    ),
    path("invite/<str:token>/", invites.invite_accept, name="invite_accept"),
    path("project/<int:project_id>/plan/", plan_views.plan, name="plan"),
    path("project/<int:project_id>/plan/events/new/", plan_views.plan_event_new, name="plan_event_new"),
    path("project/<int:project_id>/plan/events/<int:event_id>/", plan_views.plan_event, name="plan_event"),
    path(
        "project/<int:project_id>/plan/person-properties/",
        plan_views.plan_person_properties,
        name="plan_person_properties",
    ),
    path("project/<int:project_id>/plan/export.yaml", plan_views.plan_export, name="plan_export"),
    path("project/<int:project_id>/plan/import/", plan_views.plan_import, name="plan_import"),
    path(
        "project/<int:project_id>/plan/discovered/", discovery_views.plan_discovered, name="plan_discovered"
    ),
    path("project/<int:project_id>/plan/quarantine/", plan_views.plan_quarantine, name="plan_quarantine"),
    path(
        "api/projects/<int:project_id>/properties/",
        suggestion_views.property_names,
        name="api_property_names",
    ),
    path(
        "api/projects/<int:project_id>/properties/values/",
        suggestion_views.property_values,
        name="api_property_values",
    ),
    path("project/<int:project_id>/deletions/", deletions.project_deletions, name="project_deletions"),
]
