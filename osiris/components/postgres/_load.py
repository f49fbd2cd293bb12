"""Loading an Arrow stream into an existing PostgreSQL table with binary COPY (ADBC).

Binary COPY needs each value in exactly the wire format of its column's type, so every input
column is cast to the Arrow type ADBC encodes as that type (int64 into an `integer` column
becomes int32, a string into `jsonb` gets jsonb's version byte). Columns whose type has no
Arrow counterpart (uuid, inet, enums, ...) go as text into a temporary table and are cast by
PostgreSQL on the way into the target.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from osiris.components.api import StepError
from osiris.components.postgres._conn import quote_ident
from osiris.components.postgres._types import CATALOG_SQL, SCALARS

if TYPE_CHECKING:
    import pyarrow as pa
    from adbc_driver_manager.dbapi import Cursor

# the Arrow type each PostgreSQL type is sent as in binary COPY
_WIRE = {**SCALARS, "json": "string"}


@dataclass(frozen=True)
class TargetColumn:
    name: str
    typname: str
    declared: str  # format_type(), e.g. "character varying(64)"
    element: str  # element typname of an array type


@dataclass(frozen=True)
class _Plan:
    name: str
    wire: pa.DataType
    convert: Callable[[pa.Array], pa.Array]
    text: bool  # goes through a temporary text column and a CAST


def target_columns(cur: Cursor, schema: str, table: str) -> dict[str, TargetColumn]:
    """The table's columns by name, in order; empty when there is no such table."""
    cur.execute(CATALOG_SQL, parameters=(schema, table))
    return {r[0]: TargetColumn(r[0], r[1], r[4], r[5]) for r in cur.fetchall()}


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
    import pyarrow as pa

    plans = [_plan(f, targets[f.name]) for f in reader.schema]
    wire = pa.schema([pa.field(p.name, p.wire) for p in plans])
    feed = _Feed(reader, plans)
    stream = pa.RecordBatchReader.from_batches(wire, feed.batches())
    try:
        if not any(p.text for p in plans):
            if temporary:
                cur.adbc_ingest(table, stream, mode="append", temporary=True)
            else:
                cur.adbc_ingest(table, stream, mode="append", db_schema_name=schema)
            return
        tmp = f"osiris_load_{secrets.token_hex(4)}"
        cols = ", ".join(
            f"{quote_ident(p.name)} {'text' if p.text else targets[p.name].declared}" for p in plans
        )
        cur.execute(f"CREATE TEMPORARY TABLE {quote_ident(tmp)} ({cols}) ON COMMIT DROP")
        cur.adbc_ingest(tmp, stream, mode="append", temporary=True)
        exprs = ", ".join(
            f"CAST({quote_ident(p.name)} AS {targets[p.name].declared})"
            if p.text
            else quote_ident(p.name)
            for p in plans
        )
        names = ", ".join(quote_ident(p.name) for p in plans)
        into = quote_ident(table) if temporary else f"{quote_ident(schema)}.{quote_ident(table)}"
        cur.execute(f"INSERT INTO {into} ({names}) SELECT {exprs} FROM pg_temp.{quote_ident(tmp)}")
        cur.execute(f"DROP TABLE pg_temp.{quote_ident(tmp)}")
    except Exception:
        if feed.error is not None:
            raise feed.error from None
        raise


class _Feed:
    """Converts input batches to wire types and remembers why the input failed, if it did."""

    def __init__(self, reader: pa.RecordBatchReader, plans: list[_Plan]) -> None:
        self.reader = reader
        self.plans = plans
        self.error: BaseException | None = None

    def batches(self) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        schema = pa.schema([pa.field(p.name, p.wire) for p in self.plans])
        try:
            for batch in self.reader:
                arrays = [p.convert(col) for p, col in zip(self.plans, batch.columns, strict=True)]
                yield pa.RecordBatch.from_arrays(arrays, schema=schema)
        except GeneratorExit:
            raise
        except BaseException as exc:
            self.error = exc
            raise


def _plan(field: pa.Field, target: TargetColumn) -> _Plan:
    import pyarrow as pa

    source = field.type
    if isinstance(source, pa.ExtensionType):
        source = source.storage_type
    if pa.types.is_dictionary(source):
        source = source.value_type
    typ = target.typname
    wire: pa.DataType | None = None
    if typ in _WIRE:
        wire = getattr(pa, _WIRE[typ])()
    elif typ == "numeric" and (pa.types.is_decimal(source) or pa.types.is_integer(source)):
        wire = source
    elif typ in ("timestamp", "timestamptz"):
        wire = pa.timestamp("us", "UTC" if typ == "timestamptz" else None)
    elif typ == "time":
        wire = pa.time64("us")
    elif typ == "interval" and pa.types.is_interval(source):
        wire = source
    elif typ == "jsonb" and _is_text(source):
        return _Plan(field.name, pa.binary(), _jsonb, text=False)
    elif target.element in _WIRE and (pa.types.is_list(source) or pa.types.is_large_list(source)):
        wire = pa.list_(getattr(pa, _WIRE[target.element])())
    text = wire is None
    wire = wire or pa.string()
    _check_castable(field, source, wire, target)
    return _Plan(field.name, wire, _caster(field.name, wire), text=text)


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


def _jsonb(arr: pa.Array) -> pa.Array:
    """jsonb's binary format is a version byte (1) followed by the JSON text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.binary_join_element_wise(b"\x01", _plain(arr).cast(pa.binary()), b"")
