"""Every builder reopens from `?q=<spec JSON>` and answers bad `q` with a 400 and the reason."""

import pytest
from django.urls import reverse

from analytics_app.errors import BadRequest
from insights.registry import MAX_Q_LENGTH, decode_q


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"text"', "{" + " " * MAX_Q_LENGTH + "}"])
def test_decode_q_rejects_with_a_reason(raw):
    with pytest.raises(BadRequest) as err:
        decode_q(raw)
    assert "q" in err.value.errors


@pytest.mark.parametrize("name", ["trends:trends", "funnels:funnel", "retention:retention", "paths:paths"])
@pytest.mark.parametrize("q", ["{not json", "[1]"])
def test_every_builder_answers_a_bad_q_with_400(alice_client, project, name, q):
    response = alice_client.get(reverse(name, kwargs={"project_id": project.pk}), {"q": q})
    assert response.status_code == 400
