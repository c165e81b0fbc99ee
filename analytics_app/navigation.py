"""Sections shown in the project navigation. Each app registers its own when it
exists, so the menu never lists a section that is not built."""

from __future__ import annotations

from dataclasses import dataclass

from .models import Permission


@dataclass(frozen=True)
class Section:
    label: str
    url_name: str
    permission: str
    order: int = 100


SECTIONS: list[Section] = [
    Section("Overview", "project_overview", Permission.VIEW_PROJECT, 0),
    Section("Members", "project_members", Permission.VIEW_PROJECT, 900),
    Section("Settings", "project_settings", Permission.VIEW_PROJECT, 910),
]


def register(section: Section) -> None:
    if all(s.url_name != section.url_name for s in SECTIONS):
        SECTIONS.append(section)
        SECTIONS.sort(key=lambda s: s.order)
