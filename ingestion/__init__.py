"""Capture, identity, dedup and the store path.

`store(job)` is the app's public way to make a processed Job durable (the capture views
and the quarantine's release use it): the Redis Stream in production, the embedded
writer (spool, then ClickHouse) otherwise.
"""


def store(job) -> None:
    from . import stream, writer  # noqa: PLC0415 - Django is set up by the time anything stores

    if not job.size():
        return
    if stream.enabled():
        stream.append(job)
    else:
        writer.writer.submit(job)
