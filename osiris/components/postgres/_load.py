"""Loading an Arrow stream into an existing PostgreSQL table with binary COPY (psycopg).

Binary COPY needs each value in exactly the wire format of its column's type, so every input
column is first cast to the Arrow type that matches that format (int64 into an `integer` column
becomes int32), then encoded by `_copy` a column at a time. Columns whose type has no such
encoding here (uuid, inet, enums, numeric from floats, ...) go as text into a temporary table and
are cast by PostgreSQL on the way into the target.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from osiris.components.api import StepError
from osiris.components.postgres._conn import quote_ident
from osiris.components.postgres._copy import SIGNATURE, TRAILER, Wire, encode
from osiris.components.postgres._types import CATALOG_SQL, SCALARS

if TYPE_CHECKING:
    import pyarrow as pa
    from psycopg import Cursor

# the Arrow type each PostgreSQL type is sent as in binary COPY, and its encoding in _copy
_WIRE = {**SCALARS, "json": "string"}
_KIND = {
    "int2": "int2",
    "int4": "int4",
    "int8": "int8",
    "float4": "float4",
    "float8": "float8",
    "bool": "bool",
    "date": "date",
}


@dataclass(frozen=True)
class TargetColumn:
    name: str
    typname: str
    declared: str  # format_type(), e.g. "character varying(64)"
    element: str  # element typname of an array type
    element_oid: int = 0


@dataclass(frozen=True)
class _Plan:
    name: str
    wire: pa.DataType
    convert: Callable[[pa.Array], pa.Array]
    encoding: Wire
    text: bool  # goes through a temporary text column and a CAST


def target_columns(cur: Cursor, schema: str, table: str) -> dict[str, TargetColumn]:
    """The table's columns by name, in order; empty when there is no such table."""
    cur.execute(CATALOG_SQL, (schema, table))
    return {r[0]: TargetColumn(r[0], r[1], r[4], r[5], r[7]) for r in cur.fetchall()}


def load(
    cur: Cursor,
    schema: str,
    table: str,
    reader: pa.RecordBatchReader,
    targets: dict[str, TargetColumn],
    *,
    temporary: bool = False,
) -> None:
    """Append every batch of `reader` to the table; the caller owns the transaction.

    An exception raised while reading the input (an upstream failure) is re-raised as it was.
    """
    plans = [_plan(f, targets[f.name]) for f in reader.schema]
    into = quote_ident(table) if temporary else f"{quote_ident(schema)}.{quote_ident(table)}"
    names = ", ".join(quote_ident(p.name) for p in plans)
    if not any(p.text for p in plans):
        _copy(cur, into, names, reader, plans)
        return
    tmp = quote_ident(f"osiris_load_{secrets.token_hex(4)}")
    cols = ", ".join(
        f"{quote_ident(p.name)} {'text' if p.text else targets[p.name].declared}" for p in plans
    )
    cur.execute(f"CREATE TEMPORARY TABLE {tmp} ({cols}) ON COMMIT DROP")
    _copy(cur, f"pg_temp.{tmp}", names, reader, plans)
    exprs = ", ".join(
        f"CAST({quote_ident(p.name)} AS {targets[p.name].declared})"
        if p.text
        else quote_ident(p.name)
        for p in plans
    )
    cur.execute(f"INSERT INTO {into} ({names}) SELECT {exprs} FROM pg_temp.{tmp}")
    cur.execute(f"DROP TABLE pg_temp.{tmp}")


def _copy(
    cur: Cursor, into: str, names: str, reader: pa.RecordBatchReader, plans: list[_Plan]
) -> None:
    wires = [p.encoding for p in plans]
    with cur.copy(f"COPY {into} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(SIGNATURE)
        for batch in reader:
            arrays = [p.convert(col) for p, col in zip(plans, batch.columns, strict=True)]
            for chunk in encode(arrays, wires):
                copy.write(memoryview(chunk))
        copy.write(TRAILER)


def _plan(field: pa.Field, target: TargetColumn) -> _Plan:
    import pyarrow as pa

    source = field.type
    if isinstance(source, pa.ExtensionType):
        source = source.storage_type
    if pa.types.is_dictionary(source):
        source = source.value_type
    typ = target.typname
    wire: pa.DataType | None = None
    encoding = Wire("bytes")
    if typ in _WIRE:
        wire = getattr(pa, _WIRE[typ])()
        encoding = Wire(_KIND.get(typ, "bytes"))
    elif typ == "numeric" and pa.types.is_decimal(source) and source.scale >= 0:
        wire, encoding = source, Wire("numeric")
    elif typ == "numeric" and pa.types.is_integer(source):
        wire, encoding = pa.decimal128(20, 0), Wire("numeric")
    elif typ in ("timestamp", "timestamptz"):
        wire = pa.timestamp("us", "UTC" if typ == "timestamptz" else None)
        encoding = Wire("timestamp")
    elif typ == "time":
        wire, encoding = pa.time64("us"), Wire("time")
    elif typ == "interval" and pa.types.is_interval(source):
        wire, encoding = source, Wire("interval")
    elif typ == "jsonb" and _is_text(source):
        wire, encoding = pa.string(), Wire("jsonb")
    elif target.element in _WIRE and (pa.types.is_list(source) or pa.types.is_large_list(source)):
        wire = pa.list_(getattr(pa, _WIRE[target.element])())
        element = Wire(_KIND.get(target.element, "bytes"))
        encoding = Wire("array", element, target.element_oid)
    text = wire is None
    wire = wire or pa.string()
    _check_castable(field, source, wire, target)
    return _Plan(field.name, wire, _caster(field.name, wire), encoding, text=text)


def _is_text(t: pa.DataType) -> bool:
    import pyarrow as pa

    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _check_castable(
    field: pa.Field, source: pa.DataType, wire: pa.DataType, target: TargetColumn
) -> None:
    import pyarrow as pa

    try:
        pa.array([], type=source).cast(wire)
    except pa.ArrowNotImplementedError:
        raise StepError(
            "type.unsupported",
            f"column '{field.name}' holds {field.type}, which cannot be written to a "
            f"{target.declared} column; convert it in a transform step first",
        ) from None


def _plain(arr: pa.Array) -> pa.Array:
    import pyarrow as pa

    if isinstance(arr, pa.ExtensionArray):
        arr = arr.storage
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    return arr


def _caster(name: str, wire: pa.DataType) -> Callable[[pa.Array], pa.Array]:
    import pyarrow as pa
    import pyarrow.compute as pc

    # Sub-microsecond digits have nowhere to go in PostgreSQL; everything else must fit exactly.
    truncate = pa.types.is_timestamp(wire) or pa.types.is_time(wire)

    def cast(arr: pa.Array) -> pa.Array:
        arr = _plain(arr)
        if arr.type == wire:
            return arr
        try:
            return pc.cast(arr, wire, safe=not truncate)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise StepError(
                "write.failed", f"column '{name}': {exc}; the value does not fit the column's type"
            ) from None

    return cast
