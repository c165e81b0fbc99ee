"""Routes of the replay app.

The recordings list and its API live in views_list.py; the player, the snapshots API
and the player's side panels in views_player.py.
"""

from django.urls import path

from . import views_list, views_player

app_name = "replay"
urlpatterns = [
    path("project/<int:project_id>/replay/", views_list.recordings, name="list"),
    path("api/projects/<int:project_id>/recordings/", views_list.api_recordings, name="api_list"),
    path("project/<int:project_id>/replay/<str:session_id>", views_player.player, name="player"),
    path("replay/frame/", views_player.frame, name="frame"),
    path(
        "api/projects/<int:project_id>/recordings/<str:session_id>/snapshots/",
        views_player.api_snapshots,
        name="api_snapshots",
    ),
]
