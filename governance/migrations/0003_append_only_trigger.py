"""On PostgreSQL, the audit table refuses changes in the database too.

- UPDATE: refused, except clearing `actor_id` / `project_id` (what Django's
  on_delete=SET_NULL does when the user or project is deleted; the labels stay).
- DELETE: refused, unless the transaction has set `sextant.audit_purge_before` (a
  transaction-local setting, `set_config(..., true)`, which only the retention purge,
  `AuditEntry.objects.purge_before`, sets) and the row is older than that instant.

Other databases (SQLite, the embedded mode) rely on the model and its queryset, which
refuse the same (governance/models.py). docs/audit.md explains what this does and does
not protect against.
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION governance_audit_append_only() RETURNS trigger AS $$
DECLARE
    purge_before text := current_setting('sextant.audit_purge_before', true);
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF coalesce(purge_before, '') <> '' AND OLD.created_at < purge_before::timestamptz THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit entries are append-only; only the retention purge deletes them (entry %)', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (NEW.actor_id IS NULL OR NEW.actor_id = OLD.actor_id)
       AND (NEW.project_id IS NULL OR NEW.project_id = OLD.project_id)
       AND (NEW.id, NEW.created_at, NEW.actor_label, NEW.project_name, NEW.action, NEW.target,
            NEW.before, NEW.after, NEW.ip)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.created_at, OLD.actor_label, OLD.project_name, OLD.action, OLD.target,
            OLD.before, OLD.after, OLD.ip) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit entries are append-only (entry %)', OLD.id
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS governance_audit_append_only ON governance_auditentry;
CREATE TRIGGER governance_audit_append_only
    BEFORE UPDATE OR DELETE ON governance_auditentry
    FOR EACH ROW EXECUTE FUNCTION governance_audit_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS governance_audit_append_only ON governance_auditentry;
DROP FUNCTION IF EXISTS governance_audit_append_only();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("governance", "0002_invites_custom_roles"),
    ]

    operations = [migrations.RunPython(create, drop)]
