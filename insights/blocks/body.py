"""Reading a query body: every problem is collected, then raised as one BadRequest."""

from __future__ import annotations

from analytics_app.errors import BadRequest


class BodyErrors(dict):
    """The problems found in one JSON query body, by field.

    `check` refuses a body that is not an object and notes unknown fields and a wrong
    `kind`; parsers add what they find (`errors["field"] = "reason"`, or `attempt(fn)`
    for a block that raises BadRequest) and end with `raise_if_any()`.
    """

    def __init__(self, label: str):
        super().__init__()
        self.label = label

    @classmethod
    def check(cls, body, known_fields, *, kind: str | None, label: str | None = None) -> BodyErrors:
        label = label or kind
        if not isinstance(body, dict):
            raise BadRequest(f"Invalid {label}.", {"body": "must be a JSON object"})
        errors = cls(label)
        unknown = set(body) - set(known_fields)
        if unknown:
            errors["body"] = f"unknown fields: {', '.join(sorted(unknown))}"
        if kind is not None and body.get("kind", kind) != kind:
            errors["kind"] = f"must be {kind}"
        return errors

    def attempt(self, fn, *args, default=None):
        """`fn(*args)`, or `default` with the BadRequest's reasons noted."""
        try:
            return fn(*args)
        except BadRequest as exc:
            self.update(exc.errors or {"body": exc.message})
            return default

    def raise_if_any(self) -> None:
        if self:
            raise BadRequest(f"Invalid {self.label}.", dict(self))
