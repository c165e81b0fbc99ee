"""Funnels: how many actors (persons, sessions, or persons x a property) go through
a sequence of steps within a conversion window. docs/funnels.md has the semantics.

spec.py (FunnelSpec) -> queries/ (runners, one module per order) -> charts.py (plotly
figures);
views.py serves the builder page and its drill-down. FunnelsConfig.ready registers
the navigation section, the query kinds and the insight kind (register.py).
"""
