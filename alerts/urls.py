from django.urls import path

from . import views

app_name = "alerts"
urlpatterns = [
    path("project/<int:project_id>/alerts/", views.alerts, name="alerts"),
    path("project/<int:project_id>/alerts/new/", views.alert_new, name="alert_new"),
    path("project/<int:project_id>/alerts/notifications/", views.notifications, name="notifications"),
    path("project/<int:project_id>/alerts/<int:alert_id>/", views.alert, name="alert"),
    path("project/<int:project_id>/alerts/<int:alert_id>/edit/", views.alert_edit, name="alert_edit"),
    path("project/<int:project_id>/alerts/<int:alert_id>/snooze/", views.alert_snooze, name="alert_snooze"),
    path("project/<int:project_id>/alerts/<int:alert_id>/delete/", views.alert_delete, name="alert_delete"),
]
