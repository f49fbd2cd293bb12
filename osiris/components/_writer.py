"""What a database writer's config asks for, with upstream Osiris's synonyms folded in.

Upstream's writers name the same things differently (mysql.writer: `mode`, `upsert_keys`,
`create_table`; supabase.writer: `primary_key` as a string); every writer reads them here, so
each synonym means the same everywhere.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from osiris.components._columns import key_columns
from osiris.components.api import StepError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["WriteOptions", "rebatched", "write_key", "write_options"]


@dataclass(frozen=True)
class WriteOptions:
    mode: str  # append | replace | upsert
    key: list[str]  # the configured key columns, [] if none
    create: bool  # create a missing table
    truncate: bool  # empty the table before writing
    batch_size: int | None  # rows per statement or request, None: the writer's own


def write_options(cfg: Mapping[str, Any]) -> WriteOptions:
    key = cfg.get("primary_key") or cfg.get("upsert_keys") or []
    create = cfg.get("create_if_missing", cfg.get("create_table", True))
    return WriteOptions(
        mode=str(cfg.get("write_mode") or cfg.get("mode") or "append"),
        key=[key] if isinstance(key, str) else list(key),
        create=bool(create),
        truncate=bool(cfg.get("truncate_before", False)),
        batch_size=int(cfg["batch_size"]) if cfg.get("batch_size") else None,
    )


def write_key(options: WriteOptions, schema: pa.Schema) -> list[str]:
    """A writer's key: the configured one, else the one the input carries."""
    if options.mode == "upsert" and not options.key:
        raise StepError("config.invalid", "write_mode upsert needs `primary_key`")
    missing = [c for c in options.key if c not in schema.names]
    if missing:
        raise StepError(
            "config.invalid",
            f"primary_key column {', '.join(map(repr, missing))} is not in the input; its "
            f"columns are {', '.join(schema.names)}",
        )
    return options.key or [c for c in key_columns(schema) if c in schema.names]


def rebatched(reader: pa.RecordBatchReader, rows: int | None) -> pa.RecordBatchReader:
    """`reader` with batches of at most `rows` rows (as they are, when `rows` is None)."""
    import pyarrow as pa

    if not rows:
        return reader

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in reader:
            for start in range(0, batch.num_rows, rows):
                yield batch.slice(start, rows)

    return pa.RecordBatchReader.from_batches(reader.schema, batches())
