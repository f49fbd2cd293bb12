from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from osiris.components.api import StepContext, StepError
from osiris.components.filesystem._csv import PANDAS_NA, LineFilter, lines_of, pandas_type
from osiris.components.filesystem._files import (
    arrow_type,
    codec_name,
    compression_of,
    open_binary,
    require_file,
)

if TYPE_CHECKING:
    import pyarrow as pa


def run(ctx: StepContext) -> pa.RecordBatchReader:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    cfg = ctx.config
    rel = cfg["path"]
    path = ctx.input_path(rel)
    require_file(path, rel)
    header = cfg.get("header", cfg.get("has_header", True))
    # upstream's `header: false` names the columns 0, 1, ... (pandas); ours f0, f1, ... (pyarrow)
    numbered = header is False and "header" in cfg
    name: Callable[[Any], str] = (lambda c: f"f{c}") if numbered else str
    header_row = 0 if isinstance(header, bool) else int(header)
    delimiter = cfg.get("delimiter", ",")
    comment = cfg.get("comment")
    if comment in (delimiter, '"'):
        raise StepError("config.invalid", f"`comment` cannot be {comment!r}; choose another one")
    encoding = codec_name(cfg.get("encoding", "utf8"))
    codec = compression_of(path, cfg.get("compression", "infer"))
    # pandas counts `header: N` in rows that are neither blank nor comments; pyarrow's
    # skip_rows counts every line, so those cases (and `comment`) go through LineFilter
    filtered = comment is not None or header_row > 0
    read = pacsv.ReadOptions(
        block_size=cfg.get("block_size_mb", 4) << 20,
        encoding="utf8" if filtered or encoding == "utf-8" else encoding,
        skip_rows=0 if filtered else cfg.get("skip_rows", 0),
        autogenerate_column_names=header is False,
    )
    columns = cfg.get("columns")
    # upstream's na_values add to pandas' NA strings; our null_values replace them
    nulls = PANDAS_NA + cfg["na_values"] if "na_values" in cfg else cfg.get("null_values", [""])
    convert = pacsv.ConvertOptions(
        column_types=_column_types(cfg, name),
        include_columns=[name(c) for c in columns] if columns else None,
        null_values=nulls,
        strings_can_be_null=True,
    )
    parse = pacsv.ParseOptions(
        delimiter=delimiter, ignore_empty_lines=cfg.get("skip_blank_lines", True)
    )
    source: Any = None
    if filtered:
        source = LineFilter(
            lines_of(open_binary(path, codec, rel), encoding),
            delimiter=delimiter,
            comment=comment,
            skip_lines=cfg.get("skip_rows", 0),
            drop_records=header_row,
            skip_blank=cfg.get("skip_blank_lines", True),
        )
    elif codec is not None:
        source = open_binary(path, codec, rel)
    try:
        with _translated(rel):
            try:
                reader = pacsv.open_csv(
                    path if source is None else source,
                    read_options=read,
                    parse_options=parse,
                    convert_options=convert,
                )
            except pa.ArrowInvalid as exc:
                if "Empty CSV file" not in str(exc):
                    raise
                reader = None
    except BaseException:
        if source is not None:
            source.close()
        raise
    if reader is None:
        if source is not None:
            source.close()
        # like upstream (pandas' EmptyDataError): no rows, no columns
        return pa.RecordBatchReader.from_batches(pa.schema([]), iter([]))
    missing = [c for c in _date_columns(cfg) if name(c) not in reader.schema.names]
    if missing:
        reader.close()
        raise StepError(
            "config.invalid",
            f"parse_dates names {missing}, which '{rel}' does not have "
            f"(columns: {', '.join(_shown(reader.schema.names, numbered))})",
        )
    limit = cfg.get("limit")
    if source is None and not numbered and limit is None:
        return reader
    schema = reader.schema
    if numbered:
        schema = pa.schema(
            [f.with_name(n) for f, n in zip(schema, _shown(schema.names, numbered), strict=True)],
            metadata=schema.metadata,
        )
    return pa.RecordBatchReader.from_batches(schema, _batches(reader, schema, limit, source, rel))


def _column_types(cfg: dict[str, Any], name: Callable[[Any], str]) -> dict[str, pa.DataType]:
    """`column_types` (Arrow names) over `parse_dates` over `dtype` (pandas names)."""
    import pyarrow as pa

    types = {name(c): pandas_type(str(c), t) for c, t in (cfg.get("dtype") or {}).items()}
    types.update({name(c): pa.timestamp("us") for c in _date_columns(cfg)})
    types.update({name(c): arrow_type(t) for c, t in cfg.get("column_types", {}).items()})
    return types


def _date_columns(cfg: dict[str, Any]) -> list[Any]:
    # `parse_dates: true` only parses pandas' index, which a read without index_col lacks
    dates = cfg.get("parse_dates")
    return dates if isinstance(dates, list) else []


def _shown(names: list[str], numbered: bool) -> list[str]:
    return [n.removeprefix("f") for n in names] if numbered else names


def _batches(
    reader: pa.RecordBatchReader, schema: pa.Schema, limit: int | None, source: Any, rel: str
) -> Iterator[pa.RecordBatch]:
    """The reader's batches under `schema`, stopping (and closing everything) after `limit` rows."""
    import pyarrow as pa

    left = limit
    try:
        with _translated(rel):
            for batch in reader:
                if left is not None and batch.num_rows >= left:
                    yield pa.RecordBatch.from_arrays(batch.slice(0, left).columns, schema=schema)
                    return
                if left is not None:
                    left -= batch.num_rows
                yield pa.RecordBatch.from_arrays(batch.columns, schema=schema)
    finally:
        reader.close()
        if source is not None:
            source.close()


@contextlib.contextmanager
def _translated(rel: str) -> Iterator[None]:
    """Turn what reading or decompressing a bad file raises into a StepError."""
    import lzma
    import zlib

    import pyarrow as pa

    try:
        yield
    except pa.ArrowKeyError as exc:
        raise StepError("config.invalid", f"`columns` of '{rel}': {exc}") from exc
    except (pa.ArrowException, OSError, EOFError, UnicodeError, lzma.LZMAError, zlib.error) as exc:
        raise StepError("file.invalid", f"cannot read CSV '{rel}': {exc}") from exc
