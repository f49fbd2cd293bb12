"""Experiment: client CPU of turning Arrow batches into PostgreSQL binary COPY, two ways.

    copy_encoders.py --pg postgresql://postgres@127.0.0.1:5432/bench --my mysql://... [--rows N]

Reads `bench.events` once with connectorx, then loads it three times each way into a fresh
table with the benchmark's types (attrs jsonb, no key), and prints wall time, this process's
CPU (the encoding; psycopg/libpq only send) and the PostgreSQL backend's CPU:
* adbc: `adbc_ingest` of ADBC's PostgreSQL driver (what postgres.writer used before);
* pgpq: pgpq's ArrowToPostgresBinaryEncoder, sent with psycopg's COPY (what it uses now).
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections.abc import Callable

import adbc_driver_postgresql.dbapi as adbc
import connectorx as cx
import pgpq
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from pgpq.encoders import StringEncoderBuilder
from pgpq.schema import Jsonb

COLUMNS = (
    "id, user_id, event_type, url, amount, score, created_at, event_date, is_active, payload, attrs"
)
SCHEMA = pa.schema([
    ("id", pa.int64()), ("user_id", pa.int32()), ("event_type", pa.string()),
    ("url", pa.string()), ("amount", pa.decimal128(12, 2)), ("score", pa.float64()),
    ("created_at", pa.timestamp("us")), ("event_date", pa.date32()), ("is_active", pa.bool_()),
    ("payload", pa.string()), ("attrs", pa.string()),
])  # fmt: skip
DDL = """CREATE TABLE enc_t (id bigint NOT NULL, user_id integer NOT NULL,
  event_type varchar(64) NOT NULL, url varchar(255), amount numeric(12,2) NOT NULL,
  score double precision NOT NULL, created_at timestamp NOT NULL, event_date date NOT NULL,
  is_active boolean NOT NULL, payload text NOT NULL, attrs jsonb)"""


def backend_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def via_adbc(pg: str, batches: list[pa.RecordBatch]) -> tuple[float, float, float]:
    # ADBC wants jsonb's version byte in front of the text
    jsonb = [
        b.set_column(
            10, "attrs", pc.binary_join_element_wise(b"\x01", b["attrs"].cast(pa.binary()), b"")
        )
        for b in batches
    ]
    with adbc.connect(pg) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
        cur.execute("DROP TABLE IF EXISTS enc_t")
        cur.execute(DDL)
        conn.commit()
        return timed(
            pid,
            lambda: (
                cur.adbc_ingest(
                    "enc_t",
                    pa.RecordBatchReader.from_batches(jsonb[0].schema, iter(jsonb)),
                    mode="append",
                ),
                conn.commit(),
            ),
        )


def via_pgpq(pg: str, batches: list[pa.RecordBatch]) -> tuple[float, float, float]:
    builders = {f.name: pgpq.ArrowToPostgresBinaryEncoder.infer_encoder(f) for f in SCHEMA}
    builders["attrs"] = StringEncoderBuilder.new_with_output(SCHEMA.field("attrs"), Jsonb())
    with psycopg.connect(pg) as conn, conn.cursor() as cur:
        pid = conn.info.backend_pid
        cur.execute("DROP TABLE IF EXISTS enc_t")
        cur.execute(DDL)
        conn.commit()

        def load() -> None:
            encoder = pgpq.ArrowToPostgresBinaryEncoder.new_with_encoders(SCHEMA, builders)
            with cur.copy("COPY enc_t FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(encoder.write_header())
                for batch in batches:
                    copy.write(encoder.write_batch(batch))
                copy.write(encoder.finish())
            conn.commit()

        return timed(pid, load)


def timed(pid: int, work: Callable[[], object]) -> tuple[float, float, float]:
    c0, s0, w0 = own_cpu(), backend_cpu(pid), time.perf_counter()
    work()
    return time.perf_counter() - w0, own_cpu() - c0, backend_cpu(pid) - s0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg", required=True)
    ap.add_argument("--my", required=True)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=25_000)
    a = ap.parse_args()
    table = cx.read_sql(
        a.my, f"SELECT {COLUMNS} FROM events WHERE id <= {a.rows}", return_type="arrow"
    )
    batches = table.cast(SCHEMA).combine_chunks().to_batches(a.batch)
    for name, way in (("adbc", via_adbc), ("pgpq", via_pgpq)) * 3:
        wall, client, server = way(a.pg, batches)
        print(
            f"{name}: wall {wall:.2f} s, encoder CPU {client:.2f} s, PG backend CPU {server:.2f} s"
        )


if __name__ == "__main__":
    main()
