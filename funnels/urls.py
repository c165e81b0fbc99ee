from django.urls import path

from . import views

app_name = "funnels"
urlpatterns = [
    path("project/<int:project_id>/funnels/", views.funnel, name="funnel"),
    path("project/<int:project_id>/funnels/actors/", views.actors, name="actors"),
    path("project/<int:project_id>/funnels/time-to-convert/", views.time_to_convert, name="time_to_convert"),
    path(
        "project/<int:project_id>/funnels/conversion-trend/", views.conversion_trend, name="conversion_trend"
    ),
    path("project/<int:project_id>/funnels/correlation/", views.correlation, name="correlation"),
    path(
        "project/<int:project_id>/funnels/correlation/actors/",
        views.correlation_actors,
        name="correlation_actors",
    ),
]
