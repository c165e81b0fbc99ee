"""Shared pieces of the benchmarks in bench/ (see bench/README.md).

- `setup_django(reuse_dir)`: Django + ClickHouse migrations on a throwaway chdb directory;
- `add_data_args` / `load_or_generate`: the --events/--persons/--days/--seed/--repeat/--reuse
  options and the data directory they describe (generated once, reopened with --reuse);
- `generate_events(...)`: one realistic generator for every bench, sessions of 1-12 events:
  the engine computes the rows (SELECT ... FROM numbers()), they go in as Native blocks;
- `export_parquet(...)` / `duckdb_connect(...)`: the same rows, person resolved, for DuckDB;
- `timed(fn, runs)`, `print_table(rows)`, `write_results(name, payload)`.

Every statement below is bench-only: each interpolated value is an int from argparse,
a constant of this file or a temporary path it made, never request data.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(os.environ.get("BENCH_RESULTS") or ROOT / "bench" / "results")  # BENCH_RESULTS: tests
PROJECT_ID = 1
META_FILE = "bench.json"  # parameters of the generated data, read back by --reuse
GENERATOR = 3  # bump when generate_events() writes different data: older --reuse dirs are refused

# Generator vocabulary. Event mix after each session's landing $pageview, per 1000 events:
EVENT_MIX = [
    (640, "$pageview"),
    (860, "$autocapture"),
    (940, "settings_changed"),
    (975, "signed_up"),
    (990, "activated"),
]
# ... the rest `purchase`; besides, one session in six ends with `purchase`.
BROWSERS = ["Chrome", "Chrome", "Chrome", "Chrome", "Safari", "Safari", "Firefox", "Edge",
            "Opera", "Samsung Internet", "Brave", "Vivaldi", "Yandex", "UC Browser", ""]  # fmt: skip
OSES = ["Windows", "Windows", "Mac OS X", "iOS", "Android", "Android", "Linux"]
PLANS = ["free", "free", "pro", "enterprise"]
UTM_SOURCES = ["", "", "", "google", "newsletter", "twitter", "facebook"]
LANDINGS = ["/", "/", "/", "/pricing", "/blog/", "/product/"]
PAGES = ["/", "/pricing", "/docs", "/docs/install", "/blog/", "/product/", "/product/", "/product/",
         "/cart", "/checkout", "/about", "/signup"]  # fmt: skip
HOST = "https://shop.example.com"
AVG_EVENTS_PER_SESSION = 6.5  # 1 + uniform 0..11
CHUNK_SESSIONS = 400_000  # at most ~2.6M events per chunk: few parts to merge (10M: 4 chunks)
GENERATE_THREADS = 2  # chunks generated and inserted at once
_FLATTENED = 3  # serialization version of Native's flattened JSON / Dynamic
MERGED_PERCENT = 10  # persons with an anonymous device whose distinct_id a merge re-pointed to them
# Path cleaning rules matching the generated URLs (/product/<id>, /blog/<slug>).
PATH_RULES = [
    {"regex": r"/product/\d+", "alias": "/product/:id"},
    {"regex": r"^/blog/[^/]+$", "alias": "/blog/:slug"},
]


class BenchProject:
    """What the query runners read from a Project, without a database row."""

    id = pk = PROJECT_ID
    name = "bench"
    time_zone = "UTC"
    tz = zoneinfo.ZoneInfo("UTC")


# --- Django on a throwaway directory -------------------------------------------------------


def setup_django(
    reuse_dir: str | None = None, *, prefix: str = "sextant-bench-", django_migrate: bool = False
) -> str:
    """Point Sextant at `reuse_dir` (or a new temporary directory), set up Django, apply the
    ClickHouse migrations (and the Django ones with `django_migrate`); return the directory.

    Environment set before django.setup() by the caller (REDIS_URL, rate limits ...) is kept."""
    var = os.path.abspath(reuse_dir) if reuse_dir else tempfile.mkdtemp(prefix=prefix)
    os.environ["SEXTANT_VAR_DIR"] = var
    os.environ["CLICKHOUSE_URL"] = "chdb://" + os.path.join(var, "chdb")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_app.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault(
        "CLICKHOUSE_MAX_EXECUTION_TIME", "900"
    )  # shared machine, 10M events: do not time out
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django  # noqa: PLC0415

    django.setup()
    if django_migrate:
        from django.core.management import call_command  # noqa: PLC0415

        call_command("migrate", verbosity=0)
    from analytics_app.clickhouse import migrate  # noqa: PLC0415

    migrate.run()
    return var


def add_data_args(
    parser: argparse.ArgumentParser, *, events: int = 10_000_000, persons: int = 200_000, days: int = 90
) -> None:
    parser.add_argument(
        "--events", type=int, default=events, help=f"approximate events to generate (default {events:,})"
    )
    parser.add_argument("--persons", type=int, default=persons)
    parser.add_argument("--days", type=int, default=days)
    parser.add_argument("--seed", type=int, default=1, help="generator seed")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per query (the median is reported)")
    parser.add_argument(
        "--reuse", metavar="DIR", help="the data dir of an earlier run: time again, no generation"
    )


def data_parser(doc: str | None, *, days: int) -> argparse.ArgumentParser:
    """An argument parser with the script's docstring and the data options (`add_data_args`)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_args(parser, days=days)
    return parser


class Data(NamedTuple):
    dir: str
    end: dt.datetime  # exclusive end of the generated window
    generate_s: float
    events: int  # stored events of PROJECT_ID


def load_or_generate(args: argparse.Namespace, name: str, end: dt.datetime) -> Data:
    """Set up Django on a new directory and generate `args.events` events ending at `end`, or
    reopen `args.reuse` (its parameters, end included, come from its bench.json and overwrite
    args.events / persons / days / seed). The directory is printed and kept."""
    if args.reuse:
        meta_path = Path(args.reuse, META_FILE)
        if not meta_path.exists():
            raise SystemExit(f"{args.reuse} has no {META_FILE}: not a directory made by bench/common.py")
        meta = json.loads(meta_path.read_text())
        if meta.get("generator") != GENERATOR:
            raise SystemExit(
                f"{args.reuse} was made by another version of the bench generator: generate again"
            )
        var = setup_django(args.reuse)
        args.events, args.persons, args.days, args.seed = (
            meta["events"],
            meta["persons"],
            meta["days"],
            meta["seed"],
        )
        end, gen_s = dt.datetime.fromisoformat(meta["end"]), 0.0
        print(
            f"reusing ~{args.events:,} events, {args.persons:,} persons, {args.days} days (end {end:%Y-%m-%d %H:%M}) in {var}",
            flush=True,
        )
    else:
        var = setup_django(prefix=f"sextant-bench-{name}-")
        print(
            f"Generating ~{args.events:,} events, {args.persons:,} persons, {args.days} days in {var} ...",
            flush=True,
        )
        gen_s = generate_events(PROJECT_ID, args.events, args.persons, args.days, args.seed, end=end)
        meta = {"generator": GENERATOR, "events": args.events, "persons": args.persons, "days": args.days, "seed": args.seed,
                "end": end.isoformat(), "generate_s": round(gen_s, 1)}  # fmt: skip
        Path(var, META_FILE).write_text(json.dumps(meta) + "\n")
    count = event_count()
    print(f"  {count:,} events in {gen_s:.1f} s", flush=True)
    return Data(var, end, gen_s, count)


def generate_into(
    var: str, events: int, persons: int, days: int, seed: int, end: dt.datetime
) -> dict[str, Any]:
    """Generate a reusable data directory at `var` (as load_or_generate does) and return its
    bench.json parameters. bench/run.py calls it in a child process: one process per chdb
    directory."""
    setup_django(var)
    seconds = generate_events(PROJECT_ID, events, persons, days, seed, end=end)
    meta = {"generator": GENERATOR, "events": events, "persons": persons, "days": days, "seed": seed,
            "end": end.isoformat(), "generate_s": round(seconds, 1), "stored_events": event_count()}  # fmt: skip
    Path(var, META_FILE).write_text(json.dumps(meta) + "\n")
    return meta


def data_payload(args: argparse.Namespace, data: Data, export_s: float) -> dict[str, Any]:
    """The fields every query benchmark's JSON starts with."""
    return {"when": dt.datetime.now(dt.UTC).isoformat(), "events": data.events, "persons": args.persons, "days": args.days,
            "repeat": args.repeat, "seed": args.seed, "data_dir": data.dir, "generate_s": round(data.generate_s, 1),
            "parquet_export_s": round(export_s, 1)}  # fmt: skip


def event_count(project_id: int = PROJECT_ID) -> int:
    from analytics_app import clickhouse as ch  # noqa: PLC0415

    return ch.query(
        "SELECT count() FROM events WHERE project_id = {project_id:UInt32}", {"project_id": project_id}
    ).scalar()


# --- the generator -------------------------------------------------------------------------


def _array(values: list[str]) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


def _pick(values: list[str], hash_args: str) -> str:
    return f"{_array(values)}[1 + cityHash64({hash_args}) % {len(values)}]"


def person_uuid_sql(p: str, seed: int) -> str:
    """The person id of person number `p`: the same expression for events, persons, person_distinct_ids."""
    return f"reinterpretAsUUID(toFixedString(MD5(concat('p', toString({p}), '-{seed}')), 16))"


def anon_uuid_sql(p: str, seed: int) -> str:
    """The person an anonymous distinct_id (`a<p>`) had before the merge re-pointed it."""
    return f"reinterpretAsUUID(toFixedString(MD5(concat('a', toString({p}), '-{seed}')), 16))"


def merged_sql(p: str, seed: int) -> str:
    """True for the MERGED_PERCENT of persons that also browsed anonymously before identifying."""
    return f"(cityHash64({p}, {seed}, 15) % 100 < {MERGED_PERCENT})"


def _events_sql(path: str, offset: int, size: int, persons: int, days: int, seed: int, start_us: int) -> str:
    """Write the events of sessions [offset, offset + size) to the Arrow file `path`, one
    row per event in the events table's sorting-key order (day, event, cityHash64(distinct_id),
    uuid; ClickHouse compares a UUID's second half first), with the properties as plain
    columns: empty (or revenue_cents -1) where the event has none."""
    ev_expr = (
        f"multiIf(i = 0, '$pageview', i = n - 1 AND cityHash64(s, {seed}, 8) % 6 = 0, 'purchase', "
        + ", ".join(f"r < {limit}, '{name}'" for limit, name in EVENT_MIX)
        + ", 'purchase')"
    )
    return f"""
        INSERT INTO FUNCTION file('{path}', Arrow)
        SELECT ev AS event, distinct_id, MD5(concat(if(anon, 'a', 'p'), toString(p), '-{seed}')) AS person_raw,
            toInt64(t0_us + (i * 40 + cityHash64(s, i, {seed}, 3) % 40) * 1000000 + cityHash64(s, i, {seed}, 4) % 1000000) AS ts_us,
            bitOr(bitAnd(cityHash64(s, i, {seed}, 17), 0xFFFFFFFFFFFF0FFF), 0x4000) AS uuid_hi,
            bitOr(bitAnd(cityHash64(s, i, {seed}, 18), 0x3FFFFFFFFFFFFFFF), 0x8000000000000000) AS uuid_lo,
            browser, os, device, plan, sid,
            if(ev IN ('$pageview', '$autocapture'), page, '') AS pathname,
            if(pathname = '', '', concat('{HOST}', page, if(cityHash64(s, i, {seed}, 5) % 4 = 0, '?utm_source=news', ''))) AS current_url,
            if(ev = 'purchase', toInt32(cityHash64(s, i, {seed}, 6) % 20000), -1) AS revenue_cents,
            if(i = 0, utm, '') AS utm_source
        FROM (
            SELECT s, p, anon, n, t0_us, sid, utm, browser, os, device, plan, i, cityHash64(s, i, {seed}, 2) % 1000 AS r, {ev_expr} AS ev,
                if(anon, concat('a', toString(p)), concat('u', toString(p))) AS distinct_id,
                if(i = 0, {_pick(LANDINGS, f"s, {seed}, 7")}, {_pick(PAGES, f"s, i, {seed}, 7")}) AS base,
                multiIf(base = '/product/', concat(base, toString(cityHash64(s, i, {seed}, 9) % 5000)),
                        base = '/blog/', concat(base, 'post-', toString(cityHash64(s, i, {seed}, 9) % 300), if(i % 2 = 0, '/', '')),
                        base) AS page
            FROM (
                SELECT s, p, {merged_sql("p", seed)} AND cityHash64(s, {seed}, 16) % 2 = 0 AS anon,
                    1 + cityHash64(s, {seed}, 2) % 12 AS n,
                    {start_us} + ((cityHash64(p, {seed}, 7) % {days}
                                   + toUInt32(-log((cityHash64(s, {seed}, 6) % 1000000 + 1) / 1000001.0) * 14)) % {days}) * 86400000000
                        + (cityHash64(s, {seed}, 5) % {86_400 - 3_600}) * 1000000 AS t0_us,
                    if(cityHash64(s, {seed}, 9) % 10 = 0, '',
                       toString(reinterpretAsUUID(toFixedString(MD5(concat('s', toString(s), '-{seed}')), 16)))) AS sid,
                    {_pick(UTM_SOURCES, f"s, {seed}, 10")} AS utm,
                    {_pick(BROWSERS, f"p, {seed}, 11")} AS browser, {_pick(OSES, f"p, {seed}, 12")} AS os,
                    multiIf(os IN ('iOS', 'Android'), if(cityHash64(p, {seed}, 13) % 5 = 0, 'Tablet', 'Mobile'), 'Desktop') AS device,
                    {_array(PLANS)}[1 + cityHash64(p, {seed}, 14) % {len(PLANS)}] AS plan
                FROM (SELECT number AS s, cityHash64(number, {seed}, 1) % {persons} AS p FROM numbers({offset}, {size}))
            )
            ARRAY JOIN range(n) AS i
        )
        ORDER BY intDiv(ts_us, 86400000000), event, cityHash64(distinct_id), uuid_lo, uuid_hi
        SETTINGS output_format_arrow_compression_method = 'none', max_block_size = {max(size, 65_536)}
        """


def _strings(values) -> tuple[str, memoryview]:
    """("String", the Native data of a String column) of an Arrow string array."""
    from analytics_app.clickhouse import native  # noqa: PLC0415

    return "String", native.binary_data(native.strings(values))


def _json_column(paths: dict[str, tuple[Any, list[tuple[str, Any]]]]) -> list:
    """A JSON column's data in Native's flattened serialization, from path -> (a UInt8 per
    row: the index of the row's type in the path's types, len(types) = no value, then
    [(type, the encoded values of the rows of that type)], types sorted by name). Paths
    without a value in any row are left out, as the engine leaves them out."""
    from analytics_app.clickhouse import native  # noqa: PLC0415

    paths = {k: v for k, v in sorted(paths.items()) if v[1]}
    out = [struct.pack("<Q", _FLATTENED), native.varint(len(paths)), *(native.string(k) for k in paths)]
    for _, types in paths.values():
        out += [
            struct.pack("<Q", _FLATTENED),
            native.varint(len(types)),
            *(native.string(t) for t, _ in types),
        ]
    for which, types in paths.values():
        out += [which.tobytes(), *(data for _, data in types)]
    return out


def _present(has, kind: str, data) -> tuple[Any, list]:
    """A single-type path: type 0 where `has`, none elsewhere."""
    import numpy as np  # noqa: PLC0415

    return np.where(has, 0, 1).astype(np.uint8), [(kind, data)] if has.any() else []


def _native_events(project_id: int, table, first: int, last: int):
    """The Native block of rows [first, last) of a chunk's Arrow table (one month, in order)."""
    import numpy as np  # noqa: PLC0415
    import pyarrow.compute as pc  # noqa: PLC0415

    from analytics_app.clickhouse import native  # noqa: PLC0415

    t = table.slice(first, last - first)
    rows = t.num_rows
    col = lambda name: t.column(name).combine_chunks()  # noqa: E731
    num = lambda name: col(name).to_numpy()  # noqa: E731
    paths: dict[str, tuple[Any, list]] = {}
    for key, name in (("$browser", "browser"), ("$os", "os"), ("$device_type", "device"), ("plan", "plan")):
        paths[key] = (np.zeros(rows, np.uint8), [_strings(col(name))])
    for key, name in (("$current_url", "current_url"), ("$pathname", "pathname"),
                      ("$session_id", "sid"), ("utm_source", "utm_source")):  # fmt: skip
        values = col(name)
        has = pc.not_equal(values, "").to_numpy(zero_copy_only=False)
        paths[key] = _present(has, *_strings(values.filter(has)))
    # revenue as the JSON text "<cents / 100>" parses: Int64 when whole, else Float64
    cents = num("revenue_cents")
    whole = (cents >= 0) & (cents % 100 == 0)
    fraction = (cents >= 0) & ~whole
    present = [(kind, mask) for kind, mask in (("Float64", fraction), ("Int64", whole)) if mask.any()]
    which = np.full(rows, len(present), np.uint8)
    for index, (_, mask) in enumerate(present):
        which[mask] = index
    values = {
        "Float64": lambda: (cents[fraction] / 100).astype("<f8"),
        "Int64": lambda: (cents[whole] // 100).astype("<i8"),
    }
    paths["revenue"] = (which, [(kind, values[kind]().tobytes()) for kind, _ in present])
    person = col("person_raw")
    uuid = np.stack([num("uuid_hi"), num("uuid_lo")], axis=1).astype("<u8")
    data = {
        "uuid": ("UUID", [uuid.tobytes()]),
        "project_id": ("UInt32", [np.full(rows, project_id, "<u4").tobytes()]),
        "event": ("String", [_strings(col("event"))[1]]),
        "distinct_id": ("String", [_strings(col("distinct_id"))[1]]),
        "person_id": (
            "UUID",
            [memoryview(person.buffers()[1])[person.offset * 16 : (person.offset + rows) * 16]],
        ),
        "timestamp": ("DateTime64(6, 'UTC')", [num("ts_us").astype("<i8").tobytes()]),
        "properties": ("JSON(max_dynamic_paths = 512)", _json_column(paths)),
        "session_id": ("String", [_strings(col("sid"))[1]]),
    }
    return native.block(rows, [(name, kind, buffers) for name, (kind, buffers) in data.items()])


def _insert_chunk(project_id: int, scratch: str, offset: int, size: int, args: tuple) -> int:
    """One chunk of sessions: the engine writes its rows to an Arrow file, sorted; they go
    back in as one Native block per month (the partition key), which the engine stores
    without parsing JSON text or sorting. Returns the events written."""
    import numpy as np  # noqa: PLC0415
    import pyarrow as pa  # noqa: PLC0415

    from analytics_app import clickhouse as ch  # noqa: PLC0415

    path = os.path.join(scratch, f"chunk-{offset}.arrow")
    try:
        ch.command(_events_sql(path, offset, size, *args), global_=True)
        with pa.memory_map(path) as source:
            table = pa.ipc.open_file(source).read_all()
    finally:
        if os.path.exists(path):
            os.remove(path)
    days = table.column("ts_us").to_numpy() // 86_400_000_000
    months = days.astype("datetime64[D]").astype("datetime64[M]")
    bounds = [0, *(np.flatnonzero(months[1:] != months[:-1]) + 1).tolist(), len(months)]

    def blocks():
        for first, last in zip(bounds[:-1], bounds[1:], strict=True):
            yield _native_events(project_id, table, first, last)

    def text_columns():
        raise RuntimeError("the bench generator writes Native blocks: the embedded engine only")

    return ch.insert_bulk("events", text_columns, blocks)


def generate_events(
    project_id: int, events: int, persons: int, days: int, seed: int = 1, *, end: dt.datetime
) -> float:
    """Insert ~`events` events of `persons` persons over the `days` days before `end` (exclusive),
    plus a persons row and a person_distinct_ids row per person; return the seconds taken.

    Sessions of 1 + uniform(0..11) events (AVG_EVENTS_PER_SESSION). Every person has a
    first-seen day and session days decaying from it (exponential, mean 14 days, wrapping at
    the end of the window). A session starts with a $pageview on a landing page, then
    EVENT_MIX events 1-79 s apart (strictly increasing, microsecond timestamps); one session
    in six ends with `purchase`. Properties: $browser, $os, $device_type and plan per person;
    $current_url (query string on a quarter of them; /product/<id>, /blog/post-<n>[/]) and
    $pathname on $pageview / $autocapture; revenue on purchase; utm_source on some landings;
    $session_id (also the session_id column) on 90% of sessions, the rest rely on the
    30-minute split. Persons carry plan and email. Event uuids are UUIDv4-shaped hashes of
    (session, event, seed): same arguments, same rows.

    Merged identities (MERGED_PERCENT of persons): half of such a person's sessions come
    from an anonymous device, distinct_id `a<n>`, whose events carry the anonymous person
    they had at ingestion; person_distinct_ids holds both rows of that distinct_id (the
    anonymous person at version 1, the identified one at version 2), as an $identify merge
    leaves them, so queries resolve those events through the person overrides.

    The engine computes every value (`_events_sql`); the rows come back as Arrow and go in
    as Native blocks (`_native_events`), CHUNK_SESSIONS sessions at a time on
    GENERATE_THREADS threads (one connection each)."""
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    from analytics_app import clickhouse as ch  # noqa: PLC0415

    start = end - dt.timedelta(days=days)
    start_us = int(start.timestamp()) * 1_000_000
    n_sessions = max(1, round(events / AVG_EVENTS_PER_SESSION))
    t0 = time.perf_counter()
    shm = "/dev/shm"  # noqa: S108 - a private directory made by mkdtemp
    with (
        tempfile.TemporaryDirectory(
            prefix="sextant-gen-", dir=shm if os.path.isdir(shm) else None
        ) as scratch,
        ThreadPoolExecutor(GENERATE_THREADS, thread_name_prefix="bench-generate") as pool,
    ):
        count = -(-n_sessions // CHUNK_SESSIONS)
        count = min(n_sessions, -(-count // GENERATE_THREADS) * GENERATE_THREADS)  # a round per thread
        bounds = [n_sessions * k // count for k in range(count + 1)]
        chunks = [(first, last - first) for first, last in zip(bounds[:-1], bounds[1:], strict=True)]
        futures = [pool.submit(_insert_chunk, project_id, scratch, offset, size, (persons, days, seed, start_us))
                   for offset, size in chunks]  # fmt: skip
        for (offset, size), future in zip(chunks, futures, strict=True):
            future.result()
            print(f"  generated {offset + size:,} / {n_sessions:,} sessions", flush=True)
    ch.command(
        f"""
        INSERT INTO person_distinct_ids (project_id, distinct_id, person_id, version)
        SELECT {project_id}, concat('u', toString(number)), {person_uuid_sql("number", seed)}, 1 FROM numbers({persons})
        UNION ALL
        SELECT {project_id}, concat('a', toString(number)), {anon_uuid_sql("number", seed)}, 1
        FROM numbers({persons}) WHERE {merged_sql("number", seed)}
        UNION ALL
        SELECT {project_id}, concat('a', toString(number)), {person_uuid_sql("number", seed)}, 2
        FROM numbers({persons}) WHERE {merged_sql("number", seed)}
        """,
        global_=True,
    )
    ch.command(
        f"""
        INSERT INTO persons (project_id, id, created_at, properties, version)
        SELECT {project_id}, {person_uuid_sql("number", seed)}, toDateTime64({int(start.timestamp())}, 3, 'UTC'),
            concat('{{"plan":"', {_array(PLANS)}[1 + cityHash64(number, {seed}, 14) % {len(PLANS)}],
                   '","email":"u', toString(number), '@example.com"}}'), 1
        FROM numbers({persons})
        """,
        global_=True,
    )
    return time.perf_counter() - t0


# --- Parquet + DuckDB ----------------------------------------------------------------------


def export_parquet(
    path: str,
    project_id: int = PROJECT_ID,
    *,
    where: str = "",
    properties: bool = False,
    persons: bool = False,
) -> float:
    """Write the project's events to `path` as Parquet, flattened for DuckDB, and return the
    seconds taken. Columns: uuid, event, distinct_id, person_id (resolved through
    person_distinct_ids), ts, session_id, browser, os, device_type, current_url, pathname, plan,
    utm_source, revenue (Float64, NULL when absent); `properties` adds the JSON as a string,
    `persons` the person's plan as person_plan. `where` is an extra condition on `e`."""
    from analytics_app import clickhouse as ch  # noqa: PLC0415

    t0 = time.perf_counter()
    if os.path.exists(path):
        os.remove(path)
    person = "if(pdi.person_id = toUUID('00000000-0000-0000-0000-000000000000'), e.person_id, pdi.person_id)"
    prop = "ifNull(e.properties.`{}`::Nullable(String), '')".format  # noqa: UP032
    extra = ", toString(e.properties) AS properties" if properties else ""
    join_persons = ""
    if persons:
        extra += ", JSONExtractString(pp.properties, 'plan') AS person_plan"
        join_persons = f"""LEFT JOIN (SELECT id, argMax(properties, version) AS properties FROM persons
                           WHERE project_id = {project_id} GROUP BY id) AS pp ON pp.id = {person}"""
    ch.command(
        f"""
        INSERT INTO FUNCTION file('{path}', Parquet)
        SELECT toString(e.uuid) AS uuid, e.event AS event, e.distinct_id AS distinct_id, toString({person}) AS person_id,
            e.timestamp AS ts, e.session_id AS session_id, {prop("$browser")} AS browser, {prop("$os")} AS os,
            {prop("$device_type")} AS device_type, {prop("$current_url")} AS current_url, {prop("$pathname")} AS pathname,
            {prop("plan")} AS plan, {prop("utm_source")} AS utm_source,
            toFloat64OrNull(toString(e.properties.revenue)) AS revenue{extra}
        FROM events AS e
        LEFT JOIN (SELECT distinct_id, argMax(person_id, version) AS person_id FROM person_distinct_ids
                   WHERE project_id = {project_id} GROUP BY distinct_id) AS pdi ON pdi.distinct_id = e.distinct_id
        {join_persons}
        WHERE e.project_id = {project_id} {"AND (" + where + ")" if where else ""}
        """,
        global_=True,
    )
    seconds = time.perf_counter() - t0
    print(f"  exported Parquet ({os.path.getsize(path) / 1e6:.0f} MB) in {seconds:.1f} s", flush=True)
    return seconds


def duckdb_connect(
    parquet: str | None = None, *, threads: int | None = None, table: bool = False, columns: str = "*"
):
    """A DuckDB connection in UTC, with `ev` over `parquet` (a view, or a table loaded in memory)."""
    import duckdb  # noqa: PLC0415

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if parquet:
        con.execute(
            f"CREATE {'TABLE' if table else 'VIEW'} ev AS SELECT {columns} FROM read_parquet('{parquet}')"
        )
    return con


# --- timing and output ---------------------------------------------------------------------


class Timing(NamedTuple):
    median: float
    runs: list[float]
    value: Any  # the last run's return value
    cpu: float = 0.0  # median CPU seconds (user + system, every thread of the process) per run


def timed(fn: Callable[[], Any], runs: int = 3, *, warmup: bool = True) -> Timing:
    """Run `fn` untimed BENCH_WARMUP times (an integer; at least once with `warmup`),
    then `runs` times: median and every run, in seconds. bench/run.py sets BENCH_WARMUP=2:
    a fresh process's first queries grow its memory (the plain funnel at 10M events: 50k
    page faults on the first run, 15k on the second, then about 1k; 0.49, 0.34, then
    0.29-0.31 s), which a long-running server has done long before."""
    for _ in range(max(int(os.environ.get("BENCH_WARMUP") or 0), 1 if warmup else 0)):
        fn()
    times, cpus, value = [], [], None
    for _ in range(max(1, runs)):
        c0, t0 = cpu_seconds(), time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
        cpus.append(cpu_seconds() - c0)
    return Timing(statistics.median(times), times, value, statistics.median(cpus))


def cpu_seconds() -> float:
    """CPU time of this process, every thread (chdb's and DuckDB's included): less
    sensitive than wall time to other jobs on a shared machine."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def ratio(a: float, b: float) -> float:
    return a / b if b else math.inf


def vs_duckdb(
    label: tuple[str, str], sextant_s: float, duckdb_s: float, check: tuple[str, str]
) -> dict[str, str]:
    """A table row of the query benchmarks: (header, query), both times, ratio, (header, agreement)."""
    return {label[0]: label[1], "Sextant (chdb)": ms(sextant_s), "DuckDB parquet": ms(duckdb_s),
            "ratio": f"{ratio(sextant_s, duckdb_s):.2f}x", check[0]: check[1]}  # fmt: skip


def print_table(rows: list[dict[str, Any]]) -> None:
    """Print dicts as a table: keys are the header, the first column left-aligned, the others
    right-aligned, ints with thousands separators, floats to 2 decimals."""
    if not rows:
        return

    def fmt(v: Any) -> str:
        if isinstance(v, bool) or v is None:
            return str(v)
        if isinstance(v, int):
            return f"{v:,}"
        if isinstance(v, float):
            return f"{v:.2f}"
        return str(v)

    headers = list(rows[0])
    cells = [[fmt(r.get(h, "")) for h in headers] for r in rows]
    widths = [max(len(h), *(len(c[j]) for c in cells)) for j, h in enumerate(headers)]

    def line(values: list[str]) -> str:
        return "  ".join(
            v.ljust(w) if j == 0 else v.rjust(w) for j, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    print(line(headers))
    print("  ".join("-" * w for w in widths))
    for c in cells:
        print(line(c))


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def write_results(name: str, payload: dict[str, Any]) -> Path:
    """Write `payload` (plus commit, cpu_count and load_average unless present) to
    bench/results/<name>.json and return the path."""
    payload = {**payload}
    payload.setdefault("commit", git_commit())
    payload.setdefault("cpu_count", os.cpu_count())
    payload.setdefault("load_average", os.getloadavg())
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print(f"\nwrote {os.path.relpath(path, ROOT)}")
    return path
