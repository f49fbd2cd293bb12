"""Loading an Arrow stream into an existing PostgreSQL table with binary COPY (psycopg).

Binary COPY needs each value in exactly the wire format of its column's type, so every input
column is first cast to the Arrow type that pgpq encodes as that type (int64 into an `integer`
column becomes int32); pgpq (Rust) turns each batch into COPY rows, and psycopg sends them.
Columns whose type has no such Arrow counterpart (uuid, inet, enums, numeric from floats or
wider than 38 digits, intervals with months, arrays of varchar) go as text (or text[]) into a
temporary table and are cast by PostgreSQL on the way into the target; JSON arrays into an
array column and WKB into a PostGIS geometry column are converted the same way.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from osiris.components.api import StepError
from osiris.components.postgres._conn import quote_ident
from osiris.components.postgres._types import CATALOG_SQL, SCALARS

if TYPE_CHECKING:
    import pyarrow as pa
    from pgpq import ArrowToPostgresBinaryEncoder
    from psycopg import Cursor

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
    # the column type in a temporary table the values go through (then `into`, an expression
    # of the staged column, moves them into the target); None: straight into the target
    stage: str | None = None
    jsonb: bool = False
    into: str = "CAST({column} AS {declared})"


def target_columns(cur: Cursor, schema: str, table: str) -> dict[str, TargetColumn]:
    """The table's columns by name, in order; empty when there is no such table."""
    cur.execute(CATALOG_SQL, (schema, table))
    return {r[0]: TargetColumn(r[0], r[1], r[4], r[5]) for r in cur.fetchall()}


def load(
    cur: Cursor, into: str, reader: pa.RecordBatchReader, targets: dict[str, TargetColumn]
) -> None:
    """Append every batch of `reader` to the table `into` (quoted, and qualified as needed),
    whose columns are `targets`; the caller owns the transaction.

    An exception raised while reading the input (an upstream failure) is re-raised as it was.
    """
    plans = [_plan(f, targets[f.name]) for f in reader.schema]
    names = ", ".join(quote_ident(p.name) for p in plans)
    if not any(p.stage for p in plans):
        _copy(cur, into, names, reader, plans)
        return
    tmp = quote_ident(f"osiris_load_{secrets.token_hex(4)}")
    cols = ", ".join(f"{quote_ident(p.name)} {p.stage or targets[p.name].declared}" for p in plans)
    cur.execute(f"CREATE TEMPORARY TABLE {tmp} ({cols}) ON COMMIT DROP")
    _copy(cur, f"pg_temp.{tmp}", names, reader, plans)
    exprs = ", ".join(
        p.into.format(column=quote_ident(p.name), declared=targets[p.name].declared)
        if p.stage
        else quote_ident(p.name)
        for p in plans
    )
    cur.execute(f"INSERT INTO {into} ({names}) SELECT {exprs} FROM pg_temp.{tmp}")
    cur.execute(f"DROP TABLE pg_temp.{tmp}")


def _copy(
    cur: Cursor, into: str, names: str, reader: pa.RecordBatchReader, plans: list[_Plan]
) -> None:
    import pyarrow as pa

    wire = pa.schema([pa.field(p.name, p.wire) for p in plans])
    encoder = _encoder(plans, wire)
    with cur.copy(f"COPY {into} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(encoder.write_header())
        for batch in reader:
            arrays = [p.convert(col) for p, col in zip(plans, batch.columns, strict=True)]
            copy.write(encoder.write_batch(pa.RecordBatch.from_arrays(arrays, schema=wire)))
        copy.write(encoder.finish())


def _encoder(plans: list[_Plan], wire: pa.Schema) -> ArrowToPostgresBinaryEncoder:
    """pgpq's encoder for batches of schema `wire` (one field per plan, in order)."""
    import pgpq
    from pgpq.encoders import StringEncoderBuilder
    from pgpq.schema import Jsonb

    builders: dict[str, Any] = {}
    for p, field in zip(plans, wire, strict=True):
        if p.jsonb:
            builders[p.name] = StringEncoderBuilder.new_with_output(field, Jsonb())
        else:
            builders[p.name] = pgpq.ArrowToPostgresBinaryEncoder.infer_encoder(field)
    return pgpq.ArrowToPostgresBinaryEncoder.new_with_encoders(wire, builders)


def _plan(field: pa.Field, target: TargetColumn) -> _Plan:
    import pyarrow as pa

    source = field.type
    if isinstance(source, pa.ExtensionType):
        source = source.storage_type
    if pa.types.is_dictionary(source):
        source = source.value_type
    typ = target.typname
    wire: pa.DataType | None = None
    stage: str | None = None
    if typ in _WIRE:
        wire = getattr(pa, _WIRE[typ])()
    elif typ == "numeric" and pa.types.is_decimal128(source) and source.scale >= 0:
        wire = source
    elif typ == "numeric" and pa.types.is_integer(source):
        wire = pa.decimal128(20, 0)
    elif typ in ("timestamp", "timestamptz"):
        wire = pa.timestamp("us", "UTC" if typ == "timestamptz" else None)
    elif typ == "time":
        wire = pa.time64("us")
    elif typ == "interval" and pa.types.is_duration(source):
        wire = pa.duration("us")
    elif typ == "interval" and pa.types.is_interval(source):
        # months and days have no duration; PostgreSQL parses the text
        return _Plan(field.name, pa.string(), _interval_text, stage="text")
    elif typ == "jsonb" and _is_text(source):
        return _Plan(field.name, pa.string(), _caster(field.name, pa.string()), jsonb=True)
    elif typ == "geometry" and _is_binary(source):  # WKB into PostGIS
        to_bytes = _caster(field.name, pa.binary())
        return _Plan(field.name, pa.binary(), to_bytes, stage="bytea", into=_FROM_WKB)
    elif target.element and _is_text(source):  # JSON arrays (MySQL's, say) into an array
        to_text = _caster(field.name, pa.string())
        return _Plan(
            field.name, pa.string(), to_text, stage="jsonb", jsonb=True, into=_FROM_JSON_ARRAY
        )
    elif target.element in _WIRE and (pa.types.is_list(source) or pa.types.is_large_list(source)):
        wire = pa.list_(getattr(pa, _WIRE[target.element])())
        # binary arrays name their element type, and pgpq sends strings as text: arrays of
        # varchar, char, name or json load as text[] and are cast
        if _WIRE[target.element] == "string" and target.element != "text":
            stage = "text[]"
    if wire is None:
        wire, stage = pa.string(), "text"
    _check_castable(field, source, wire, target)
    return _Plan(field.name, wire, _caster(field.name, wire), stage=stage)


def _interval_text(arr: pa.Array) -> pa.Array:
    import pyarrow as pa

    def text(v: pa.MonthDayNano | None) -> str | None:
        if v is None:
            return None
        months, days, nanos = v
        micros = abs(nanos) // 1000 * (1 if nanos >= 0 else -1)  # toward zero
        return f"{months} mons {days} days {micros} microseconds"

    return pa.array([text(v) for v in _plain(arr).to_pylist()], pa.string())


_FROM_WKB = "ST_GeomFromWKB({column})"
_FROM_JSON_ARRAY = (
    "CASE WHEN {column} IS NULL THEN NULL "
    "ELSE ARRAY(SELECT jsonb_array_elements_text({column}))::{declared} END"
)


def _is_binary(t: pa.DataType) -> bool:
    import pyarrow as pa

    return pa.types.is_binary(t) or pa.types.is_large_binary(t)


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
