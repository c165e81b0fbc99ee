"""tests/clock.py: a module's clock is re-read when its first test starts."""

import datetime as dt
import itertools
import types

from tests import clock
from tests.clock import at_test_time

IMPORTED_VALUE = at_test_time(lambda now: now.replace(microsecond=0))
IMPORTED_AT = dt.datetime.now(dt.UTC)
ALIAS = IMPORTED_VALUE


def test_this_modules_clock_was_re_read_after_import():
    # module_clock (tests/conftest.py) replaced both names bound to the import-time value
    assert IMPORTED_VALUE is ALIAS
    assert IMPORTED_VALUE is not clock._CLOCKS[__name__][0][1]
    assert IMPORTED_VALUE >= IMPORTED_AT.replace(microsecond=0)


def test_rebased_gives_every_name_bound_to_a_clock_its_fresh_value():
    ticks = itertools.count()
    module = types.ModuleType("tests.fake_clock_module")

    def fn(now):
        return now.replace(year=2000 + next(ticks))

    fn.__module__ = module.__name__
    module.NOW = at_test_time(fn)
    module.SAME = module.NOW
    module.OTHER = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # equal year, not the clock's object
    fresh = clock.rebased(module)
    assert set(fresh) == {"NOW", "SAME"}
    assert fresh["NOW"] is fresh["SAME"] and fresh["NOW"].year == 2001
    assert clock.rebased(types.ModuleType("tests.no_clock")) == {}
