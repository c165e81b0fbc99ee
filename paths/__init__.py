"""Paths: where sessions go from a start point, or how they reach an end point.

spec.py (PathsSpec) -> queries.py (PathsQueryRunner, TopPathsQueryRunner,
PathsActorsRunner, ...) -> charts.py (plotly Sankey); forms.py turns the builder
page's GET into the spec; models.py holds project-wide cleaning rules.
insight.py declares the kind "PathsQuery" (PathsConfig.ready declares it: the
navigation, the JSON query API and the insight registry derive from it).
Semantics: docs/paths.md.
"""
