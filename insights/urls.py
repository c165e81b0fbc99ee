from django.urls import path

from . import views_people

app_name = "insights"
urlpatterns = [
    path(
        "project/<int:project_id>/people/<str:kind>/export.csv",
        views_people.people_export,
        name="people_export",
    ),
    path(
        "project/<int:project_id>/insights/export/<str:kind>.<str:fmt>",
        views_people.result_export,
        name="result_export",
    ),
]
