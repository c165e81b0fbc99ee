from django.urls import path

from . import views

app_name = "trends"
urlpatterns = [
    path("project/<int:project_id>/insights/trends/", views.trends, name="trends"),
    path("project/<int:project_id>/insights/trends/persons/", views.trends_persons, name="trends_persons"),
]
