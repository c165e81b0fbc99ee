"""The ingestion-warnings page shows when each payload was quarantined in the project's zone
(issue 12, part 4): the column header names the zone and each time is local, 14 hours
ahead of UTC for Pacific/Kiritimati."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from django.urls import reverse

from governance.roles import Role

from .conftest import event, send

KIRI = "Pacific/Kiritimati"


def test_quarantined_payload_times_are_local(alice_client, alice, make_project):
    project = make_project("Atoll", members={alice: Role.ADMIN}, time_zone=KIRI)
    send(alice_client, "/e/", {"api_key": project.api_token, "batch": [event("bad", "anonymous")]})
    html = alice_client.get(reverse("ingestion_warnings", kwargs={"project_id": project.pk})).content.decode()
    assert f"Time ({KIRI})" in html and "Time (UTC)" not in html
    (local_iso, utc_text, shown) = re.search(
        r'<time datetime="([^"]+)" title="([^"]+) UTC">([^<]+)</time>', html
    ).groups()
    utc = dt.datetime.strptime(utc_text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)
    local = utc.astimezone(ZoneInfo(KIRI))
    assert local_iso.endswith("+14:00") and dt.datetime.fromisoformat(local_iso).replace(microsecond=0) == utc
    assert shown == f"{local:%Y-%m-%d %H:%M:%S}"
    assert abs(dt.datetime.now(dt.UTC) - utc) < dt.timedelta(hours=1)  # it is the quarantine time
