from django.urls import path

from . import views

app_name = "explorer"
urlpatterns = [
    path("project/<int:project_id>/events/", views.events, name="events"),
    path("project/<int:project_id>/events/export.csv", views.events_export, name="events_export"),
    path("project/<int:project_id>/events/<uuid:event_uuid>/", views.event_detail, name="event"),
    path("project/<int:project_id>/persons/", views.persons, name="persons"),
    path("project/<int:project_id>/persons/<uuid:person_id>/", views.person_detail, name="person"),
    path("api/projects/<int:project_id>/persons/", views.api_persons, name="api_persons"),
    path("api/projects/<int:project_id>/persons/<str:person_id>/", views.api_person, name="api_person"),
]
