"""Column conventions shared by components: selection, and what Arrow metadata carries.

Field metadata keeps what an Arrow type alone loses, so a writer can recreate the column:
`osiris.type` (json, uuid, enum, set, geometry, a PostgreSQL type name, ...),
`osiris.max_length` (VARCHAR/CHAR length), `osiris.labels` (an enum's or SET's labels, a JSON
list) and `osiris.enum_type` (the PostgreSQL enum type they come from). The schema metadata
keeps the source's primary key.
"""

from __future__ import annotations

import json
from collections.abc import Container, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from osiris.components.api import StepError

if TYPE_CHECKING:
    import pyarrow as pa

# schema metadata key: the source table's primary key, a JSON list of column names
PRIMARY_KEY = b"osiris.primary_key"
# field metadata keys
OSIRIS_TYPE = b"osiris.type"
MAX_LENGTH = b"osiris.max_length"
LABELS = b"osiris.labels"
ENUM_TYPE = b"osiris.enum_type"


class _HasField(Protocol):
    @property
    def field(self) -> Any: ...


C = TypeVar("C", bound=_HasField)


def cursor_operator(cfg: Mapping[str, Any]) -> str:
    """How an incremental read compares cursor_column with `since`: past it (an explicit
    `since`), or from it on (`since: auto`, set by the executor, which re-reads rows that share
    the last value rather than lose them)."""
    return ">=" if cfg.get("since_inclusive") else ">"


def pick_columns(columns: Sequence[C], wanted: Sequence[str] | None, table: str) -> list[C]:
    """The `columns` a step asked for, in its order (all of them when it named none)."""
    if not wanted:
        return list(columns)
    by_name = {c.field.name: c for c in columns}
    unknown = [w for w in wanted if w not in by_name]
    if unknown:
        raise StepError(
            "sql.error",
            f"table '{table}' has no column {', '.join(map(repr, unknown))}; "
            f"its columns are {', '.join(by_name)}",
        )
    return [by_name[w] for w in wanted]


def key_metadata(names: Sequence[str]) -> dict[bytes, bytes]:
    """Schema metadata recording `names` as the primary key (what `key_columns` reads back)."""
    return {PRIMARY_KEY: json.dumps(list(names)).encode()}


def keyed_schema(fields: Sequence[pa.Field], pk: Sequence[str]) -> pa.Schema:
    """A schema of `fields` that records `pk` as its primary key if every key column is kept."""
    import pyarrow as pa

    kept = {f.name for f in fields}
    meta = key_metadata(pk) if pk and set(pk) <= kept else None
    return pa.schema(fields, metadata=meta)


def key_columns(schema: pa.Schema) -> list[str]:
    """The primary key an extractor recorded in the schema metadata, if any."""
    raw = (schema.metadata or {}).get(PRIMARY_KEY)
    try:
        names = json.loads(raw) if raw else []
    except ValueError:
        return []
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def check_columns(label: str, names: Sequence[str], existing: Container[str]) -> None:
    """A writer's input may hold only columns the existing table `label` has."""
    extra = [n for n in names if n not in existing]
    if extra:
        raise StepError(
            "schema.mismatch",
            f"table '{label}' has no column {', '.join(map(repr, extra))}; add the column, or "
            "drop it from the input",
        )
