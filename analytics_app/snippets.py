"""Copy-paste SDK snippets that point posthog-js, posthog-python and curl at this host."""

from __future__ import annotations

import json

from django.conf import settings


def public_url(request) -> str:
    return (settings.SEXTANT_PUBLIC_URL or request.build_absolute_uri("/")).rstrip("/")


def capture_snippets(request, project) -> dict[str, str]:
    host = public_url(request)
    token = project.api_token
    return {
        "js": (
            "npm install posthog-js\n\n"
            "import posthog from 'posthog-js'\n\n"
            f"posthog.init('{token}', {{\n"
            f"    api_host: {json.dumps(host)},\n"
            "    person_profiles: 'identified_only',\n"
            "})"
        ),
        "python": (
            "pip install posthog\n\n"
            "from posthog import Posthog\n\n"
            f"posthog = Posthog('{token}', host='{host}')\n"
            "posthog.capture('order_completed', distinct_id='user_123', properties={'revenue': 42.5})"
        ),
        "curl": (
            f"curl -X POST {host}/batch/ -H 'Content-Type: application/json' -d '"
            + json.dumps(
                {
                    "api_key": token,
                    "batch": [
                        {"event": "signed_up", "distinct_id": "user_123", "properties": {"plan": "pro"}}
                    ],
                }
            )
            + "'"
        ),
    }
