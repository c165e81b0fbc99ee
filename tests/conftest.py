"""Shared fixtures: the real ClickHouse schema (chdb), projects, personas.

Personas follow the house style: alice is an admin of her project, bob is a
member with a narrower role, charlie is a stranger with a project of his own.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import time
import uuid
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from hypothesis import settings as hypothesis_settings

from analytics_app import clickhouse as ch
from analytics_app.clickhouse import migrate
from analytics_app.models import Membership, PersonalAPIKey, Project
from governance.roles import Role
from tests.clock import rebased

pytest_plugins = ["tests.browser"]

# Three hypothesis profiles, chosen by SEXTANT_HYPOTHESIS_PROFILE:
# - dev (the default when unset): a few new random examples per property test, so a
#   local run stays quick and still explores; run ci for the full count.
# - ci (set by .ci/run): the full example counts, derandomized, so a landing is judged
#   on the same examples every time.
# - ci-services (.ci/run's second pass, against PostgreSQL and Redis): the same
#   derandomized examples, a third of each count. That pass is there for the services
#   under the code, not for more examples: the first pass ran the full counts.
# None has a deadline: every example talks to a real ClickHouse on a shared machine,
# so its time says more about the machine than about the code. A failure found locally
# becomes an @example in the test.
DEV_MAX_EXAMPLES = 10
SERVICES_SHARE = 3
HYPOTHESIS_PROFILE = os.environ.get("SEXTANT_HYPOTHESIS_PROFILE", "dev")
hypothesis_settings.register_profile("dev", max_examples=DEV_MAX_EXAMPLES, deadline=None)
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True, deadline=None)
hypothesis_settings.register_profile(
    "ci-services",
    derandomize=True,
    print_blob=True,
    deadline=None,
    max_examples=hypothesis_settings.default.max_examples // SERVICES_SHARE,
)
hypothesis_settings.load_profile(HYPOTHESIS_PROFILE)


def examples(ci: int) -> int:
    """max_examples for a property test that sets its own: `ci` under the ci profile (or
    any other), a third of it under ci-services, at most the dev profile's number under
    dev."""
    if HYPOTHESIS_PROFILE == "dev":
        return min(ci, DEV_MAX_EXAMPLES)
    if HYPOTHESIS_PROFILE == "ci-services":
        return max(1, ci // SERVICES_SHARE)
    return ci


# The one source of ClickHouse project ids for the session (make_project and ch_project
# both draw from it). SQLite reuses ids after a rolled-back test and ClickHouse data is
# not rolled back, so every project, with or without a database row, gets an id no
# other test of the session has used. The per-process block keeps a run with
# SEXTANT_TEST_KEEP_VAR=1 clear of the ids an earlier run wrote.
_project_ids = itertools.count(1_000_000 + (os.getpid() % 1000) * 1_000_000)


class ChProject:
    """What the query runners read from a Project (id, time zone, name), without a
    database row: for tests that only write events and run queries."""

    def __init__(self, pk: int, time_zone: str = "UTC"):
        self.pk = self.id = pk
        self.time_zone = time_zone
        self.tz = ZoneInfo(time_zone)
        self.name = f"generated {pk}"


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    """PBKDF2's deliberate slowness costs seconds per persona; tests don't need it."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def spooled_requests_stored():
    """The embedded writer answers a request once it is on disk (ingestion/spool.py) when it is
    busy: whatever an earlier test sent is stored before the next test starts."""
    from ingestion.writer import writer  # noqa: PLC0415

    writer.flush()
    yield


@pytest.fixture(scope="module", autouse=True)
def module_clock(request):
    """A module's `at_test_time` clock (tests/clock.py) read when its first test starts, before
    its other module-scoped fixtures, so data it seeds and the ranges the app resolves agree even
    when the run crossed midnight since the module was imported."""
    fresh = rebased(request.module)
    if not fresh:
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        for name, value in fresh.items():
            patch.setattr(request.module, name, value)
        yield


@pytest.fixture(scope="session", autouse=True)
def clickhouse_schema():
    """Build the ClickHouse schema once per session from the real migrations."""
    migrate.run()
    yield


@pytest.fixture(scope="session")
def ch_project(clickhouse_schema):
    """ch_project(time_zone="UTC") -> a ChProject with a fresh id. Session-scoped, so
    hypothesis tests and module-scoped fixtures can call it once per example or module."""

    def make(time_zone: str = "UTC") -> ChProject:
        return ChProject(next(_project_ids), time_zone)

    return make


@pytest.fixture
def make_user(db):
    def make(email: str, password: str = "correct horse battery"):
        User = get_user_model()
        user, _ = User.objects.get_or_create(username=email, defaults={"email": email})
        user.set_password(password)
        user.save()
        return user

    return make


@pytest.fixture
def make_project(db):
    """A fresh project; its id is unique per test so ClickHouse data never collides.
    `pk` re-creates the row of a project whose ClickHouse data a module-scoped fixture
    wrote (an id from ch_project)."""

    def make(name: str = "Test project", *, members: dict | None = None, pk: int | None = None, **fields):
        project = Project.objects.create(pk=pk or next(_project_ids), name=name, **fields)
        for user, role in (members or {}).items():
            Membership.objects.create(user=user, project=project, role=role)
        return project

    return make


@pytest.fixture
def alice(make_user):
    return make_user("alice@example.com")


@pytest.fixture
def bob(make_user):
    return make_user("bob@example.com")


@pytest.fixture
def charlie(make_user):
    return make_user("charlie@example.com")


@pytest.fixture
def project(make_project, alice, bob):
    """alice is admin, bob is an exec (read-only, no PII, no recordings)."""
    return make_project("Acme", members={alice: Role.ADMIN, bob: Role.EXEC})


@pytest.fixture
def other_project(make_project, charlie):
    return make_project("Globex", members={charlie: Role.ADMIN})


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def api_key(alice):
    _, raw = PersonalAPIKey.issue(alice, "tests", read_only=False)
    return raw


class EventBuilder:
    """Write events (and their person mapping) straight into ClickHouse with explicit timestamps.

    Like ingestion, every event carries the person its distinct_id had when it was
    added, and person_distinct_ids gets a row for that (distinct_id, person) pair;
    merge() re-points a distinct_id, and flush() writes the current mapping with a
    newer version, as a merge at ingestion would.
    """

    def __init__(self, project_id: int):
        self.project_id = project_id
        self.persons: dict[str, uuid.UUID] = {}
        self.rows: list[dict] = []
        self._pairs: dict[tuple[str, uuid.UUID], int] = {}

    def person_for(self, distinct_id: str) -> uuid.UUID:
        if distinct_id not in self.persons:
            self.persons[distinct_id] = uuid.uuid5(uuid.NAMESPACE_URL, f"{self.project_id}/{distinct_id}")
        return self.persons[distinct_id]

    def _seen(self, distinct_id: str, person: uuid.UUID) -> None:
        self._pairs.setdefault((distinct_id, person), time.time_ns())

    def merge(self, distinct_id: str, into: str) -> None:
        """Point distinct_id at the person of `into` (as $identify would)."""
        self._seen(distinct_id, self.person_for(distinct_id))
        self.persons[distinct_id] = self.person_for(into)

    def add(self, event: str, distinct_id: str, timestamp: dt.datetime, properties: dict | None = None, **kw):
        props = dict(properties or {})
        person = self.person_for(distinct_id)
        self._seen(distinct_id, person)
        self.rows.append(
            {
                "uuid": kw.get("uuid") or str(uuid.uuid4()),
                "event": event,
                "distinct_id": distinct_id,
                "person_id": str(person),
                "timestamp": timestamp if timestamp.tzinfo else timestamp.replace(tzinfo=dt.UTC),
                "properties": json.dumps(props),
                "session_id": kw.get("session_id", props.get("$session_id", "")),
                "window_id": kw.get("window_id", props.get("$window_id", "")),
            }
        )
        return self

    def flush(self) -> int:
        n = 0
        if self.rows:
            cols = {k: [r[k] for r in self.rows] for k in self.rows[0]}
            cols["project_id"] = [self.project_id] * len(self.rows)
            n = ch.insert("events", cols)
        # Every pair ever used (older versions), then the current mapping (newest).
        now = time.time_ns()
        history = [(d, p, v) for (d, p), v in self._pairs.items() if self.persons.get(d) != p]
        current = [(d, p, now) for d, p in self.persons.items()]
        mapping = history + current
        ch.insert(
            "person_distinct_ids",
            {
                "project_id": [self.project_id] * len(mapping),
                "distinct_id": [d for d, _, _ in mapping],
                "person_id": [str(p) for _, p, _ in mapping],
                "version": [v for _, _, v in mapping],
            },
        )
        self.rows = []
        return n


@pytest.fixture
def events(project):
    return EventBuilder(project.id)


# The slowest modules first (CI's --durations, December 2026: total seconds per module in
# the first pass). Under `--dist loadfile` each worker takes whole modules in collection
# order; a long module collected late kept one worker busy minutes after the other had
# run out of work. The order within a module does not change.
SLOW_FIRST = (
    "tests/funnels/test_reference.py",  # 390 s (every test over both events tables)
    "tests/governance/test_person_deletion.py",  # 106 s
    "tests/ingestion/test_squash.py",  # 106 s
    "tests/analytics_app/test_pii_crawl.py",  # 90 s
    "tests/analytics_app/test_page_fit_browser.py",  # 70 s
    "tests/governance/test_filter_oracle.py",  # 50 s
    "tests/ingestion/test_merge_batching.py",  # 41 s
    "tests/trends/test_rollups.py",  # 38 s
    "tests/ingestion/test_writer_kills.py",  # 37 s
    "tests/insights/test_filters_masked.py",  # 34 s
    "tests/ingestion/test_fault_suite.py",  # 34 s
    "tests/retention/test_retention_reference.py",  # 32 s
    "tests/explorer/test_export.py",  # 29 s
    "tests/governance/test_audit.py",  # 29 s
    "tests/analytics_app/test_csp_browser.py",  # 29 s
    "tests/insights/test_builder_browser.py",  # 29 s
    "tests/paths/test_paths_reference.py",  # 29 s
    "tests/governance/test_url_matrix.py",  # 28 s
    "tests/paths/test_paths_session_table.py",  # 27 s
)


def pytest_collection_modifyitems(config, items):
    rank = {module: i for i, module in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(SLOW_FIRST)))
