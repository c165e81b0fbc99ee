"""`manage.py migrate` applies Django's migrations, then ClickHouse's."""

from django.core.management.commands.migrate import Command as DjangoMigrate

from analytics_app.clickhouse import migrate as ch_migrate


class Command(DjangoMigrate):
    help = "Apply Django migrations, then the versioned ClickHouse migrations (see migrate_clickhouse)."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--skip-clickhouse", action="store_true", help="Only run Django's migrations.")

    def handle(self, *args, **options):
        super().handle(*args, **options)
        if options.get("skip_clickhouse") or options.get("plan") or options.get("check_unapplied"):
            return
        from django.conf import settings  # noqa: PLC0415

        verbose = options.get("verbosity", 1) >= 1
        ran = ch_migrate.run(
            cluster=settings.CLICKHOUSE_CLUSTER, log=self.stdout.write if verbose else (lambda m: None)
        )
        if verbose and not ran:
            self.stdout.write("ClickHouse schema is up to date.")
