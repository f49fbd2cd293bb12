"""JSON records (API pages) → Arrow record batches, streamed, with inferred types.

The first records, up to `window` rows (at least the first page), fix the stream's columns and
types; each later page becomes one batch of those columns. Nested objects are flattened into
`parent_child` columns (or kept whole as JSON text, tagged `osiris.type: json`, with
`flatten=False`); lists are JSON text, tagged the same way.

Types, inferred over the window: booleans → bool, whole numbers → int64, numbers with a
fraction (or whole and fractional mixed) → float64, text → string, only nulls → string. After
the window a value must fit its column: a whole-valued float fits int64, an int fits float64;
anything else (a fraction in an int64 column, a number in a text column, a new column) is a
`type.changed` error naming the column and the page, with the `schema` pin that fixes it.
Text never takes a number silently, and a number never becomes text silently.

`schema` pins columns to a type: string, int64, double, bool, json, date, timestamp (ISO 8601
text; a value with an offset is converted to UTC) — a pinned column is always there, in the
pinned order first.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from osiris.components._columns import OSIRIS_TYPE
from osiris.components.api import StepError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["PINNABLE", "Records", "find", "stream"]

PINNABLE = ("string", "int64", "double", "bool", "json", "date", "timestamp")
_INT64 = (-(2**63), 2**63 - 1)


def stream(
    pages: Iterator[list[Any]],
    *,
    flatten: bool = True,
    pinned: Mapping[str, str] | None = None,
    window: int = 1000,
) -> pa.RecordBatchReader:
    """A reader over `pages` (each a list of JSON objects) that asks for a page only when the
    one before is consumed (memory: the window, then a page at a time)."""
    import pyarrow as pa

    records = Records(flatten=flatten, pinned=pinned)
    buffered: list[list[dict[str, Any]]] = []
    count = 0
    for page in pages:
        rows = records.rows(page, len(buffered) + 1)
        buffered.append(rows)
        count += len(rows)
        if count >= window:
            break
    schema = records.fix([r for page in buffered for r in page])

    def batches() -> Iterator[pa.RecordBatch]:
        number = 0
        for rows in buffered:
            number += 1
            if rows:
                yield records.batch(rows, number)
        buffered.clear()
        for page in pages:
            number += 1
            rows = records.rows(page, number)
            if rows:
                yield records.batch(rows, number)

    return pa.RecordBatchReader.from_batches(schema, batches())


def find(body: Any, path: str) -> Any:
    """The value at a dotted `path` in a JSON body: `data.items`, `items[0]` (or `items.0`),
    `edges[*].node` (the `node` of every element: a list). None when something is missing."""
    node = body
    parts = [p for p in path.replace("[", ".[").split(".") if p]
    for i, part in enumerate(parts):
        if part in {"[*]", "*"}:
            if not isinstance(node, list):
                return None
            rest = ".".join(parts[i + 1 :])
            return [find(item, rest) if rest else item for item in node]
        key = part[1:-1] if part.startswith("[") and part.endswith("]") else part
        if isinstance(node, dict):
            node = node.get(key)
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return None
    return node


class Records:
    """The column shapes and types of one stream (see the module docstring)."""

    def __init__(self, *, flatten: bool = True, pinned: Mapping[str, str] | None = None) -> None:
        self.flatten = flatten
        self.pinned = dict(pinned or {})
        for name, kind in self.pinned.items():
            if kind not in PINNABLE:
                raise StepError(
                    "config.invalid",
                    f"schema: {name}: '{kind}' is not a type to pin; use one of "
                    + ", ".join(PINNABLE),
                )
        self.types: dict[str, str] = {}
        self.schema: pa.Schema | None = None

    def rows(self, page: Any, number: int) -> list[dict[str, Any]]:
        if not isinstance(page, list):
            raise StepError("http.bad_shape", f"page {number}: expected a list of records")
        out = []
        for record in page:
            if not isinstance(record, dict):
                raise StepError(
                    "http.bad_shape",
                    f"page {number}: a record is {type(record).__name__}, not an object; point "
                    "`data_path` at the list of records",
                )
            flat: dict[str, Any] = {}
            self._flatten(record, "", flat)
            out.append(flat)
        return out

    def _flatten(self, record: Mapping[str, Any], prefix: str, out: dict[str, Any]) -> None:
        for key, value in record.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict) and self.flatten and name not in self.pinned and value:
                self._flatten(value, f"{name}_", out)
            else:
                out[name] = value

    def fix(self, window: list[dict[str, Any]]) -> pa.Schema:
        """Infer the columns and types from the window's records; the stream's schema."""
        import pyarrow as pa

        names = list(self.pinned)
        for row in window:
            names += [n for n in row if n not in names]
        fields = []
        for name in names:
            kind = self.pinned.get(name) or _infer(name, (r.get(name) for r in window))
            self.types[name] = kind
            fields.append(_field(name, kind))
        self.schema = pa.schema(fields)
        return self.schema

    def batch(self, rows: list[dict[str, Any]], number: int) -> pa.RecordBatch:
        import pyarrow as pa

        assert self.schema is not None
        for row in rows:
            extra = [n for n in row if n not in self.types]
            if extra:
                raise StepError(
                    "type.changed",
                    f"page {number} has a column the first records did not: '{extra[0]}'; name "
                    f"it in `schema` (e.g. schema: {{{extra[0]}: string}}) so it is there from "
                    "the start",
                )
        columns = []
        for f in self.schema:
            kind = self.types[f.name]
            values = [_convert(r.get(f.name), kind, f.name, number) for r in rows]
            columns.append(pa.array(values, type=f.type))
        return pa.RecordBatch.from_arrays(columns, schema=self.schema)


def _infer(name: str, values: Iterable[Any]) -> str:
    seen: set[str] = set()
    for value in values:
        if value is None:
            continue
        if isinstance(value, bool):
            seen.add("bool")
        elif isinstance(value, int):
            seen.add("int64" if _INT64[0] <= value <= _INT64[1] else "double")
        elif isinstance(value, float):
            seen.add("double")
        elif isinstance(value, str):
            seen.add("string")
        else:
            seen.add("json")
    if not seen:
        return "string"
    if len(seen) == 1:
        return seen.pop()
    if seen == {"int64", "double"}:
        return "double"
    raise StepError(
        "type.mixed",
        f"column '{name}' holds {' and '.join(sorted(seen))} values; pin its type in `schema` "
        f"(e.g. schema: {{{name}: string}})",
    )


def _field(name: str, kind: str) -> pa.Field:
    import pyarrow as pa

    types = {
        "string": pa.string(),
        "json": pa.string(),
        "int64": pa.int64(),
        "double": pa.float64(),
        "bool": pa.bool_(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us", tz="UTC"),
    }
    metadata = {OSIRIS_TYPE: "json"} if kind == "json" else None
    return pa.field(name, types[kind], nullable=True, metadata=metadata)


def _convert(value: Any, kind: str, name: str, number: int) -> Any:
    if value is None:
        return None
    if kind == "json":
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if kind == "string" and isinstance(value, str):
        return value
    if kind == "int64" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "int64" and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind == "double" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind in ("date", "timestamp") and isinstance(value, str):
        try:
            if kind == "date":
                return dt.date.fromisoformat(value[:10])
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                return parsed.replace(tzinfo=dt.UTC)
            return parsed.astimezone(dt.UTC)
    if kind == "string" and isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    shown = json.dumps(value, ensure_ascii=False, default=str)[:60]
    raise StepError(
        "type.changed",
        f"column '{name}' is {kind} but page {number} has {shown}; pin the type in `schema` "
        f"(e.g. schema: {{{name}: {'double' if kind == 'int64' else 'string'}}})",
    )
