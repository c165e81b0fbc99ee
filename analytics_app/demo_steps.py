"""Steps that apps add to `manage.py demo_setup`, run after the demo events exist.

An app registers fn(project, options) -> str | None in its AppConfig.ready();
demo_setup runs the steps in registration order with its parsed options and prints
the line each returns. The core imports no app: replay registers its demo recordings.
"""

from __future__ import annotations

from collections.abc import Callable

steps: list[Callable] = []


def register(step: Callable) -> None:
    if step not in steps:
        steps.append(step)
