from django.urls import path

from . import views

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
    path(D, views.dashboards, name="dashboards"),
    path(D + "<int:dashboard_id>/", views.dashboard, name="dashboard"),
    path(D + "<int:dashboard_id>/delete/", views.dashboard_delete, name="dashboard_delete"),
    path(D + "<int:dashboard_id>/tiles/<int:tile_id>/", views.dashboard_tile, name="dashboard_tile"),
    path(D + "<int:dashboard_id>/tiles/<int:tile_id>/edit/", views.tile_update, name="tile_update"),
]
