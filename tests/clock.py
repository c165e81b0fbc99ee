"""A test module's "now", re-read when the module's first test starts.

A module that seeds data relative to the wall clock and queries relative ranges (``-7d``, a
retention cohort, "the last hour") must take both from the same moment. A constant taken at
import is stale by the time a long run reaches the module: a run that starts at 23:58 and
reaches the module at 00:25 seeds "five days ago" from yesterday while the app resolves
``-6d`` from today, and every cohort is off by one. So a module declares its clock here::

    NOW = at_test_time(lambda now: now.replace(microsecond=0))

which returns the value for import-time uses, and the module-scoped autouse fixture
``module_clock`` in tests/conftest.py sets every module attribute bound to that value to
``fn(now)`` before the module's first fixture runs (module-scoped fixtures included), and
restores it after the module's last test.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

_CLOCKS: dict[str, list[tuple[Callable[[dt.datetime], Any], Any]]] = {}


def at_test_time(fn: Callable[[dt.datetime], Any]) -> Any:
    """``fn(now)`` now, and again when the defining module's first test starts."""
    value = fn(dt.datetime.now(dt.UTC))
    _CLOCKS.setdefault(fn.__module__, []).append((fn, value))
    return value


def rebased(module) -> dict[str, Any]:
    """The module's clock attributes as of now: {attribute name: fn(now)}."""
    now = dt.datetime.now(dt.UTC)
    fresh = {}
    for fn, value in _CLOCKS.get(module.__name__, []):
        names = [name for name, bound in vars(module).items() if bound is value]
        fresh.update(dict.fromkeys(names, fn(now)))
    return fresh
