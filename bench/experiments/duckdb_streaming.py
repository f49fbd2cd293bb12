"""Experiment: the three-step pipeline's DuckDB hop, materialized (as duckdb.processor does
today: CREATE TABLE in a database file, then query) versus streamed (the Arrow reader registered
and scanned by the query directly), between connectorx and ADBC, as in osiris.

    duckdb_streaming.py --my URL --pg URL --source events --target events_baseline \
                        --mode stream|materialize [--batch 100000]

Writes into an existing typed table (run.py's TYPED_DDL). Uses the osiris venv (duckdb 2.x).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import adbc_driver_postgresql.dbapi as adbc
import connectorx as cx
import duckdb
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
QUERY = f"SELECT {COLUMNS} FROM extract WHERE id IS NOT NULL"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--my", required=True)
    ap.add_argument("--pg", required=True)
    ap.add_argument("--source", default="events")
    ap.add_argument("--target", default="events_baseline")
    ap.add_argument("--mode", choices=["stream", "materialize"], default="stream")
    ap.add_argument("--batch", type=int, default=100_000)
    a = ap.parse_args()
    t0 = time.monotonic()
    raw = cx.read_sql(a.my, f"SELECT {COLUMNS} FROM {a.source}", return_type="arrow_stream",
                      batch_size=a.batch, protocol="binary")  # fmt: skip
    source = pa.RecordBatchReader.from_batches(SCHEMA, (b.cast(SCHEMA) for b in raw))
    with tempfile.TemporaryDirectory() as tmp:
        settings = {"temp_directory": str(Path(tmp) / "spill")}
        if a.mode == "materialize":
            con = duckdb.connect(str(Path(tmp) / "t.duckdb"), config=settings)
            con.register("incoming", source)
            con.execute("CREATE TABLE extract AS SELECT * FROM incoming")
            con.unregister("incoming")
        else:
            con = duckdb.connect(":memory:", config=settings)
            con.register("extract", source)
        result = con.sql(QUERY).to_arrow_reader(a.batch)
        reader = pa.RecordBatchReader.from_batches(SCHEMA, (b.cast(SCHEMA) for b in result))
        with adbc.connect(a.pg) as conn, conn.cursor() as cur:
            rows = cur.adbc_ingest(a.target, reader, mode="append")
            conn.commit()
        con.close()
    print(f"duckdb {a.mode}: {rows} rows in {time.monotonic() - t0:.2f}s")


if __name__ == "__main__":
    main()
