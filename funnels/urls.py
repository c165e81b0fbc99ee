from django.urls import path

from . import views

app_name = "funnels"
urlpatterns = [
    path("project/<int:project_id>/funnels/", views.funnel, name="funnel"),
    path("project/<int:project_id>/funnels/actors/", views.actors, name="actors"),
]
