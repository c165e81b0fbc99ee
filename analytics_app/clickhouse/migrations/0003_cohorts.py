"""Cohort membership.

cohort_people
  One row per (cohort, version, person). A refresh inserts the whole membership
  as version N+1 and only then flips Cohort.version in Django, so queries (which
  bind the committed version) never read a half-written cohort. Old versions are
  deleted after the flip (lightweight DELETE) and are harmless until then.
"""

INSERTABLE = ["cohort_people"]


def operations(ddl):
    return [
        *ddl.create_table(
            "cohort_people",
            """
    project_id UInt32,
    cohort_id UInt64,
    version UInt64,
    person_id UUID
""",
            order_by="(project_id, cohort_id, version, person_id)",
            sharding_key="cityHash64(person_id)",
        ),
    ]
