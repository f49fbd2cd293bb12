"""PostgreSQL column types → Arrow types, for reading.

ADBC reads most types natively through binary COPY. numeric arrives as text and becomes
decimal128/decimal256 when the column declares precision and scale (unconstrained numeric stays
text, tagged, since no Arrow decimal holds every value). Types Arrow has no match for (uuid, inet,
timetz, money, enums, ...) are selected as `::text` and tagged with their PostgreSQL name in the
field metadata `osiris.type`. VARCHAR(n)/CHAR(n) keep `osiris.max_length`; NOT NULL and the
primary key are kept too (`osiris.primary_key` in the schema metadata), as for MySQL.

The writer uses them too (`_load`): SCALARS gives the Arrow type each column is sent as in
binary COPY, and CATALOG_SQL reads the target table's columns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from osiris.components._columns import ENUM_TYPE, LABELS, MAX_LENGTH, OSIRIS_TYPE, keyed_schema
from osiris.components.postgres._conn import quote_ident

if TYPE_CHECKING:
    import pyarrow as pa
    from adbc_driver_manager.dbapi import Cursor


# PostgreSQL type name -> the pyarrow type factory it reads as (and the writer sends it as)
SCALARS = {
    "int2": "int16",
    "int4": "int32",
    "int8": "int64",
    "float4": "float32",
    "float8": "float64",
    "bool": "bool_",
    "text": "string",
    "varchar": "string",
    "bpchar": "string",
    "name": "string",
    "bytea": "binary",
    "date": "date32",
}
_TAGGED_TEXT = {"json": "json", "jsonb": "json", "numeric": "numeric"}

# A domain reads as its base type (`year` over integer is an integer); an enum keeps its labels.
CATALOG_SQL = """
SELECT a.attname, t.typname,
       CASE WHEN d.typtype = 'd' THEN d.typtypmod ELSE a.atttypmod END,
       a.attnotnull, format_type(t.oid, CASE WHEN d.typtype = 'd' THEN d.typtypmod
                                             ELSE a.atttypmod END),
       COALESCE(e.typname, ''),
       -- int2vector subscripts start at 0; 0 here means "not in the primary key"
       COALESCE(array_position(i.indkey::int2[], a.attnum)
                - array_lower(i.indkey::int2[], 1) + 1, 0),
       CASE WHEN t.typtype = 'e' THEN (SELECT json_agg(enumlabel ORDER BY enumsortorder)::text
                                       FROM pg_enum WHERE enumtypid = t.oid) END
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type d ON d.oid = a.atttypid
JOIN pg_type t ON t.oid = CASE WHEN d.typtype = 'd' THEN d.typbasetype ELSE d.oid END
LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = 'A'
LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""


@dataclass(frozen=True)
class Column:
    field: pa.Field
    select: str  # expression in the SELECT list
    convert: Callable[[pa.Array], pa.Array]


def describe_table(cur: Cursor, schema: str, table: str) -> tuple[list[Column], list[str]]:
    """The table's columns in order and its primary key; [] when there is no such table."""
    cur.execute(CATALOG_SQL, parameters=(schema, table))
    rows = cur.fetchall()
    columns = [
        column(r[0], r[1], r[2], nullable=not r[3], declared=r[4], element=r[5], labels=r[7])
        for r in rows
    ]
    keyed = sorted((r[6], r[0]) for r in rows if r[6])
    return columns, [name for _, name in keyed]


def column(
    name: str,
    typname: str,
    typmod: int,
    *,
    nullable: bool,
    declared: str,
    element: str,
    labels: str | None = None,
) -> Column:
    """How to read one column: its Arrow field, SELECT expression and conversion."""
    import pyarrow as pa

    meta: dict[bytes, bytes] = {}
    quoted = quote_ident(name)
    select = quoted
    decimal = _decimal(typmod) if typname == "numeric" else None
    arrow_type: pa.DataType
    if typname in SCALARS:
        arrow_type = getattr(pa, SCALARS[typname])()
        if typname in ("varchar", "bpchar") and typmod > 4:
            meta[MAX_LENGTH] = str(typmod - 4).encode()
    elif decimal is not None:
        arrow_type = decimal
    elif typname in _TAGGED_TEXT:
        arrow_type = pa.string()
        meta[OSIRIS_TYPE] = _TAGGED_TEXT[typname].encode()
    elif typname in ("timestamp", "timestamptz"):
        arrow_type = pa.timestamp("us", "UTC" if typname == "timestamptz" else None)
    elif typname == "time":
        arrow_type = pa.time64("us")
    elif typname == "interval":
        arrow_type = pa.month_day_nano_interval()
    elif element in SCALARS and element != "bytea":
        arrow_type = pa.list_(getattr(pa, SCALARS[element])())
    elif labels is not None:
        # the labels and the type's name, so a PostgreSQL writer can create the same type
        arrow_type = pa.string()
        meta.update({OSIRIS_TYPE: b"enum", LABELS: labels.encode(), ENUM_TYPE: typname.encode()})
        select = f"{quoted}::text"
    elif typname == "geometry":  # PostGIS: as WKB
        arrow_type = pa.binary()
        meta[OSIRIS_TYPE] = b"geometry"
        select = f"ST_AsBinary({quoted})"
    else:
        arrow_type = pa.string()
        meta[OSIRIS_TYPE] = (typname if typname == "uuid" else declared).encode()
        # inet's cast to text adds /32 to a host address; abbrev() is its usual output
        select = f"abbrev({quoted})" if typname == "inet" else f"{quoted}::text"
    field = pa.field(name, arrow_type, nullable=nullable, metadata=meta or None)
    return Column(field, select, _converter(arrow_type))


def _decimal(typmod: int) -> pa.DataType | None:
    import pyarrow as pa

    if typmod < 4:
        return None
    precision, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
    if scale > precision:  # negative scales (PostgreSQL 15+) have no Arrow equivalent here
        return None
    if precision <= 38:
        return pa.decimal128(precision, scale)
    return pa.decimal256(precision, scale) if precision <= 76 else None


def _converter(arrow_type: pa.DataType) -> Callable[[pa.Array], pa.Array]:
    import pyarrow as pa

    def convert(arr: pa.Array) -> pa.Array:
        if isinstance(arr, pa.ExtensionArray):
            arr = arr.storage
        return arr if arr.type == arrow_type else arr.cast(arrow_type)

    return convert


def query_columns(schema: pa.Schema) -> list[Column]:
    """For `query` mode: the same decisions, from the result schema ADBC reports."""
    columns = []
    for f in schema:
        meta: dict[bytes, Any] = f.metadata or {}
        typname = meta.get(b"POSTGRESQL:type", b"").decode()
        typmod = int(meta.get(b"POSTGRESQL:typmod", b"-1"))
        element = typname[1:] if typname.startswith("_") else ""
        if not typname:
            columns.append(Column(f.remove_metadata(), quote_ident(f.name), _converter(f.type)))
            continue
        columns.append(
            column(f.name, typname, typmod, nullable=True, declared=typname, element=element)
        )
    return columns


def arrow_schema(columns: list[Column], pk: list[str]) -> pa.Schema:
    return keyed_schema([c.field for c in columns], pk)
