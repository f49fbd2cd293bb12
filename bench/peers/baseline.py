"""Hand-written baseline: connectorx (MySQL binary protocol, Arrow batches) -> ADBC binary COPY.

This is the best a few lines of Python reach on this stack; osiris's two-step pipeline does the
same work plus validation, sessions and type mapping. The target table is created by run.py
beforehand (typed DDL), so here each batch is only cast to that schema.

    baseline.py --my mysql://u:p@host:3306/db --pg postgresql://u@host:5432/db \
                --source events --target events_baseline [--batch 100000]
"""

from __future__ import annotations

import argparse

import adbc_driver_postgresql.dbapi as adbc
import connectorx as cx
import pyarrow as pa

COLUMNS = "id, user_id, event_type, url, amount, score, created_at, event_date, is_active, payload, attrs"
SCHEMA = pa.schema([
    ("id", pa.int64()), ("user_id", pa.int32()), ("event_type", pa.string()),
    ("url", pa.string()), ("amount", pa.decimal128(12, 2)), ("score", pa.float64()),
    ("created_at", pa.timestamp("us")), ("event_date", pa.date32()), ("is_active", pa.bool_()),
    ("payload", pa.string()), ("attrs", pa.string()),
])  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--my", required=True)
    ap.add_argument("--pg", required=True)
    ap.add_argument("--source", default="events")
    ap.add_argument("--target", default="events_baseline")
    ap.add_argument("--batch", type=int, default=100_000)
    a = ap.parse_args()
    # connectorx reports DECIMAL as decimal(38,10) and TINYINT(1) as int8: cast to the target.
    raw = cx.read_sql(
        a.my, f"SELECT {COLUMNS} FROM {a.source}", return_type="arrow_stream",
        batch_size=a.batch, protocol="binary",
    )  # fmt: skip
    reader = pa.RecordBatchReader.from_batches(SCHEMA, (b.cast(SCHEMA) for b in raw))
    with adbc.connect(a.pg) as conn, conn.cursor() as cur:
        rows = cur.adbc_ingest(a.target, reader, mode="append")
        conn.commit()
    print(f"baseline: {rows} rows into {a.target}")


if __name__ == "__main__":
    main()
