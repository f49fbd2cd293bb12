"""Loading Arrow batches into a MySQL/MariaDB table, fast.

Each batch is rendered to text column by column with Arrow compute (no Python loop per row),
then sent either as a tab-separated file through `LOAD DATA LOCAL INFILE` (about twice as fast)
or as multi-row INSERT statements sized below max_allowed_packet. LOAD DATA LOCAL turns errors
into warnings and skips duplicate keys, so every load checks its row count and warnings and
fails like an INSERT would. Servers that forbid LOCAL INFILE get INSERTs.
"""

from __future__ import annotations

import bisect
import functools
from pathlib import Path
from typing import TYPE_CHECKING

from osiris.components._values import duration_text, json_text
from osiris.components.api import StepError
from osiris.components.mysql._conn import Server, error_parts, quote_ident, translate

if TYPE_CHECKING:
    import pyarrow as pa
    from pymysql.connections import Connection

# "not allowed with this version" (MySQL 5.7), "loading local data is disabled" (MySQL 8),
# "disabled the local infile capability" (MariaDB 10.6+), and the client library's refusal.
_LOCAL_INFILE_REFUSED = {1148, 2068, 3948, 4166}
_STATEMENT_BYTES = 8 << 20


class _LocalInfileRefused(Exception):
    pass


def load(
    conn: Connection,
    srv: Server,
    into: str,
    reader: pa.RecordBatchReader,
    *,
    method: str,
    scratch: Path,
) -> str:
    """Append every batch of `reader` to the table `into` (quoted, and qualified as needed),
    inside the caller's transaction; the method it ended with.

    `method` is "auto" (LOAD DATA, switching to INSERT for good if the server refuses it),
    "load_data" or "insert". An exception raised while reading the input (an upstream failure)
    is re-raised as it was.
    """
    loader = _Loader(conn, srv, into, reader.schema, method=method, scratch=scratch)
    try:
        for batch in reader:
            loader.write(batch)
    finally:
        loader.close()
    return loader.method


class _Loader:
    def __init__(
        self,
        conn: Connection,
        srv: Server,
        table_sql: str,
        schema: pa.Schema,
        *,
        method: str,
        scratch: Path,
    ) -> None:
        self.conn = conn
        self.srv = srv
        self.method = method
        columns = ", ".join(quote_ident(f.name) for f in schema)
        self._insert = f"INSERT INTO {table_sql} ({columns}) VALUES ".encode()
        self._file = scratch / "mysql-load.tsv"
        self._load = (
            f"LOAD DATA LOCAL INFILE {conn.escape(str(self._file))} INTO TABLE {table_sql} "
            "CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' "
            f"LINES TERMINATED BY '\\n' ({columns})"
        )

    @functools.cached_property
    def _budget(self) -> int:
        """The most bytes of rows one INSERT statement carries (read when first needed)."""
        with self.conn.cursor() as cur:
            cur.execute("SELECT @@max_allowed_packet")
            row = cur.fetchone()
        packet = int(row[0]) if row else 4 << 20
        return max(64 << 10, min(_STATEMENT_BYTES, packet - (64 << 10)))

    def write(self, batch: pa.RecordBatch) -> None:
        if not batch.num_rows:
            return
        if self.method != "insert":
            try:
                self._load_data(batch)
                self.method = "load_data"
                return
            except _LocalInfileRefused as exc:
                if self.method == "load_data":
                    raise StepError(
                        "write.failed",
                        f"MySQL at {self.srv.where} does not allow LOAD DATA LOCAL INFILE "
                        f"({exc}); set `load_method: insert` or enable local_infile",
                    ) from exc
                self.method = "insert"
        self._insert_rows(batch)

    def close(self) -> None:
        self._file.unlink(missing_ok=True)

    def _load_data(self, batch: pa.RecordBatch) -> None:
        import pymysql

        rows = _rows(batch, "tsv", "\t", "", "\n")
        offsets, data = _buffers(rows)
        self._file.parent.mkdir(parents=True, exist_ok=True)
        with self._file.open("wb") as f:
            f.write(memoryview(data)[offsets[0] : offsets[-1]])
        with self.conn.cursor() as cur:
            try:
                cur.execute(self._load)
            except pymysql.MySQLError as exc:
                code, text, _ = error_parts(exc)
                if int(code or 0) in _LOCAL_INFILE_REFUSED:
                    raise _LocalInfileRefused(text) from exc
                raise translate(exc, self.srv, writing=True) from exc
            loaded, warnings = cur.rowcount, cur.warning_count
            if warnings or loaded != batch.num_rows:
                cur.execute("SHOW WARNINGS LIMIT 1")
                first = cur.fetchone()
                if first is None:
                    raise StepError(
                        "write.failed",
                        f"MySQL loaded {loaded} of {batch.num_rows} rows; check the table's keys",
                    )
                raise translate(pymysql.MySQLError(int(first[1]), first[2]), self.srv, writing=True)

    def _insert_rows(self, batch: pa.RecordBatch) -> None:
        import pymysql

        rows = _rows(batch, "sql", ",", "(", "),")
        offsets, data = _buffers(rows)
        view = memoryview(data)
        spans = _statements(offsets, self._budget)
        with self.conn.cursor() as cur:
            for start, stop in spans:
                # drop the last row's trailing comma
                values = view[offsets[start] : offsets[stop] - 1]
                try:
                    cur.execute(self._insert + bytes(values))
                except pymysql.MySQLError as exc:
                    raise translate(exc, self.srv, writing=True) from exc


def _statements(offsets: list[int], budget: int) -> list[tuple[int, int]]:
    """Row ranges whose text stays under `budget` bytes (a longer row goes alone)."""
    spans = []
    start, n = 0, len(offsets) - 1
    while start < n:
        stop = bisect.bisect_right(offsets, offsets[start] + budget, lo=start + 1) - 1
        stop = max(stop, start + 1)
        spans.append((start, stop))
        start = stop
    return spans


def _buffers(rows: pa.Array) -> tuple[list[int], pa.Buffer]:
    """The row offsets and the bytes of a large_binary array without nulls (no copy)."""
    import pyarrow as pa

    offsets = pa.Array.from_buffers(
        pa.int64(), len(rows) + 1, [None, rows.buffers()[1]], offset=rows.offset
    )
    return offsets.to_pylist(), rows.buffers()[2]


def _rows(batch: pa.RecordBatch, fmt: str, sep: str, before: str, after: str) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    def lit(text: str) -> pa.Scalar:
        return pa.scalar(text.encode(), pa.large_binary())

    columns = [
        _render(col, field, fmt) for col, field in zip(batch.columns, batch.schema, strict=True)
    ]
    line = pc.binary_join_element_wise(*columns, lit(sep))
    return pc.binary_join_element_wise(lit(before), line, lit(after), lit(""))


def _render(arr: pa.Array, field: pa.Field, fmt: str) -> pa.Array:
    """One column as bytes: TSV with backslash escapes and \\N, or SQL literals and NULL."""
    import pyarrow as pa

    # 64-bit offsets: a batch of large values may render to more than 2 GB
    return _text(arr, field, fmt).cast(pa.large_binary())


def _text(arr: pa.Array, field: pa.Field, fmt: str) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.cast(t.value_type)
        t = t.value_type
    quote = "'" if fmt == "sql" else ""
    null = "NULL" if fmt == "sql" else "\\N"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        text = _escape(arr.cast(pa.string()), fmt)
    elif pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        text = _escape(arr.cast(pa.binary()), fmt)
        quote = "_binary'" if fmt == "sql" else ""
    elif pa.types.is_boolean(t):
        return pc.fill_null(pc.if_else(arr, "1", "0"), null)
    elif pa.types.is_integer(t) or pa.types.is_decimal(t):
        return pc.fill_null(arr.cast(pa.string()), null)
    elif pa.types.is_floating(t):
        if not pc.all(pc.or_kleene(pc.is_finite(arr), pc.is_null(arr))).as_py():
            raise StepError(
                "type.unsupported",
                f"column '{field.name}' holds NaN or infinity, which MySQL cannot store; "
                "filter or replace those values first",
            )
        return pc.fill_null(arr.cast(pa.string()), null)
    elif pa.types.is_timestamp(t):
        # MySQL keeps microseconds at most; a time zone means UTC values (session is +00:00).
        micros = pc.cast(arr, pa.timestamp("us", t.tz), safe=False)
        text = micros.cast(pa.timestamp("us")).cast(pa.string())
    elif pa.types.is_date(t):
        text = arr.cast(pa.date32()).cast(pa.string())
    elif pa.types.is_time(t):
        text = pc.cast(arr, pa.time64("us"), safe=False).cast(pa.string())
    elif pa.types.is_duration(t):
        text = duration_text(arr)
    elif pa.types.is_list(t) or pa.types.is_large_list(t):
        text = _escape(json_text(arr), fmt)
    elif pa.types.is_null(t):
        return pa.array([null] * len(arr), pa.string())
    else:
        raise StepError(
            "type.unsupported",
            f"column '{field.name}' has Arrow type {t}, which cannot be written to MySQL; "
            "convert it in a transform step first",
        )
    if quote:
        text = pc.binary_join_element_wise(quote.encode(), text.cast(pa.binary()), b"'", b"")
    return pc.fill_null(text.cast(pa.binary()), null.encode())


def _escape(arr: pa.Array, fmt: str) -> pa.Array:
    import pyarrow.compute as pc

    pairs = [("\\", "\\\\"), ("\x00", "\\0")]
    if fmt == "sql":
        pairs.append(("'", "\\'"))
    else:
        pairs += [("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")]
    for old, new in pairs:
        arr = pc.replace_substring(arr, old, new)
    return arr
