"""Errors every layer may raise, with no HTTP in them.

`BadRequest` is client input that cannot be used. Query blocks, specs and forms raise
it; the gate (`analytics_app.access`) turns it into a 400 with the message (and a page
into a form error).
"""


class BadRequest(Exception):
    """Client input that cannot be used; becomes a 400 with this message."""

    def __init__(self, message: str, errors: dict | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}
