"""Sections shown in the project navigation. Each app registers its own when it
exists, so the menu never lists a section that is not built; a section is shown
only to roles with its permission (the menu lists what the role may use). An insight
builder's section is derived from its kind's declaration (`insights.registry.declare`)."""

from __future__ import annotations

from dataclasses import dataclass

from governance.roles import Permission


@dataclass(frozen=True)
class Section:
    label: str
    url_name: str
    permission: str
    order: int = 100
    # The insight kind whose declaration this entry derives from (insights.registry.declare).
    declared_by: str = ""


SECTIONS: list[Section] = [
    Section("Overview", "project_overview", Permission.VIEW_PROJECT, 0),
    # Every member may read the settings (and governance's members page), but only
    # managers can change anything there, so the menu offers them to those roles.
    Section("Settings", "project_settings", Permission.MANAGE_PROJECT, 910),
]


def register(section: Section) -> None:
    if all(s.url_name != section.url_name for s in SECTIONS):
        SECTIONS.append(section)
        SECTIONS.sort(key=lambda s: s.order)
