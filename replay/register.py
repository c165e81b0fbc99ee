"""Registration of session replay with the navigation and the ingestion writer.
Called from ReplayConfig.ready()."""

from __future__ import annotations

from governance.roles import Permission


def register() -> None:
    from analytics_app import navigation  # noqa: PLC0415
    from analytics_app.openapi import EXTRA_PATHS  # noqa: PLC0415
    from ingestion import writer  # noqa: PLC0415

    from .summary import refresh_sessions  # noqa: PLC0415
    from .views_list import RECORDINGS_PATHS  # noqa: PLC0415
    from .views_player import SNAPSHOTS_PATHS  # noqa: PLC0415

    navigation.register(navigation.Section("Recordings", "replay:list", Permission.VIEW_RECORDINGS, 40))
    EXTRA_PATHS.update(RECORDINGS_PATHS)
    EXTRA_PATHS.update(SNAPSHOTS_PATHS)
    if refresh_sessions not in writer.after_snapshots:
        writer.after_snapshots.append(refresh_sessions)
