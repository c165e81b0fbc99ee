"""Trends: counts, unique persons, active users and property aggregates over time.

spec.py (TrendsSpec) -> queries.py (TrendsQueryRunner, TrendsPersonsQueryRunner)
-> charts.py (plotly figure) ; forms.py turns the builder page's GET into the spec.
insight.py declares the kind "TrendsQuery" (TrendsConfig.ready declares it: the
navigation, the JSON query API and the insight registry derive from it).
"""
