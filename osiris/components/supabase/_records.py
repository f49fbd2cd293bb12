"""Arrow batches ↔ the JSON rows of Supabase's REST API, keeping values exact.

To PostgREST: decimals go as JSON strings (PostgreSQL parses them exactly into numeric),
timestamps and dates as ISO text, bytes as `\\x<hex>`, NaN and infinities as the strings
PostgreSQL reads, columns tagged JSON as the JSON itself.

From PostgREST: the column types come from its OpenAPI description (`format` is the
PostgreSQL type name), so an integer stays an integer and a timestamp a timestamp; numbers are
parsed as decimals, so numeric values keep their digits (read as text, tagged `numeric`, as
the postgres extractor reads unconstrained numeric).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from osiris.components._columns import MAX_LENGTH, OSIRIS_TYPE
from osiris.components.api import StepError

if TYPE_CHECKING:
    import pyarrow as pa


# PostgREST's `format` (a PostgreSQL type name) -> pyarrow type factory
_SCALARS = {
    "smallint": "int16",
    "integer": "int32",
    "bigint": "int64",
    # PostgREST 14.8 and later describe integer columns by size
    "int32": "int32",
    "int64": "int64",
    "real": "float32",
    "double precision": "float64",
    "boolean": "bool_",
    "text": "string",
    "character varying": "string",
    "character": "string",
    "bytea": "binary",
    "date": "date32",
}
_TAGGED = {"json": "json", "jsonb": "json", "numeric": "numeric", "uuid": "uuid"}


def arrow_field(name: str, prop: dict[str, Any], *, nullable: bool) -> pa.Field:
    """The Arrow field for one column of PostgREST's OpenAPI description."""
    import pyarrow as pa

    fmt = str(prop.get("format") or "text").lower()
    meta: dict[bytes, bytes] = {}
    arrow_type: pa.DataType
    base = fmt.removesuffix("[]")
    if fmt in _SCALARS:
        arrow_type = getattr(pa, _SCALARS[fmt])()
        if fmt in ("character varying", "character") and prop.get("maxLength"):
            meta[MAX_LENGTH] = str(prop["maxLength"]).encode()
    elif fmt in ("timestamp without time zone", "timestamp with time zone"):
        arrow_type = pa.timestamp("us", "UTC" if "with time" in fmt else None)
    elif fmt == "time without time zone":
        arrow_type = pa.time64("us")
    elif fmt.endswith("[]") and base in _SCALARS and base != "bytea":
        arrow_type = pa.list_(getattr(pa, _SCALARS[base])())
    else:
        arrow_type = pa.string()
        meta[OSIRIS_TYPE] = _TAGGED.get(fmt, fmt).encode()
    return pa.field(name, arrow_type, nullable=nullable, metadata=meta or None)


def batch_from_json(body: bytes, schema: pa.Schema) -> pa.RecordBatch:
    """One page of PostgREST's answer (a JSON array of objects) as a batch of `schema`."""
    import pyarrow as pa

    rows = json.loads(body, parse_float=decimal.Decimal)
    if not isinstance(rows, list):
        raise StepError("sql.error", "Supabase answered something other than a list of rows")
    arrays = []
    for f in schema:
        values = [row.get(f.name) if isinstance(row, dict) else None for row in rows]
        arrays.append(_column(values, f))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _column(values: list[Any], f: pa.Field) -> pa.Array:
    import pyarrow as pa

    t = f.type
    tag = (f.metadata or {}).get(OSIRIS_TYPE)
    convert: Callable[[Any], Any]
    if pa.types.is_floating(t):
        convert = _float
    elif pa.types.is_integer(t):
        convert = int
    elif pa.types.is_binary(t):
        convert = _bytes
    elif pa.types.is_timestamp(t):
        convert = _timestamp
    elif pa.types.is_date(t):
        convert = dt.date.fromisoformat
    elif pa.types.is_time(t):
        convert = dt.time.fromisoformat
    elif pa.types.is_list(t):
        inner = t.value_type
        convert = (lambda v: [_float(x) for x in v]) if pa.types.is_floating(inner) else list
    elif tag == b"json":
        convert = _json_text
    elif pa.types.is_string(t):
        convert = _text
    else:
        convert = lambda v: v  # noqa: E731
    try:
        return pa.array([None if v is None else convert(v) for v in values], type=t)
    except (ValueError, TypeError, pa.ArrowException) as exc:
        raise StepError(
            "type.unsupported",
            f"column '{f.name}': Supabase sent a value that does not fit {t} ({exc})",
        ) from None


def _float(value: Any) -> float:
    if isinstance(value, str):  # PostgreSQL's NaN and infinities come as strings
        return float(value.replace("Infinity", "inf"))
    return float(value)


def _bytes(value: str) -> bytes:
    if value.startswith("\\x"):
        return bytes.fromhex(value[2:])
    return base64.b64decode(value)


def _timestamp(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value)
    return parsed.astimezone(dt.UTC) if parsed.tzinfo is not None else parsed


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=float)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, decimal.Decimal | int):
        return str(value)
    return _json_text(value)


# -- to PostgREST ------------------------------------------------------------------------


def rows_to_json(batch: pa.RecordBatch) -> list[dict[str, Any]]:
    """The rows of a batch as JSON-ready dicts (see the module docstring for the encoding)."""
    json_columns = {f.name for f in batch.schema if (f.metadata or {}).get(OSIRIS_TYPE) == b"json"}
    rows = batch.to_pylist()
    for row in rows:
        for name, value in row.items():
            if value is None:
                continue
            if name in json_columns and isinstance(value, str):
                row[name] = json.loads(value)
            else:
                row[name] = jsonable(value)
    return rows


def jsonable(value: Any) -> Any:
    """A value of `batch.to_pylist()` as PostgREST reads it (see the module docstring)."""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return f"{value.total_seconds()} seconds"
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    if isinstance(value, list):
        return [None if v is None else jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: None if v is None else jsonable(v) for k, v in value.items()}
    months = getattr(value, "months", None)  # pyarrow's MonthDayNano
    if months is not None:
        return f"{months} mons {value.days} days {value.nanoseconds // 1000} microseconds"
    return str(value)
