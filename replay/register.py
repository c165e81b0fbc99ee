"""Registration of session replay with the navigation. Called from ReplayConfig.ready()."""

from __future__ import annotations

from analytics_app.models import Permission


def register() -> None:
    from analytics_app import navigation  # noqa: PLC0415

    navigation.register(navigation.Section("Recordings", "replay:list", Permission.VIEW_RECORDINGS, 40))
