from django.urls import path

from . import shared, views

app_name = "dashboards"

D = "project/<int:project_id>/dashboards/"
S = "project/<int:project_id>/insights/saved/"

urlpatterns = [
    path(S, views.insights, name="insights"),
    path(S + "new/", views.insight_new, name="insight_new"),
    path(S + "<int:insight_id>/", views.insight, name="insight"),
    path(S + "<int:insight_id>/delete/", views.insight_delete, name="insight_delete"),
    path(
        S + "<int:insight_id>/add-to-dashboard/",
        views.insight_add_to_dashboard,
        name="insight_add_to_dashboard",
    ),
    path(S + "<int:insight_id>/share/", views.insight_share, name="insight_share"),
    path(D, views.dashboards, name="dashboards"),
    path(D + "<int:dashboard_id>/", views.dashboard, name="dashboard"),
    path(D + "<int:dashboard_id>/delete/", views.dashboard_delete, name="dashboard_delete"),
    path(D + "<int:dashboard_id>/tiles/<int:tile_id>/", views.dashboard_tile, name="dashboard_tile"),
    path(D + "<int:dashboard_id>/tiles/<int:tile_id>/edit/", views.tile_update, name="tile_update"),
    path(D + "<int:dashboard_id>/share/", views.dashboard_share, name="dashboard_share"),
    # Public, read-only: the token is the only credential (dashboards/shared.py).
    path("shared/<str:token>/", shared.shared, name="shared"),
    path("embed/<str:token>/", shared.embed, name="embed"),
]
