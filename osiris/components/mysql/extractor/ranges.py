"""Reading a table in key ranges, so that memory stays bounded whatever the table's size.

connectorx hands a query's batches to Python over an unbounded channel: when MySQL is read faster
than the consumer takes batches (a database writer, usually), one big query piles the rest of
the table up in memory. So a table with an integer key is read as consecutive ranges
`key BETWEEN lo AND hi ... ORDER BY key LIMIT cap`, and at most LOOKAHEAD of them are started and
not yet consumed: memory holds at most LOOKAHEAD * cap rows, however large the table.

The first ranges are sized from MIN/MAX of the key (read from the index at once) and the
statistics' row estimate (COUNT(*) would scan the table); later ones from the rows the previous
range actually returned. Keys need not be dense: a range that reaches its LIMIT is cut there, and
the rest of it is read next (`key > last key seen`), so a sparse estimate never reads a dense
stretch in one go.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from osiris.components.api import StepError
from osiris.components.mysql._conn import quote_ident
from osiris.components.mysql._types import unique_indexes

if TYPE_CHECKING:
    import pyarrow as pa
    from pymysql.connections import Connection

    from osiris.components.mysql._types import Column

LOOKAHEAD = 2  # ranges started and not yet consumed: the one being read and the next
AIM_BATCHES = 1  # a range is sized to return about this many batches ...
CAP_BATCHES = 2  # ... and returns at most this many (its LIMIT)
EMPTY_GROWTH = 8  # an empty range (a gap in the keys, or a selective `where`) widens the next


def split_key(
    conn: Connection,
    database: str,
    table: str,
    columns: list[Column],
    *,
    pk: list[str],
    wanted: str | bool | None,
    cursor: str | None,
) -> str | None:
    """The column to read `table` by in ranges (`split_by`), or None to use a single query."""
    by_name = {c.field.name: c for c in columns}
    if wanted is None:
        # Rows must come in cursor order, which ranges of another column would break.
        if len(pk) != 1 or (cursor and cursor != pk[0]):
            return None
        return pk[0] if _is_integer(by_name[pk[0]]) else None
    if not isinstance(wanted, str):  # `split_by: false`
        return None
    where = f"table '{database}.{table}'"
    if wanted not in by_name:
        raise StepError(
            "config.invalid",
            f"`split_by` column '{wanted}' is not a column of {where}; its columns are "
            f"{', '.join(by_name)}",
        )
    column = by_name[wanted]
    fits = _is_integer(column) and not column.field.nullable
    if not fits or {wanted} not in unique_indexes(conn, database, table):
        raise StepError(
            "config.invalid",
            f"`split_by` needs an integer NOT NULL column with a unique index of its own; "
            f"'{wanted}' of {where} is not one; pick another column or remove `split_by`",
        )
    if cursor and cursor != wanted:
        raise StepError(
            "config.invalid",
            f"`split_by` '{wanted}' differs from `cursor_column` '{cursor}', and rows must come "
            "in cursor order; set `split_by` to the cursor column or remove it",
        )
    return wanted


def _is_integer(column: Column) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_integer(column.field.type))


def key_bounds(
    conn: Connection, database: str, table: str, key: str, since: Any, *, operator: str = ">"
) -> tuple[int, int, float] | None:
    """(lowest key, highest key, estimated rows per key value); None when there are no rows."""
    qualified = f"{quote_ident(database)}.{quote_ident(table)}"
    sql = f"SELECT MIN({quote_ident(key)}), MAX({quote_ident(key)}) FROM {qualified}"
    if since is not None:
        sql += f" WHERE {quote_ident(key)} {operator} {conn.escape(since)}"
    with conn.cursor() as cur:
        cur.execute(sql)
        lo, hi = cur.fetchone()
        if lo is None:
            return None
        cur.execute(
            "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND "
            "TABLE_NAME = %s",
            (database, table),
        )
        row = cur.fetchone()
    estimate = int(row[0] or 0) if row else 0
    # A unique key holds at most one row per value; no estimate (a fresh table): assume dense.
    density = min(1.0, estimate / (int(hi) - int(lo) + 1)) if estimate else 1.0
    return int(lo), int(hi), density


def read(
    open_query: Callable[[str], pa.RecordBatchReader],
    select: str,
    *,
    conditions: list[str],
    key: str,
    bounds: tuple[int, int, float],
    batch_size: int,
    key_index: int,
    drop_key: bool,
) -> Iterator[pa.RecordBatch]:
    """The rows of `select` in key order, read range by range as the consumer pulls them.

    `key_index` is the key's position in the selected columns; with `drop_key` it was selected
    only to learn where a cut range stopped, and is removed from the batches.
    """
    lo, hi, density = bounds
    aim, cap = AIM_BATCHES * batch_size, CAP_BATCHES * batch_size
    k = quote_ident(key)

    def start(first: int, last: int) -> tuple[int, int, pa.RecordBatchReader]:
        where = " AND ".join([*conditions, f"{k} BETWEEN {first} AND {last}"])
        return first, last, open_query(f"{select} WHERE {where} ORDER BY {k} LIMIT {cap}")

    started: deque[tuple[int, int, pa.RecordBatchReader]] = deque()
    current: pa.RecordBatchReader | None = None
    next_lo = lo
    try:
        while started or next_lo <= hi:
            while len(started) < LOOKAHEAD and next_lo <= hi:
                span = int(aim / density) if density > 0 else hi - next_lo + 1
                started.append(start(next_lo, min(hi, next_lo + max(1, span) - 1)))
                next_lo = started[-1][1] + 1
            first, last, current = started.popleft()
            rows, last_key = 0, first - 1
            for batch in current:
                if batch.num_rows:
                    rows += batch.num_rows
                    last_key = int(batch.column(key_index)[-1].as_py())
                    yield batch.drop_columns([batch.schema.names[key_index]]) if drop_key else batch
            current = None
            if rows >= cap and last_key < last:
                # Cut by the LIMIT: the rest comes before the ranges already started.
                started.appendleft(start(last_key + 1, last))
                density = rows / (last_key - first + 1)
            elif rows:
                density = rows / (last - first + 1)
            else:
                density /= EMPTY_GROWTH
    finally:
        # Stops connectorx's readers of a stream the consumer abandoned.
        for reader in [current, *(r for _, _, r in started)]:
            if reader is not None:
                reader.close()
