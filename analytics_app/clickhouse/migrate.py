"""Versioned ClickHouse schema migrations.

Each module in analytics_app/clickhouse/migrations/ named NNNN_name.py defines
`operations(ddl) -> list[str]` (and optionally INSERTABLE, the tables the app may
insert into). Statements are idempotent (IF NOT EXISTS), so a migration that was
cut off half-way is safely re-run. Applied migrations are recorded in the
ClickHouse table `sextant_migrations`.

With CLICKHOUSE_CLUSTER set, `ddl` emits ON CLUSTER statements, Replicated*
engines for the local tables and a Distributed table under the public name.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field

from . import INSERTABLE_TABLES, command, query
from . import migrations as migrations_pkg


@dataclass
class DDL:
    """Builds CREATE statements for a single server or a cluster."""

    cluster: str = ""

    @property
    def on_cluster(self) -> str:
        return f" ON CLUSTER `{self.cluster}`" if self.cluster else ""

    def local_name(self, name: str) -> str:
        return f"{name}_local" if self.cluster else name

    def create_table(
        self,
        name: str,
        columns: str,
        *,
        engine: str = "MergeTree",
        engine_args: str = "",
        order_by: str,
        partition_by: str | None = None,
        primary_key: str | None = None,
        ttl: str | None = None,
        settings: str | None = None,
        sharding_key: str = "rand()",
    ) -> list[str]:
        local = self.local_name(name)
        if self.cluster:
            zk = f"'/clickhouse/tables/{{shard}}/{{database}}/{local}', '{{replica}}'"
            engine_sql = f"Replicated{engine}({zk}{', ' + engine_args if engine_args else ''})"
        else:
            engine_sql = f"{engine}({engine_args})"
        parts = [
            f"CREATE TABLE IF NOT EXISTS {local}{self.on_cluster}\n(\n{columns.strip()}\n)\nENGINE = {engine_sql}"
        ]
        if partition_by:
            parts.append(f"PARTITION BY {partition_by}")
        parts.append(f"ORDER BY {order_by}")
        if primary_key:
            parts.append(f"PRIMARY KEY {primary_key}")
        if ttl:
            parts.append(f"TTL {ttl}")
        if settings:
            parts.append(f"SETTINGS {settings}")
        statements = ["\n".join(parts)]
        if self.cluster:
            statements.append(
                f"CREATE TABLE IF NOT EXISTS {name}{self.on_cluster} AS {local}\n"
                f"ENGINE = Distributed(`{self.cluster}`, currentDatabase(), {local}, {sharding_key})"
            )
        return statements

    def create_materialized_view(self, name: str, to_table: str, select: str) -> list[str]:
        """An MV reads the local source table and writes the (local) target table."""
        return [
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {name}{self.on_cluster} TO {self.local_name(to_table)}\nAS {select.strip()}"
        ]

    def fill_from_events(self, table: str, view: str, select_sql) -> list[str]:
        """A table derived from `events`, row for row: emptied (so a migration cut off
        half-way re-runs exactly), then the view `view` that fills it at every insert
        (`select_sql(source)` over the local events table), then the events already stored
        (through the public name). Assumes no insert runs during the migration."""
        return [
            f"TRUNCATE TABLE IF EXISTS {self.local_name(table)}{self.on_cluster}",
            *self.create_materialized_view(view, table, select_sql(self.local_name("events"))),
            f"INSERT INTO {table} {select_sql('events')}",
        ]

    def drop_view(self, name: str) -> list[str]:
        return [f"DROP VIEW IF EXISTS {name}{self.on_cluster}"]

    def drop_table(self, name: str) -> list[str]:
        """A table (on a cluster: the Distributed table, then the local tables below it)."""
        distributed = [f"DROP TABLE IF EXISTS {name}{self.on_cluster}"] if self.cluster else []
        return distributed + [f"DROP TABLE IF EXISTS {self.local_name(name)}{self.on_cluster}"]

    def alter(self, table: str, action: str) -> list[str]:
        return [f"ALTER TABLE {self.local_name(table)}{self.on_cluster} {action}"]

    def alter_both(self, table: str, action: str) -> list[str]:
        """ALTER the local table, and on a cluster also the Distributed table above it
        (a column the Distributed table must show too)."""
        statements = self.alter(table, action)
        if self.cluster:
            statements.append(f"ALTER TABLE {table}{self.on_cluster} {action}")
        return statements


@dataclass
class Migration:
    name: str
    operations: object
    insertable: list[str] = field(default_factory=list)


def discover() -> list[Migration]:
    found = []
    for info in sorted(pkgutil.iter_modules(migrations_pkg.__path__), key=lambda m: m.name):
        if not info.name[:4].isdigit():
            continue
        module = importlib.import_module(f"{migrations_pkg.__name__}.{info.name}")
        found.append(Migration(info.name, module.operations, list(getattr(module, "INSERTABLE", []))))
    return found


def register_insertable() -> None:
    for migration in discover():
        INSERTABLE_TABLES.update(migration.insertable)


def statements_for(migration: Migration, cluster: str = "") -> list[str]:
    return list(migration.operations(DDL(cluster)))


def applied() -> set[str]:
    result = query("SELECT name FROM sextant_migrations", global_=True)
    return {row[0] for row in result.rows}


def run(cluster: str = "", log=lambda msg: None) -> list[str]:
    """Apply every migration not yet recorded. Returns the names applied now."""
    ddl = DDL(cluster)
    command(
        f"CREATE TABLE IF NOT EXISTS sextant_migrations{ddl.on_cluster}"
        " (name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))"
        " ENGINE = ReplacingMergeTree ORDER BY name",
        global_=True,
    )
    done = applied()
    ran = []
    for migration in discover():
        INSERTABLE_TABLES.update(migration.insertable)
        if migration.name in done:
            continue
        for statement in statements_for(migration, cluster):
            command(statement, global_=True)
        command(
            "INSERT INTO sextant_migrations (name) VALUES ({name:String})",
            {"name": migration.name},
            global_=True,
        )
        log(f"Applied ClickHouse migration {migration.name}")
        ran.append(migration.name)
    return ran
