"""A builder page's one way from its request to a spec and the form it shows.

    request --(?q=<spec JSON> | the form's GET fields)--> JSON body --Spec.from_json--> spec
    spec --state_from_spec--> the form            spec --runner(s)--> the result

The body is the spec's own JSON (the JSON API's body, a saved insight's query), so a link,
a saved insight's "Open in builder" and the form's fields are validated by the same single
`from_json` call. Input it rejects is shown back as it was submitted, with the reasons.
Each builder's forms.py supplies the three conversions and calls `parse_request`.
"""

from __future__ import annotations

from collections.abc import Callable

from analytics_app.errors import BadRequest

from .registry import decode_q


def parse_request(
    query,
    parse: Callable[[dict], object],
    *,
    body_from_query: Callable[[object], dict],
    state_from_spec: Callable[[object], dict],
    state_from_query: Callable[[object], dict],
    default_query=None,
    form_fields: tuple[str, ...] = (),
) -> tuple[dict, object | None, BadRequest | None]:
    """(the form's state, spec or None, BadRequest or None) for a builder page's GET.

    `?q=<spec JSON>` is the body as it is; otherwise `body_from_query` makes the body from
    the form's fields (raising BadRequest for fields that are not even the right type).
    A request with neither `q` nor any of `form_fields` (a first visit) is `default_query`,
    the fields of the builder's default form. `parse` (the spec's `from_json`) runs once.
    On success the form is rendered from the spec; on a rejection it shows the submitted
    fields (the default form for a rejected `?q=`).
    """
    from_link = "q" in query
    if not from_link and form_fields and not any(name in query for name in form_fields):
        query = default_query
    try:
        spec = parse(decode_q(query.get("q", "")) if from_link else body_from_query(query))
    except BadRequest as exc:
        shown = default_query if from_link and default_query is not None else query
        return state_from_query(shown), None, exc
    return state_from_spec(spec), spec, None
