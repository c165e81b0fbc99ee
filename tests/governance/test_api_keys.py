"""Personal API keys (governance/views.py): shown once, stored hashed, revocable."""

from django.urls import reverse

from analytics_app.models import PersonalAPIKey


def test_api_keys_shown_once_and_revocable(alice_client, alice):
    page = alice_client.post(reverse("api_keys"), {"label": "ci"})
    assert page.status_code == 200
    key = PersonalAPIKey.objects.get(user=alice, label="ci")
    raw = page.content.decode().split('id="new-key">')[1].split("<")[0]
    assert PersonalAPIKey.authenticate(raw) == alice
    again = alice_client.get(reverse("api_keys"))
    assert raw.encode() not in again.content
    alice_client.post(reverse("api_keys"), {"action": "revoke", "key_id": key.pk})
    assert PersonalAPIKey.authenticate(raw) is None
    assert alice_client.post(reverse("api_keys"), {"label": ""}).status_code == 400
