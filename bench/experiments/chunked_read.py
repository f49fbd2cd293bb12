"""Experiment: bound connectorx's read-ahead by reading the source in primary-key ranges.

connectorx's arrow_stream hands batches over an unbounded channel (std::sync::mpsc::channel in
connectorx/src/destinations/arrowstream), so when the sink is slower than MySQL the whole rest of
the table piles up in memory. Reading `WHERE id >= lo AND id < hi` ranges of about --chunk rows,
with at most two ranges in flight (the next one starts when the current one is handed to the
sink), caps what can pile up at about two chunks, whatever the table size.

    chunked_read.py --my URL --pg URL --source events_5m --target events_baseline \
                    [--mode chunked|plain] [--chunk 250000] [--batch 100000] [--sink adbc|none]
    chunked_read.py --my URL --source events_5m --sink none --pace 330000 --mode plain

With --sink adbc it writes into an existing typed table (run.py's TYPED_DDL), like
peers/baseline.py. With --sink none --pace R it consumes R rows/s (sleeping per batch), a sink of
known speed, and prints this process's peak RSS: plain streams grow with the table, chunked ones
stay flat.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from pathlib import Path

import connectorx as cx
import pyarrow as pa

COLUMNS = (
    "id, user_id, event_type, url, amount, score, created_at, event_date, is_active, payload, attrs"
)
SCHEMA = pa.schema([
    ("id", pa.int64()), ("user_id", pa.int32()), ("event_type", pa.string()),
    ("url", pa.string()), ("amount", pa.decimal128(12, 2)), ("score", pa.float64()),
    ("created_at", pa.timestamp("us")), ("event_date", pa.date32()), ("is_active", pa.bool_()),
    ("payload", pa.string()), ("attrs", pa.string()),
])  # fmt: skip


def ranges(my: str, source: str, chunk: int) -> list[tuple[int, int]]:
    # MIN/MAX come from the primary key index at once; COUNT(*) would scan InnoDB (2 s at 5M
    # rows), so the row count is the statistics' estimate: ranges only need to be roughly even.
    stats = cx.read_sql(
        my,
        f"SELECT MIN(id) AS lo, MAX(id) AS hi, (SELECT TABLE_ROWS FROM information_schema.TABLES "
        f"WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{source}') AS n FROM {source}",
        return_type="arrow",
    ).to_pylist()[0]
    lo, hi, n = stats["lo"], stats["hi"], stats["n"] or 1
    if lo is None:
        return []
    span = max(1, (hi - lo + 1) * chunk // n)
    return [(a, min(a + span, hi + 1)) for a in range(lo, hi + 1, span)]


def plain(my: str, source: str, batch: int) -> Iterator[pa.RecordBatch]:
    sql = f"SELECT {COLUMNS} FROM {source}"
    for b in cx.read_sql(my, sql, return_type="arrow_stream", batch_size=batch, protocol="binary"):
        if b.num_rows:
            yield b.cast(SCHEMA)


def batches(my: str, source: str, chunk: int, batch: int) -> Iterator[pa.RecordBatch]:
    def start(r: tuple[int, int]) -> pa.RecordBatchReader:
        sql = f"SELECT {COLUMNS} FROM {source} WHERE id >= {r[0]} AND id < {r[1]}"
        return cx.read_sql(my, sql, return_type="arrow_stream", batch_size=batch, protocol="binary")

    todo = ranges(my, source, chunk)
    current = start(todo.pop(0)) if todo else None
    while current is not None:
        upcoming = start(todo.pop(0)) if todo else None  # at most two ranges in flight
        for b in current:
            if b.num_rows:
                yield b.cast(SCHEMA)
        current = upcoming


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--my", required=True)
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/bench")
    ap.add_argument("--source", default="events")
    ap.add_argument("--target", default="events_baseline")
    ap.add_argument("--chunk", type=int, default=250_000)
    ap.add_argument("--batch", type=int, default=100_000)
    ap.add_argument("--sink", default="adbc", choices=["adbc", "none"])
    ap.add_argument("--mode", default="chunked", choices=["chunked", "plain"])
    ap.add_argument("--pace", type=float, default=0, help="with --sink none: rows/s consumed")
    a = ap.parse_args()
    t0 = time.monotonic()
    source = (
        batches(a.my, a.source, a.chunk, a.batch)
        if a.mode == "chunked"
        else plain(a.my, a.source, a.batch)
    )
    reader = pa.RecordBatchReader.from_batches(SCHEMA, source)
    if a.sink == "none":
        rows, peak = 0, 0
        for b in reader:
            rows += b.num_rows
            if a.pace:
                time.sleep(b.num_rows / a.pace)
            peak = max(peak, int(Path("/proc/self/statm").read_text().split()[1]) * 4096 >> 20)
        print(f"peak RSS {peak} MB")
    else:
        import adbc_driver_postgresql.dbapi as adbc

        with adbc.connect(a.pg) as conn, conn.cursor() as cur:
            rows = cur.adbc_ingest(a.target, reader, mode="append")
            conn.commit()
    print(f"{a.mode}: {rows} rows in {time.monotonic() - t0:.2f}s")


if __name__ == "__main__":
    main()
