"""Masked property filters: the cost of filtering on the text as a viewer without view-PII sees it.

    .venv/bin/python bench/bench_masked_filters.py [--events 1000000] [--repeat 3] [--reuse DIR]

For such a viewer a filter compares `masked_text_sql` of the value (insights/blocks/filters.py:
URL query values and fragments, e-mail addresses, IBANs with mod 97, card numbers with Luhn,
phone numbers) instead of the raw text. Times `SELECT count()` with one filter, raw and masked
(median of --repeat after a warm-up), on

- the generated events of bench/common.py (--events; URLs, browsers, plans: text the cheap
  gates wave through), and
- a second project with --pii-events events (100,000) whose `note` holds a card number, an IBAN, a phone
  number, an e-mail address and a URL with a query (the worst case: every row is masked
  stage by stage), and `clean` holding a sentence without digits.

Checks on the way that the masked count of a card number's digits is 0 and the raw one is not.
Prints a table, writes bench/results/masked_filters.json.
"""

from __future__ import annotations

import datetime as dt

import common

PII_PROJECT = common.PROJECT_ID + 2


def main() -> None:
    parser = common.data_parser(__doc__, days=30)
    parser.set_defaults(events=1_000_000, persons=50_000)
    parser.add_argument("--pii-events", type=int, default=100_000, help="events of the all-PII project")
    args = parser.parse_args()
    data = common.load_or_generate(args, "masked-filters", dt.datetime.now(dt.UTC))

    from analytics_app import clickhouse as ch
    from insights.blocks import SQLBuilder
    from insights.blocks.filters import PropertyFilter, filters_sql

    if (
        ch.query(
            "SELECT count() FROM events WHERE project_id = {project_id:UInt32}", {"project_id": PII_PROJECT}
        ).scalar()
        == 0
    ):
        # Bench-only statement: every interpolated value is an int or a constant of this file.
        ch.command(
            f"""
            INSERT INTO events (uuid, project_id, event, distinct_id, person_id, timestamp, properties)
            SELECT generateUUIDv4(number), {PII_PROJECT}, 'e', concat('u', toString(number % 1000)),
                generateUUIDv4(number % 1000), now() - toIntervalSecond(number),
                concat('{{"note":"paid with 4539 1488 0343 6467, refund to GB82 WEST 1234 5698 7654 32, call +44 20 7946 ',
                       leftPad(toString(number % 10000), 4, '0'), ', mail jane', toString(number % 97),
                       '@example.com, see /cart?token=', toString(number), '","clean":"a sentence without any digit"}}')::JSON
            FROM numbers({args.pii_events})
            """,
            global_=True,
        )

    def count(project_id: int, f: PropertyFilter) -> int:
        b = SQLBuilder(project_id)
        sql = f"SELECT count() FROM events WHERE project_id = {{project_id:UInt32}} AND {filters_sql(b, [f])}"
        return ch.query(sql, {**b.params, "project_id": project_id}).scalar()

    cases = [
        (
            common.PROJECT_ID,
            "$current_url icontains checkout (materialized)",
            "$current_url",
            "icontains",
            "checkout",
        ),
        (common.PROJECT_ID, "$current_url regex [0-9]{4}", "$current_url", "regex", "[0-9]{4}"),
        (common.PROJECT_ID, "plan exact pro (JSON)", "plan", "exact", "pro"),
        (PII_PROJECT, "note icontains 4539 (PII in every row)", "note", "icontains", "4539"),
        (PII_PROJECT, "note regex 7946 [0-9]{2}", "note", "regex", "7946 [0-9]{2}"),
        (PII_PROJECT, "clean icontains digit (no digits)", "clean", "icontains", "digit"),
    ]
    rows = []
    for project_id, label, key, op, value in cases:
        raw_filter = PropertyFilter(key, op, value)
        masked_filter = PropertyFilter(key, op, value, masked=True)
        runs = args.repeat if project_id == common.PROJECT_ID else 1  # the all-PII case is slow
        raw = common.timed(lambda p=project_id, f=raw_filter: count(p, f), runs)
        masked = common.timed(lambda p=project_id, f=masked_filter: count(p, f), runs, warmup=runs > 1)
        rows.append(
            {
                "filter": label,
                "events": common.event_count(project_id),
                "raw ms": common.ms(raw.median),
                "masked ms": common.ms(masked.median),
                "x": round(common.ratio(masked.median, raw.median), 1),
                "raw count": raw.value,
                "masked count": masked.value,
            }
        )
    common.print_table(rows)
    card = rows[3]
    print(
        f"\ncard digits: raw count {card['raw count']:,}, masked count {card['masked count']:,} (must be 0)"
    )
    assert card["masked count"] == 0 and card["raw count"] > 0
    common.write_results("masked_filters", {**common.data_payload(args, data, 0.0), "results": rows})


if __name__ == "__main__":
    main()
