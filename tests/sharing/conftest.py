import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _clear_cache():
    """Results and the share pages' rate counters live in the cache."""
    cache.clear()
    yield
    cache.clear()
