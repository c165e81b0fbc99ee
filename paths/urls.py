from django.urls import path

from . import views

app_name = "paths"
urlpatterns = [
    path("project/<int:project_id>/paths/", views.paths, name="paths"),
    path("project/<int:project_id>/paths/top/", views.top_paths, name="top_paths"),
    path("project/<int:project_id>/paths/nodes/", views.path_nodes, name="path_nodes"),
    path("project/<int:project_id>/paths/sessions/", views.paths_sessions, name="paths_sessions"),
    path("project/<int:project_id>/paths/cleaning/", views.cleaning_rules, name="cleaning_rules"),
    path(
        "project/<int:project_id>/paths/cleaning/<int:rule_id>/delete/",
        views.cleaning_rule_delete,
        name="cleaning_rule_delete",
    ),
    path("project/<int:project_id>/paths/cleaning/preview/", views.cleaning_preview, name="cleaning_preview"),
]
