from __future__ import annotations


class SQLBuilder:
    """Collects bound values; `bind(value, type)` returns the placeholder to put in SQL.

    b = SQLBuilder(project_id=7)
    where = f"event = {b.bind('signup', 'String')}"   # -> "event = {p1:String}"
    ch.query(sql, b.params)
    """

    def __init__(self, project_id: int):
        self.params: dict = {"project_id": project_id}
        self._n = 0
        # The project's person overrides, looked up by the first EventSource built with
        # this builder (insights.blocks.source.current_person).
        self.overrides = None

    def bind(self, value, ch_type: str) -> str:
        self._n += 1
        name = f"p{self._n}"
        self.params[name] = value
        return "{" + name + ":" + ch_type + "}"
