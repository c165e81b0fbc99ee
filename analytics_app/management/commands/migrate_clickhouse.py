from django.conf import settings
from django.core.management.base import BaseCommand

from analytics_app.clickhouse import migrate as ch_migrate


class Command(BaseCommand):
    help = "Apply (or --print) the versioned ClickHouse migrations. `migrate` runs this too."

    def add_arguments(self, parser):
        parser.add_argument("--print", action="store_true", help="Print the DDL instead of running it.")
        parser.add_argument(
            "--cluster",
            default=None,
            help="Emit ON CLUSTER DDL for this cluster (default: CLICKHOUSE_CLUSTER).",
        )

    def handle(self, *args, **options):
        cluster = settings.CLICKHOUSE_CLUSTER if options["cluster"] is None else options["cluster"]
        if options["print"]:
            for migration in ch_migrate.discover():
                self.stdout.write(f"-- {migration.name}")
                for statement in ch_migrate.statements_for(migration, cluster):
                    self.stdout.write(statement + ";\n")
            return
        ran = ch_migrate.run(cluster=cluster, log=self.stdout.write)
        if not ran:
            self.stdout.write("ClickHouse schema is up to date.")
