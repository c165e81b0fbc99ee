from django.urls import path

from . import views

app_name = "cohorts"
urlpatterns = [
    path("project/<int:project_id>/cohorts/", views.cohorts, name="cohorts"),
    path("project/<int:project_id>/cohorts/<int:cohort_id>/", views.cohort, name="cohort"),
    path(
        "project/<int:project_id>/cohorts/<int:cohort_id>/export.csv",
        views.cohort_export,
        name="cohort_export",
    ),
    path("project/<int:project_id>/people/<str:kind>/cohort/", views.from_people, name="from_people"),
    path("api/projects/<int:project_id>/cohorts/", views.api_cohorts, name="api_cohorts"),
    path("api/projects/<int:project_id>/cohorts/<int:cohort_id>/", views.api_cohort, name="api_cohort"),
    path(
        "api/projects/<int:project_id>/cohorts/<int:cohort_id>/persons/",
        views.api_cohort_persons,
        name="api_cohort_persons",
    ),
]
