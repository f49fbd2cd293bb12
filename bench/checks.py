"""What the benchmark verifies in the databases: row counts, per-column checksums and types.

Talks to the servers through the `mariadb` and `psql` clients, so run.py needs no driver.

The checksums are computed the same way on both sides from values, not from storage formats, so
any faithful target type passes and a lossy one is named: integers, decimals, day and second
offsets and DOUBLEs scaled by 1e12 are summed exactly; strings (id, event_type, url, payload),
the shortest round-trip text of each DOUBLE and the JSON members of `attrs` are hashed per row
(md5, first 60 bits, summed).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

MY_ARGS = ["-h127.0.0.1", "-P3306", "-ubench", "-pbench-secret", "--default-character-set=utf8mb4"]
PG_ARGS = ["-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-d", "bench"]
ENV = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "PGAPPNAME": "osiris-bench-check"}

# name -> (MariaDB expression, PostgreSQL expression); each is SUM()med or COUNT()ed as written.
_MY_HASH = "CAST(CONV(LEFT(MD5({}), 15), 16, 10) AS UNSIGNED)"
_PG_HASH = "('x' || left(md5({}), 15))::bit(60)::bigint"
_JSON_MY = (
    "CONCAT_WS('|', JSON_VALUE(attrs, '$.k'), JSON_VALUE(attrs, '$.n'), JSON_VALUE(attrs, '$.f'))"
)
_JSON_PG = "concat_ws('|', attrs::jsonb->>'k', attrs::jsonb->>'n', attrs::jsonb->>'f')"
CHECKS: dict[str, tuple[str, str]] = {
    "rows": ("COUNT(*)", "count(*)"),
    "url_not_null": ("COUNT(url)", "count(url)"),
    "attrs_not_null": ("COUNT(attrs)", "count(attrs)"),
    "user_id": ("SUM(user_id)", "sum(user_id)"),
    "amount": ("SUM(amount)", "sum(amount::numeric)"),
    # Both print the shortest round-trip text, but below 1e-4 PostgreSQL switches to exponent
    # notation and MariaDB does not: those few rows are covered by the scaled sum only.
    "score": (
        "SUM(IF(score >= 1e-4, " + _MY_HASH.format("CAST(score AS CHAR)") + ", 0))",
        "sum(CASE WHEN score >= 1e-4 THEN " + _PG_HASH.format("score::float8::text") + " END)",
    ),
    "score_e12": (
        "SUM(CAST(FLOOR(score * 1e12) AS SIGNED))",
        "sum(floor(score::float8 * 1e12)::bigint)",
    ),
    "created_at": (
        "SUM(TIMESTAMPDIFF(SECOND, '2020-01-01', created_at))",
        "sum(extract(epoch from created_at::timestamp - timestamp '2020-01-01')::bigint)",
    ),
    "event_date": (
        "SUM(DATEDIFF(event_date, '2020-01-01'))",
        "sum(event_date::date - date '2020-01-01')",
    ),
    "is_active": ("SUM(is_active)", "sum(is_active::int)"),
    "text": (
        "SUM("
        + _MY_HASH.format("CONCAT_WS('|', id, event_type, COALESCE(url, '~'), payload)")
        + ")",
        "sum("
        + _PG_HASH.format("concat_ws('|', id, event_type, coalesce(url, '~'), payload)")
        + ")",
    ),
    "attrs": ("SUM(" + _MY_HASH.format(_JSON_MY) + ")", "sum(" + _PG_HASH.format(_JSON_PG) + ")"),
}


class CheckError(Exception):
    pass


def _run(cmd: list[str], sql: str) -> list[list[str]]:
    res = subprocess.run(cmd, check=False, input=sql, text=True, capture_output=True, env=ENV)
    if res.returncode:
        raise CheckError(f"{cmd[0]} failed: {res.stderr.strip()[:500]}")
    return [line.split("\t") for line in res.stdout.splitlines() if line]


def mysql(sql: str, database: str = "bench") -> list[list[str]]:
    return _run(["mariadb", *MY_ARGS, "--batch", "--skip-column-names", database], sql)


def psql(sql: str) -> list[list[str]]:
    return _run(["psql", *PG_ARGS, "-X", "-q", "-tA", "-F", "\t", "-v", "ON_ERROR_STOP=1"], sql)


def _normal(value: str) -> str:
    # MariaDB prints SUM(DECIMAL) as "123.00", PostgreSQL sum(numeric) the same; NULL sums as "".
    return "0" if value in ("", "NULL") else value


def source_checksums(table: str, limit: int = 0) -> dict[str, str]:
    where = f" WHERE id <= {limit}" if limit else ""
    exprs = ", ".join(my for my, _ in CHECKS.values())
    row = mysql(f"SELECT {exprs} FROM `{table}`{where}")[0]
    return dict(zip(CHECKS, map(_normal, row), strict=True))


def target_checksums(qualified: str) -> dict[str, str]:
    exprs = ", ".join(pg for _, pg in CHECKS.values())
    row = psql(f"SELECT {exprs} FROM {qualified}")[0]
    return dict(zip(CHECKS, map(_normal, row), strict=True))


def compare(source: dict[str, str], target: dict[str, str]) -> list[str]:
    """Names of the checks whose values differ (empty: the copy is exact)."""
    return [name for name in CHECKS if source.get(name) != target.get(name)]


def count(qualified: str) -> int | None:
    try:
        return int(psql(f"SELECT count(*) FROM {qualified}")[0][0])
    except (CheckError, IndexError, ValueError):
        return None


@dataclass(frozen=True)
class ColumnType:
    name: str
    type: str
    not_null: bool
    key: bool

    def text(self) -> str:
        return self.type + (" NOT NULL" if self.not_null else "") + (" PK" if self.key else "")


def source_types(table: str) -> list[ColumnType]:
    rows = mysql(
        "SELECT c.COLUMN_NAME, c.COLUMN_TYPE, c.IS_NULLABLE, c.COLUMN_KEY, "
        "COALESCE(MAX(k.CHECK_CLAUSE LIKE CONCAT('json_valid(`', c.COLUMN_NAME, '`)')), 0) "
        "FROM information_schema.COLUMNS c LEFT JOIN information_schema.CHECK_CONSTRAINTS k "
        "ON k.CONSTRAINT_SCHEMA = c.TABLE_SCHEMA AND k.TABLE_NAME = c.TABLE_NAME "
        f"WHERE c.TABLE_SCHEMA = 'bench' AND c.TABLE_NAME = '{table}' "
        "GROUP BY c.ORDINAL_POSITION ORDER BY c.ORDINAL_POSITION"
    )
    # MariaDB stores JSON as LONGTEXT with a json_valid() CHECK: show the declared JSON.
    return [
        ColumnType(n, "json" if is_json == "1" else t, null == "NO", key == "PRI")
        for n, t, null, key, is_json in rows
    ]


def target_types(schema: str, table: str) -> list[ColumnType]:
    rows = psql(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
        "COALESCE(a.attnum = ANY(i.indkey::int2[]), false) "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary "
        f"WHERE n.nspname = '{schema}' AND c.relname = '{table}' AND a.attnum > 0 "
        "AND NOT a.attisdropped ORDER BY a.attnum"
    )
    return [ColumnType(n, t, nn == "t", k == "t") for n, t, nn, k in rows]


# What a faithful copy of bench.events looks like in PostgreSQL, column by column.
FAITHFUL = {
    "id": "bigint NOT NULL PK",
    "user_id": "integer NOT NULL",
    "event_type": "character varying(64) NOT NULL",
    "url": "character varying(255)",
    "amount": "numeric(12,2) NOT NULL",
    "score": "double precision NOT NULL",
    "created_at": "timestamp without time zone NOT NULL",
    "event_date": "date NOT NULL",
    "is_active": "boolean NOT NULL",
    "payload": "text NOT NULL",
    "attrs": "jsonb",
}
