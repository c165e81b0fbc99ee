"""Demo data: realistic product-analytics journeys for one project.

    from analytics_app.demo import generate
    summary = generate(project_id, persons=5000, days=60, seed=1)

Every visitor lands on the marketing site (shop.example.com) from google, twitter,
a newsletter or directly, browses a few pages, and either leaves anonymous or signs
up. Signing up identifies the visitor (`$identify` with `$anon_distinct_id`), so the
anonymous device id and the user id both map to one person. Signed-up users walk an
onboarding funnel (`signed_up` -> `onboarding_step` 1..3 -> `activated`), some buy
(`purchase` with `revenue`/`currency`), and activated users come back to use the
product (`feature_used`, `search`, the odd `$exception`) at a rate that decays over
the weeks (a retention curve). Visits follow the local daytime of each visitor's
country and are heavier on weekdays.

Modules:
- `vocabulary`: the events, pages, channels, countries, devices, plans... and the
  distributions drawn from;
- `fragments`: vocabularies of property fragments that rows pick by index, encoded on
  demand as JSON text or as Native's flattened JSON columns;
- `journeys`: `DemoSpec` fixes what to generate; `generate_chunk(spec, i)` is pure: the
  rows of persons [i * PERSONS_PER_CHUNK, ...) from a RNG seeded with (seed, i), built
  with vectorized numpy/pyarrow ops (no per-event Python). Same seed and window -> the
  same rows, whatever the project id;
- `events`: a chunk's events, as columns with JSON text (`Events.columns`) or Native
  blocks in the events sorting key's order (`Events.partitions`, `Events.native`);
- `cityhash`: ClickHouse's cityHash64 in numpy, for that sort;
- `writer`: `write(spec)` / `generate(...)`: two insert threads, `ch.insert_bulk`.

The window is the `days` UTC days ending with `end` (default: today); events later
than the wall clock are dropped, so a default run never writes the future. A run
with a past `end` is fully reproducible. People also arrive during a warm-up of up
to WARMUP_DAYS before the window (their earlier events are not written), so the
window opens with returning users instead of a ramp from zero; `persons` counts
everyone simulated, the summary's `visitors` those with events in the window.

Cost (bench/bench_demo_insert.py, docs/clickhouse.md "Demo data"): 7-9 CPU-µs per
event on the embedded engine, which reads the Native blocks (generation ~1, sorting and
encoding ~2, temporary files ~1, the engine 2-6), against ~34 when it parses the
properties as JSON text.
"""

from .cityhash import city_hash64
from .events import Events
from .journeys import PERSONS_PER_CHUNK, Chunk, DemoSpec, generate_chunk
from .vocabulary import DAY_US, EVENTS, US
from .writer import generate, insert_batch, insert_json_text, write

__all__ = [
    "DAY_US",
    "EVENTS",
    "PERSONS_PER_CHUNK",
    "US",
    "Chunk",
    "DemoSpec",
    "Events",
    "city_hash64",
    "generate",
    "generate_chunk",
    "insert_batch",
    "insert_json_text",
    "write",
]
