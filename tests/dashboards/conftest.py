"""A fake insight kind so these tests do not depend on any real builder.

FakeQuery's spec is {"n": int, "event"?: str, "date_from"?: str, "date_to"?: str};
its runner counts the project's `event` rows in ClickHouse and returns n * 2 with
that count; every call is recorded in `fake_kind.calls`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils.html import escape

from analytics_app import clickhouse as ch
from analytics_app.errors import BadRequest
from dashboards.models import Dashboard, DashboardTile, Insight
from insights import registry


@dataclass(frozen=True)
class FakeSpec:
    n: int
    event: str = "fake_event"
    date_from: str | None = None
    date_to: str | None = None


@dataclass(frozen=True)
class FakeResult:
    value: int
    events: int


class FakeKind:
    def __init__(self):
        self.calls: list[FakeSpec] = []
        self.kind = registry.InsightKind(
            kind="FakeQuery",
            label="Fake",
            builder_url_name="project_overview",
            parse=self.parse,
            run=self.run,
            to_json=self.to_json,
            render_tile=self.render_tile,
            with_date_range=lambda spec, date_from, date_to: dataclasses.replace(
                spec, date_from=date_from, date_to=date_to
            ),
        )

    @staticmethod
    def parse(body, project):
        n = body.get("n")
        if not isinstance(n, int) or isinstance(n, bool):
            raise BadRequest("Invalid FakeQuery.", {"n": "must be an integer"})
        return FakeSpec(n, body.get("event", "fake_event"), body.get("date_from"), body.get("date_to"))

    @staticmethod
    def to_json(spec: FakeSpec) -> dict:
        return {k: v for k, v in dataclasses.asdict(spec).items() if v is not None}

    def run(self, project, spec: FakeSpec) -> FakeResult:
        self.calls.append(spec)
        count = ch.query(
            "SELECT count() FROM events WHERE project_id = {project_id:UInt32} AND event = {event:String}",
            {"project_id": project.pk, "event": spec.event},
        ).scalar()
        return FakeResult(spec.n * 2, int(count))

    @staticmethod
    def render_tile(request, project, spec, result: FakeResult) -> str:
        return f'<div class="fake-tile">value={result.value} events={result.events} from={escape(spec.date_from or "")}</div>'


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def fake_kind(monkeypatch):
    fake = FakeKind()
    monkeypatch.setitem(registry.KINDS, "FakeQuery", fake.kind)
    return fake


@pytest.fixture
def make_insight(fake_kind, project, alice):
    def make(name="Fake insight", n=21, **spec):
        return Insight.objects.create(
            project=project, name=name, kind="FakeQuery", spec={"n": n, **spec}, created_by=alice
        )

    return make


@pytest.fixture
def dashboard(project, alice):
    return Dashboard.objects.create(project=project, name="Growth", created_by=alice)


@pytest.fixture
def tile(dashboard, make_insight):
    return DashboardTile.objects.create(dashboard=dashboard, insight=make_insight(), order=0)


def url(name, project, **kwargs):
    return reverse(f"dashboards:{name}", kwargs={"project_id": project.pk, **kwargs})


def spec_json(**spec) -> str:
    return json.dumps(spec)
