"""MySQL/MariaDB column types ↔ Arrow types.

Reading: the declared types come from information_schema, and connectorx's output is cast to
them. connectorx holds DECIMAL in a 28-digit rust_decimal and cannot represent TIME outside one
day, so those columns travel as text and are converted here, exactly or with a clear error.

Field metadata carries what Arrow types cannot: `osiris.type` (`json`, `uuid`, `inet`) and
`osiris.max_length` (VARCHAR/CHAR length); schema metadata `osiris.primary_key` holds the key
columns as a JSON list. Writers use them to create faithful tables.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from osiris.components._columns import LABELS, MAX_LENGTH, OSIRIS_TYPE, keyed_schema
from osiris.components.api import StepError
from osiris.components.mysql._conn import quote_ident

if TYPE_CHECKING:
    import pyarrow as pa
    from pymysql.connections import Connection

_SPATIAL = {
    "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring",
    "multipolygon", "geometrycollection",
}  # fmt: skip
_LABEL = re.compile(r"'((?:[^']|'')*)'")

_INTS = {"tinyint": 8, "smallint": 16, "mediumint": 32, "int": 32, "integer": 32, "bigint": 64}
_TEXTS = {"tinytext", "text", "mediumtext", "longtext"}
_BLOBS = {"tinyblob", "blob", "mediumblob", "longblob", "binary", "varbinary", "bit"}
_AS_TEXT = {"uuid": "uuid", "inet4": "inet", "inet6": "inet"}
# rust_decimal (inside connectorx) holds 28 significant digits; wider columns travel as text.
_CX_DECIMAL_DIGITS = 28
_CX_DECIMAL_SCALE = 10
_TIME_TEXT = r"^(?P<sign>-?)(?P<h>\d+):(?P<m>[0-5]\d):(?P<s>[0-5]\d)(?:\.)?(?P<f>\d{0,6})$"


@dataclass(frozen=True)
class Column:
    field: pa.Field
    select: str  # expression in the SELECT list
    convert: Callable[[pa.Array], pa.Array]
    unsupported: str = ""  # why this column cannot be read (an error only if it is selected)


def describe_table(conn: Connection, database: str, table: str) -> tuple[list[Column], list[str]]:
    """The table's columns in order, and its primary key; [] when the table does not exist."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, NUMERIC_PRECISION, "
            "NUMERIC_SCALE, CHARACTER_MAXIMUM_LENGTH FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
            (database, table),
        )
        rows = cur.fetchall()
        if not rows:
            return [], []
        cur.execute(
            "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = %s "
            "AND TABLE_NAME = %s AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
            (database, table),
        )
        pk = [r[0] for r in cur.fetchall()]
        json_columns: set[str] = set()
        # MariaDB stores JSON as LONGTEXT guarded by a json_valid() CHECK constraint.
        if "mariadb" in conn.get_server_info().lower():
            cur.execute(
                "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
                "WHERE CONSTRAINT_SCHEMA = %s AND TABLE_NAME = %s",
                (database, table),
            )
            for (clause,) in cur.fetchall():
                match = re.fullmatch(r"json_valid\(`((?:[^`]|``)+)`\)", clause.strip())
                if match:
                    json_columns.add(match.group(1).replace("``", "`"))
    return [_column(row, json_columns, table) for row in rows], pk


def unique_indexes(conn: Connection, database: str, table: str) -> list[set[str]]:
    """The column sets of the table's PRIMARY KEY and UNIQUE indexes."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s AND NON_UNIQUE = 0",
            (database, table),
        )
        rows = cur.fetchall()
    keys: dict[str, set[str]] = {}
    for index, column in rows:
        keys.setdefault(index, set()).add(column)
    return list(keys.values())


def _column(row: tuple[Any, ...], json_columns: set[str], table: str) -> Column:
    import pyarrow as pa

    name, data_type, column_type, nullable, precision, scale, max_length = row
    data_type = data_type.lower()
    declared, column_type = column_type, column_type.lower()
    unsigned = "unsigned" in column_type
    quoted = quote_ident(name)
    meta: dict[bytes, bytes] = {}
    select = quoted
    convert: Callable[[pa.Array], pa.Array] | None = None
    if data_type == "tinyint" and column_type.startswith("tinyint(1)") and not unsigned:
        arrow_type = pa.bool_()
    elif data_type in _INTS:
        bits = _INTS[data_type]
        arrow_type = getattr(pa, f"{'u' if unsigned else ''}int{bits}")()
    elif data_type in ("decimal", "numeric"):
        p, s = int(precision), int(scale)
        arrow_type = pa.decimal128(p, s) if p <= 38 else pa.decimal256(p, s)
        if p > _CX_DECIMAL_DIGITS or s > _CX_DECIMAL_SCALE:
            select = f"CAST({quoted} AS CHAR)"
    elif data_type == "float":
        arrow_type = pa.float32()
    elif data_type in ("double", "real"):
        arrow_type = pa.float64()
    elif data_type in ("char", "varchar"):
        arrow_type = pa.string()
        meta[MAX_LENGTH] = str(max_length).encode()
    elif data_type in ("enum", "set"):
        arrow_type = pa.string()
        meta[OSIRIS_TYPE] = data_type.encode()
        labels = [m.replace("''", "'") for m in _LABEL.findall(declared)]
        meta[LABELS] = json.dumps(labels, ensure_ascii=False).encode()
    elif data_type in _TEXTS or data_type == "json":
        arrow_type = pa.string()
        if data_type == "json" or name in json_columns:
            meta[OSIRIS_TYPE] = b"json"
    elif data_type in _AS_TEXT:
        arrow_type = pa.string()
        meta[OSIRIS_TYPE] = _AS_TEXT[data_type].encode()
        select = f"CAST({quoted} AS CHAR)"
    elif data_type in _BLOBS:
        arrow_type = pa.binary()
    elif data_type in _SPATIAL:
        # as WKB, which every spatial system reads (PostGIS, MySQL's ST_GeomFromWKB)
        arrow_type = pa.binary()
        meta[OSIRIS_TYPE] = b"geometry"
        select = f"ST_AsBinary({quoted})"
    elif data_type == "date":
        arrow_type = pa.date32()
    elif data_type in ("datetime", "timestamp"):
        arrow_type = pa.timestamp("us")
    elif data_type == "time":
        # a signed span of up to 838 hours, not a time of day: a duration (interval elsewhere)
        arrow_type = pa.duration("us")
        select = f"CAST({quoted} AS CHAR)"
        convert = _time_converter(name)
    elif data_type == "year":
        arrow_type = pa.int16()
    else:
        why = (
            f"column '{name}' of table '{table}' has type {column_type}, which Osiris cannot "
            "read; leave it out with `columns`, or convert it in a `query`"
        )
        return Column(pa.field(name, pa.null()), quoted, caster(pa.null()), unsupported=why)
    field = pa.field(name, arrow_type, nullable=nullable == "YES", metadata=meta or None)
    return Column(field, select, convert or caster(arrow_type))


def caster(arrow_type: pa.DataType) -> Callable[[pa.Array], pa.Array]:
    """A conversion to `arrow_type` (nothing to do for an array of that type already)."""

    def cast(arr: pa.Array) -> pa.Array:
        return arr if arr.type == arrow_type else arr.cast(arrow_type)

    return cast


def _time_converter(name: str) -> Callable[[pa.Array], pa.Array]:
    """TIME arrives as text ('-12:34:56', '838:59:59.5'): a duration in microseconds."""

    def convert(arr: pa.Array) -> pa.Array:
        import pyarrow as pa
        import pyarrow.compute as pc

        parts = pc.extract_regex(arr, _TIME_TEXT)
        if parts.null_count != arr.null_count:
            bad = arr.filter(pc.and_(pc.is_null(parts), pc.is_valid(arr)))[0].as_py()
            raise StepError("type.unsupported", f"column '{name}' holds TIME value '{bad}'")

        def field(key: str) -> pa.Array:
            return pc.struct_field(parts, key)

        hours = field("h").cast(pa.int64())
        minutes = pc.add(pc.multiply(hours, 60), field("m").cast(pa.int64()))
        seconds = pc.add(pc.multiply(minutes, 60), field("s").cast(pa.int64()))
        fraction = pc.utf8_rpad(field("f"), 6, "0")
        micros = pc.if_else(pc.equal(fraction, "000000"), 0, fraction.cast(pa.int64()))
        total = pc.add(pc.multiply(seconds, 1_000_000), micros)
        signed = pc.if_else(pc.equal(field("sign"), "-"), pc.negate(total), total)
        return signed.cast(pa.duration("us"))

    return convert


def table_schema(columns: list[Column], pk: list[str]) -> pa.Schema:
    return keyed_schema([c.field for c in columns], pk)


def query_schema(raw: pa.Schema) -> pa.Schema:
    """For `query` mode: connectorx's types, with 64-bit offsets narrowed to the usual ones."""
    import pyarrow as pa

    fields = []
    for f in raw:
        t = f.type
        if pa.types.is_large_binary(t):
            t = pa.binary()
        elif pa.types.is_large_string(t):
            t = pa.string()
        fields.append(f.with_type(t))
    return pa.schema(fields)


def column_ddl(field: pa.Field, *, key: bool = False) -> str:
    """The MySQL column type for an Arrow field (its metadata included), with NOT NULL."""
    import pyarrow as pa

    t = field.type
    meta = field.metadata or {}
    if pa.types.is_dictionary(t):
        t = t.value_type
    sql: str | None = None
    if pa.types.is_boolean(t):
        sql = "TINYINT(1)"
    elif pa.types.is_integer(t):
        names = {8: "TINYINT", 16: "SMALLINT", 32: "INT", 64: "BIGINT"}
        sql = names[t.bit_width] + ("" if pa.types.is_signed_integer(t) else " UNSIGNED")
    elif pa.types.is_float16(t) or pa.types.is_float32(t):
        sql = "FLOAT"
    elif pa.types.is_float64(t):
        sql = "DOUBLE"
    elif pa.types.is_decimal(t) and t.precision <= 65 and 0 <= t.scale <= 30:
        sql = f"DECIMAL({t.precision},{t.scale})"
    elif pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t):
        sql = _string_ddl(meta, key=key)
    elif pa.types.is_fixed_size_binary(t):
        sql = f"BINARY({t.byte_width})"
    elif pa.types.is_binary(t) or pa.types.is_large_binary(t):
        sql = "VARBINARY(255)" if key else "LONGBLOB"
    elif pa.types.is_date(t):
        sql = "DATE"
    elif pa.types.is_timestamp(t):
        sql = "DATETIME" + {"s": "", "ms": "(3)"}.get(t.unit, "(6)")
    elif pa.types.is_time(t) or pa.types.is_duration(t):
        sql = "TIME" + {"s": "", "ms": "(3)"}.get(t.unit, "(6)")
    elif pa.types.is_list(t) or pa.types.is_large_list(t):
        sql = "JSON"  # an array (PostgreSQL's, say) as a JSON array
    if sql is None:
        raise StepError(
            "type.unsupported",
            f"column '{field.name}' has Arrow type {t}, which has no MySQL column type; "
            "convert it in a transform step first",
        )
    return sql if field.nullable else sql + " NOT NULL"


def _string_ddl(meta: dict[bytes, bytes], *, key: bool) -> str:
    kind = meta.get(OSIRIS_TYPE)
    if kind == b"json" and not key:
        return "JSON"
    labels = _labels(meta)
    if kind in (b"enum", b"set") and labels:
        listed = ", ".join("'" + label.replace("'", "''") + "'" for label in labels)
        return f"{'ENUM' if kind == b'enum' else 'SET'}({listed})"
    if kind == b"uuid":
        return "CHAR(36)"
    length = meta.get(MAX_LENGTH)
    if length is not None and length.isdigit() and int(length) <= 16383:
        return f"VARCHAR({int(length)})"
    return "VARCHAR(255)" if key else "LONGTEXT"


def _labels(meta: dict[bytes, bytes]) -> list[str]:
    try:
        labels = json.loads(meta.get(LABELS, b"[]"))
    except ValueError:
        return []
    return [str(x) for x in labels] if isinstance(labels, list) else []


def create_table_sql(qualified: str, schema: pa.Schema, pk: list[str]) -> str:
    cols = [f"{quote_ident(f.name)} {column_ddl(f, key=f.name in pk)}" for f in schema]
    if pk:
        cols.append(f"PRIMARY KEY ({', '.join(quote_ident(c) for c in pk)})")
    # utf8mb4_bin: keys compare exactly, as in the source (the default collations fold case).
    return (
        f"CREATE TABLE {qualified} ({', '.join(cols)}) "
        "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
    )
