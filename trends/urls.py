from django.urls import path

from . import annotations, views

app_name = "trends"
urlpatterns = [
    path("project/<int:project_id>/insights/trends/", views.trends, name="trends"),
    path("project/<int:project_id>/insights/trends/persons/", views.trends_persons, name="trends_persons"),
    path("project/<int:project_id>/insights/annotations/", annotations.annotations, name="annotations"),
    path(
        "project/<int:project_id>/insights/annotations/<int:annotation_id>/delete/",
        annotations.annotation_delete,
        name="annotation_delete",
    ),
]
