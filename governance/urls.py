from django.urls import path

from . import audit_views, keys, views

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
]
