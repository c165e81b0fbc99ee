"""Capture endpoints at the site root (where SDKs expect them), remote config and
flags (config_views), and the ingestion-warnings page.

URL names are not namespaced: the navigation compares them with resolver_match.url_name.
"""

from django.urls import path

from . import config_views, views

CAPTURE_PATHS = ["e", "i/v0/e", "batch", "capture", "track", "engage"]

urlpatterns = [
    *[path(f"{p}/", views.capture, name="capture" if p == "e" else None) for p in CAPTURE_PATHS],
    *[path(p, views.capture) for p in CAPTURE_PATHS],
    path("s/", views.snapshots, name="capture_snapshots"),
    path("s", views.snapshots),
    path("array/<str:token>/config", config_views.remote_config, name="remote_config"),
    path("array/<str:token>/config.js", config_views.remote_config_js, name="remote_config_js"),
    path("flags/", config_views.flags, name="flags"),
    path("flags", config_views.flags),
    path("decide/", config_views.flags, name="decide"),
    path("decide", config_views.flags),  # SDKs do not follow a redirect with their POST body
    path("static/<str:version>/<str:filename>", config_views.lazy_static, name="lazy_static"),
    # posthog-js's fallback /static/<name>.js?v=<version> (WhiteNoise serves real files first).
    path("static/<str:filename>", config_views.lazy_static, name="lazy_static_unversioned"),
    path("project/<int:project_id>/ingestion/warnings/", views.ingestion_warnings, name="ingestion_warnings"),
]
