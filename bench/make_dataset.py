#!/usr/bin/env python3
"""Create the benchmark source table `bench.<table>` in MariaDB/MySQL and the Postgres database.

    python bench/make_dataset.py --rows 1000000                 # bench.events
    python bench/make_dataset.py --rows 5000000 --table events_5m
    python bench/make_dataset.py --rows 1000 --tsv-only --tsv /tmp/x.tsv

Stdlib only; talks to the servers through the `mariadb` (or `mysql`) and `psql` clients. The rows
are the ones of the shared peer measurements (seed 42, same generator call order), so results
compare with those anchors. Eleven columns: BIGINT PK, INT, VARCHAR(64), VARCHAR(255) with ~20%
NULL, DECIMAL(12,2), DOUBLE, DATETIME, DATE, TINYINT(1), TEXT (~100 chars, ~1% with tab/newline/
backslash/quote, ~2% non-ASCII incl. 4-byte emoji) and JSON (~10% NULL).

Setup it also does (idempotent): MariaDB database `bench` and user `bench`/`bench-secret` (@'%',
@'localhost', @'127.0.0.1'), PostgreSQL database `bench`. Admin logins: MariaDB root over TCP
without password, Postgres user postgres (trust), overridable with --my-admin / --pg-admin.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator

WORDS = (  # noqa: SIM905
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi "
    "omicron pi rho sigma tau upsilon phi chi psi omega order cart checkout "
    "login logout search click view scroll submit error retry payment refund "
    "invoice shipment warehouse customer supplier product catalog price stock"
).split()
EVENT_TYPES = [
    "page_view", "click", "add_to_cart", "checkout", "purchase", "login",
    "logout", "search", "refund", "signup", "error", "api_call",
]  # fmt: skip
UNICODE_BITS = ["café", "naïve", "日本語", "Zürich", "emoji🙂", "Ωmega"]
SPECIAL_BITS = ["tab\there", "new\nline", "back\\slash", 'quote"d', "it's"]
EPOCH = dt.datetime(2020, 1, 1)
FIVE_YEARS_S = 5 * 365 * 86400
NULL = "\\N"
BENCH_PASSWORD = "bench-secret"  # the MariaDB user the benchmark tools log in as: bench

DDL = """
CREATE TABLE {table} (
  id          BIGINT        NOT NULL PRIMARY KEY,
  user_id     INT           NOT NULL,
  event_type  VARCHAR(64)   NOT NULL,
  url         VARCHAR(255)  NULL,
  amount      DECIMAL(12,2) NOT NULL,
  score       DOUBLE        NOT NULL,
  created_at  DATETIME      NOT NULL,
  event_date  DATE          NOT NULL,
  is_active   TINYINT(1)    NOT NULL,
  payload     TEXT          NOT NULL,
  attrs       JSON          NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""


def _escape(text: str) -> str:
    """LOAD DATA's default escaping (ESCAPED BY '\\\\')."""
    for raw, esc in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
        text = text.replace(raw, esc)
    return text


def rows(n: int, seed: int) -> Iterator[str]:
    """TSV lines. The order of the generator calls is part of the dataset's definition."""
    rng = random.Random(seed)
    for i in range(1, n + 1):
        ts = EPOCH + dt.timedelta(seconds=rng.randint(0, FIVE_YEARS_S))
        if rng.random() < 0.2:
            url = NULL
        else:
            path = f"{rng.choice(WORDS)}/{rng.choice(WORDS)}"
            url = f"https://example.com/{path}?id={rng.randint(1, 10**9)}"
        words = rng.choices(WORDS, k=16)
        p = rng.random()
        if p < 0.01:
            words[rng.randint(0, 15)] = rng.choice(SPECIAL_BITS)
        elif p < 0.03:
            words[rng.randint(0, 15)] = rng.choice(UNICODE_BITS)
        payload = " ".join(words)[:110]
        if rng.random() < 0.1:
            attrs = NULL
        else:
            k, n_ = rng.choice(WORDS), rng.randint(0, 1000)
            attrs = f'{{"k": "{k}", "n": {n_}, "f": {round(rng.random(), 4)!r}}}'
        user_id = rng.randint(1, 2_000_000)
        event_type = rng.choice(EVENT_TYPES)
        amount = f"{rng.randint(0, 99_999)}.{rng.randint(0, 99):02d}"
        score = repr(rng.random() * 1000.0)
        active = "1" if rng.random() < 0.5 else "0"
        yield "\t".join(
            (
                str(i),
                str(user_id),
                event_type,
                url,
                amount,
                score,
                ts.strftime("%Y-%m-%d %H:%M:%S"),
                ts.strftime("%Y-%m-%d"),
                active,
                _escape(payload),
                attrs,
            )
        )


def write_tsv(path: str, n: int, seed: int) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        chunk: list[str] = []
        for line in rows(n, seed):
            chunk.append(line)
            if len(chunk) == 10_000:
                f.write("\n".join(chunk) + "\n")
                chunk.clear()
        if chunk:
            f.write("\n".join(chunk) + "\n")


def mysql(client: list[str], sql: str) -> str:
    res = subprocess.run(client, check=False, input=sql, text=True, capture_output=True)
    if res.returncode:
        sys.exit(f"mariadb client failed ({res.returncode}): {res.stderr.strip()}")
    return res.stdout


def ensure_postgres(pg_admin: list[str], database: str) -> None:
    exists = subprocess.run(  # noqa: PLW1510 (the return code is checked below)
        [
            *pg_admin,
            "-d",
            "postgres",
            "-tAc",
            f"SELECT 1 FROM pg_database WHERE datname = '{database}'",
        ],
        text=True,
        capture_output=True,
    )
    if exists.returncode:
        sys.exit(f"psql failed: {exists.stderr.strip()}")
    if exists.stdout.strip() != "1":
        subprocess.run(
            [*pg_admin, "-d", "postgres", "-c", f'CREATE DATABASE "{database}"'], check=True
        )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--database", default="bench")
    ap.add_argument("--table", default="events")
    ap.add_argument("--tsv", default="/tmp/bench_events.tsv")
    ap.add_argument("--tsv-only", action="store_true", help="write the TSV, do not load it")
    ap.add_argument("--keep-tsv", action="store_true")
    ap.add_argument("--client", default=shutil.which("mariadb") or shutil.which("mysql") or "mysql")
    ap.add_argument("--my-admin", default="-h127.0.0.1 -P3306 -uroot", help="admin login args")
    ap.add_argument("--pg-admin", default="-h 127.0.0.1 -p 5432 -U postgres", help="psql args")
    a = ap.parse_args()

    t0 = time.monotonic()
    write_tsv(a.tsv, a.rows, a.seed)
    size_mb = os.path.getsize(a.tsv) / 1e6
    print(f"wrote {a.rows:,} rows to {a.tsv} ({size_mb:.1f} MB) in {time.monotonic() - t0:.1f}s")
    if a.tsv_only:
        return

    client = [a.client, "--local-infile=1", "--default-character-set=utf8mb4", *a.my_admin.split()]
    users = "".join(
        f"CREATE USER IF NOT EXISTS 'bench'@'{host}';"
        f"ALTER USER 'bench'@'{host}' IDENTIFIED BY '{BENCH_PASSWORD}';"
        f"GRANT ALL PRIVILEGES ON *.* TO 'bench'@'{host}';"
        for host in ("%", "localhost", "127.0.0.1")
    )
    t1 = time.monotonic()
    out = mysql(
        client,
        f"CREATE DATABASE IF NOT EXISTS `{a.database}` DEFAULT CHARSET utf8mb4; {users}"
        f"USE `{a.database}`; DROP TABLE IF EXISTS `{a.table}`;"
        + DDL.format(table=f"`{a.table}`")
        + f"; SET unique_checks=0; LOAD DATA LOCAL INFILE '{a.tsv}' INTO TABLE `{a.table}` "
        "CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' "
        "LINES TERMINATED BY '\\n'; "
        f"ANALYZE TABLE `{a.table}`; SELECT COUNT(*) AS loaded_rows FROM `{a.table}`;",
    )
    print(
        out.strip().splitlines()[-1],
        f"rows in {a.database}.{a.table}, loaded in {time.monotonic() - t1:.1f}s",
    )
    ensure_postgres(["psql", "-X", "-q", *a.pg_admin.split()], a.database)
    if not a.keep_tsv:
        os.unlink(a.tsv)


if __name__ == "__main__":
    main()
