"""Drain the ingestion Redis Stream into ClickHouse (production mode).

    python manage.py ingest_consumer [--name NAME] [--count 500] [--claim-idle-ms 30000]
                                     [--reclaim-every-ms 5000]

SIGTERM / SIGINT stop it gracefully: the batch in hand is stored and acknowledged
first. Entries a dead consumer left pending are taken over on a timer (every
--reclaim-every-ms, once pending for --claim-idle-ms). Run one per stream
(docs/ingestion.md).
"""

import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from analytics_app.embedded import refuse_shared_store
from ingestion.stream import CLAIM_IDLE_MS, RECLAIM_EVERY, Consumer, stream_name


class Command(BaseCommand):
    help = "Consume the ingestion Redis Stream into ClickHouse (needs REDIS_URL)."

    def add_arguments(self, parser):
        parser.add_argument("--name", default=None, help="consumer name in the group (default host-pid)")
        parser.add_argument("--count", type=int, default=500, help="stream entries per batch")
        parser.add_argument("--block-ms", type=int, default=1000)
        parser.add_argument(
            "--claim-idle-ms",
            type=int,
            default=CLAIM_IDLE_MS,
            help="take over entries pending this long (a dead consumer's)",
        )
        parser.add_argument(
            "--reclaim-every-ms",
            type=int,
            default=int(RECLAIM_EVERY * 1000),
            help="how often to look for such entries",
        )

    def handle(self, *args, **options):
        if not settings.REDIS_URL:
            raise CommandError(
                "REDIS_URL is not set: embedded mode writes events directly, there is no stream to consume."
            )
        refuse_shared_store("the ingest consumer")  # chdb: one process only (docs/deploy.md)
        consumer = Consumer(
            name=options["name"],
            count=options["count"],
            block_ms=options["block_ms"],
            claim_idle_ms=options["claim_idle_ms"],
            reclaim_every=options["reclaim_every_ms"] / 1000,
        )

        def stop(signum, frame):
            self.stderr.write(f"signal {signum}: finishing the current batch, then stopping")
            consumer.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write(f"Consuming {stream_name()} as {consumer.name} (group {consumer.group})")
        consumer.run()
        self.stdout.write(f"Stopped after storing {consumer.stored} stream entries")
