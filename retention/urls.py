from django.urls import path

from . import views

app_name = "retention"
urlpatterns = [
    path("project/<int:project_id>/retention/", views.retention, name="retention"),
    path("project/<int:project_id>/retention/persons/", views.retention_persons, name="retention_persons"),
]
