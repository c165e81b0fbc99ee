from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views

handler400 = "analytics_app.views.bad_request"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("governance.urls_accounts")),
    path("health/", views.health, name="health"),
    path("projects/new/", views.project_new, name="project_new"),
    path("projects/switch/", views.switch_project, name="switch_project"),
    path("project/<int:project_id>/", views.project_overview, name="project_overview"),
    path("project/<int:project_id>/settings/", views.project_settings, name="project_settings"),
    path("api/projects/<int:project_id>/query/", views.query, name="api_query"),
    path("api/schema/", views.api_schema, name="api_schema"),
    path("admin/", admin.site.urls),
    path("", include("governance.urls")),
    path("", include("ingestion.urls")),
    path("", include("trends.urls")),
    path("", include("explorer.urls")),
    path("", include("dashboards.urls")),
    path("", include("funnels.urls")),
    path("", include("cohorts.urls")),
    path("", include("retention.urls")),
    path("", include("paths.urls")),
    path("", include("alerts.urls")),
    path("", include("replay.urls")),
    path("", include("insights.urls")),
]
