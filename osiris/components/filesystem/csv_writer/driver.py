from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from osiris.components._values import duration_text
from osiris.components.api import StepContext, StepError
from osiris.components.filesystem._csv import (
    CsvFormat,
    format_rows,
    header_line,
    unquotable_column,
)
from osiris.components.filesystem._files import atomic_target, codec_name

if TYPE_CHECKING:
    import pyarrow as pa

_EOL = {"lf": "\n", "crlf": "\r\n", "cr": "\r"}
# the quoting styles pyarrow's writer has (with '"' as the quote character)
_ARROW_QUOTING = {"minimal": "needed", "all": "all_valid", "none": "none"}


def run(ctx: StepContext) -> None:
    cfg = ctx.config
    fmt = _format(cfg)
    header = cfg.get("header", cfg.get("include_header", True))
    target = ctx.output_path(cfg["path"])
    # the output area itself is the runner's to create; create_dirs is about folders in it
    if (
        not cfg.get("create_dirs", True)
        and target.parent != ctx.output_root.resolve()
        and not target.parent.is_dir()
    ):
        raise StepError(
            "write.failed",
            f"the folder of '{fmt.path}' does not exist; create it or set `create_dirs: true`",
        )
    reader = _spans_as_text(ctx.single_input().open())
    if header:
        header_line(reader.schema.names, fmt)  # refuses names that `quoting: none` cannot write
    append = cfg.get("write_mode") == "append" and target.is_file() and target.stat().st_size > 0
    encoding = fmt.encoding
    if append:
        encoding = _append_codec(target, fmt.encoding)
        _check_columns(target, reader.schema, fmt, header=header)
    # Appending copies the file, appends to the copy and renames that over the original. That
    # costs a copy, but as when overwriting, a failed or killed run never leaves a half-written
    # row behind, and nobody reading the file ever sees one.
    with atomic_target(target, keep=append) as tmp:
        if append:
            _end_last_line(tmp, fmt.eol, encoding)
        if encoding == "utf-8" and fmt.quotechar == '"' and fmt.quoting in _ARROW_QUOTING:
            _write_arrow(tmp, reader, fmt, header=header and not append)
        else:
            with open(tmp, "ab") as out:
                _write_text(_Sink(out, encoding, fmt), reader, fmt, header=header and not append)
    ctx.declare_output(target)


def _spans_as_text(reader: pa.RecordBatchReader) -> pa.RecordBatchReader:
    """Durations (a MySQL TIME, say) as `H:MM:SS[.ffffff]`, not a count of microseconds."""
    import pyarrow as pa

    spans = [i for i, f in enumerate(reader.schema) if pa.types.is_duration(f.type)]
    if not spans:
        return reader
    schema = reader.schema
    for i in spans:
        schema = schema.set(i, schema.field(i).with_type(pa.string()))

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in reader:
            columns = list(batch.columns)
            for i in spans:
                columns[i] = duration_text(columns[i])
            yield pa.RecordBatch.from_arrays(columns, schema=schema)

    return pa.RecordBatchReader.from_batches(schema, batches())


def _format(cfg: dict[str, Any]) -> CsvFormat:
    fmt = CsvFormat(
        path=cfg["path"],
        delimiter=cfg.get("delimiter", ","),
        quotechar=cfg.get("quotechar", '"'),
        quoting=cfg.get("quoting", "minimal"),
        eol=_EOL[cfg.get("newline", "lf")],
        encoding=codec_name(cfg.get("encoding", "utf-8")),
        encoding_name=cfg.get("encoding", "utf-8"),
    )
    if fmt.quotechar in (fmt.delimiter, "\r", "\n"):
        raise StepError("config.invalid", f"`quotechar` cannot be {fmt.quotechar!r}")
    return fmt


def _write_arrow(tmp: Path, reader: pa.RecordBatchReader, fmt: CsvFormat, *, header: bool) -> None:
    """The fast path: pyarrow's writer straight into the file."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    schema = _text_schema(reader.schema) if fmt.quoting == "all" else reader.schema
    with pa.OSFile(str(tmp), "ab") as out:
        try:
            writer = pacsv.CSVWriter(out, schema, write_options=_arrow_options(fmt, header))
        except pa.ArrowInvalid as exc:
            raise StepError("write.failed", f"cannot write '{fmt.path}' as CSV: {exc}") from exc
        with writer:
            for batch in reader:
                try:
                    writer.write_batch(_all_text(batch) if fmt.quoting == "all" else batch)
                except pa.ArrowInvalid as exc:
                    raise _unwritable(batch, fmt, exc) from exc


def _write_text(sink: _Sink, reader: pa.RecordBatchReader, fmt: CsvFormat, *, header: bool) -> None:
    """Another encoding or quoting: text per batch, encoded as it is written."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if header:
        sink.write(header_line(reader.schema.names, fmt), None)
    for batch in reader:
        try:
            if fmt.quotechar == '"' and fmt.quoting in _ARROW_QUOTING:
                buffer = pa.BufferOutputStream()
                data = _all_text(batch) if fmt.quoting == "all" else batch
                pacsv.write_csv(data, buffer, _arrow_options(fmt, False))
                text = buffer.getvalue().to_pybytes().decode("utf-8")
            else:
                text = format_rows(batch, fmt)
        except pa.ArrowInvalid as exc:
            raise _unwritable(batch, fmt, exc) from exc
        sink.write(text, batch)


def _arrow_options(fmt: CsvFormat, header: bool) -> Any:
    import pyarrow.csv as pacsv

    return pacsv.WriteOptions(
        include_header=header,
        delimiter=fmt.delimiter,
        eol=fmt.eol,
        quoting_style=_ARROW_QUOTING[fmt.quoting],
        quoting_header="none" if fmt.quoting == "none" else "needed",
    )


def _text_schema(schema: pa.Schema) -> pa.Schema:
    import pyarrow as pa

    return pa.schema([pa.field(n, pa.large_string()) for n in schema.names])


def _all_text(batch: pa.RecordBatch) -> pa.RecordBatch:
    # pandas' QUOTE_ALL quotes a NULL too (""); pyarrow's all_valid leaves it bare
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = [pc.fill_null(pc.cast(c, pa.large_string()), "") for c in batch.columns]
    return pa.RecordBatch.from_arrays(columns, schema=_text_schema(batch.schema))


def _unwritable(batch: pa.RecordBatch, fmt: CsvFormat, exc: Exception) -> StepError:
    if fmt.quoting == "none" and (error := unquotable_column(batch, fmt)) is not None:
        return error
    return StepError("write.failed", f"cannot write '{fmt.path}' as CSV: {exc}")


class _Sink:
    """Text written in `encoding`; a character it cannot encode is a StepError naming its
    column."""

    def __init__(self, out: IO[bytes], encoding: str, fmt: CsvFormat) -> None:
        self._out = out
        self._encoder = codecs.getincrementalencoder(encoding)()
        self._fmt = fmt

    def write(self, text: str, batch: pa.RecordBatch | None) -> None:
        try:
            self._out.write(self._encoder.encode(text))
        except UnicodeEncodeError as exc:
            bad = exc.object[exc.start : exc.end]
            column = _column_with(batch, bad) if batch is not None else None
            where = f"column '{column}' has" if column else "the column names have"
            raise StepError(
                "write.failed",
                f"{where} {bad!r}, which {self._fmt.encoding_name} cannot encode; write "
                f"'{self._fmt.path}' with an encoding that can, such as utf-8",
            ) from exc


def _column_with(batch: pa.RecordBatch, chars: str) -> str | None:
    import pyarrow as pa
    import pyarrow.compute as pc

    for field, column in zip(batch.schema, batch.columns, strict=True):
        try:
            if pc.any(pc.match_substring(pc.cast(column, pa.large_string()), chars)).as_py():
                return str(field.name)
        except pa.ArrowException:
            continue
    return None


def _append_codec(target: Path, encoding: str) -> str:
    """The codec that continues `target`: in its byte order, without a second byte order mark."""
    if encoding == "utf-8-sig":
        return "utf-8"
    if encoding not in ("utf-16", "utf-32"):
        return encoding
    with open(target, "rb") as f:
        start = f.read(4)
    big = start.startswith(codecs.BOM_UTF16_BE if encoding == "utf-16" else codecs.BOM_UTF32_BE)
    return f"{encoding}-{'be' if big else 'le'}"


def _check_columns(target: Path, schema: pa.Schema, fmt: CsvFormat, *, header: bool) -> None:
    """Appending needs the file's columns: the same names (or, headerless, the same count)."""
    # utf-8-sig (and utf-16) read past a byte order mark
    reading = "utf-8-sig" if fmt.encoding == "utf-8" else fmt.encoding
    try:
        with open(target, encoding=reading, newline="") as f:
            first = next(csv.reader(f, delimiter=fmt.delimiter, quotechar=fmt.quotechar), [])
    except (UnicodeError, csv.Error) as exc:
        raise StepError(
            "write.failed",
            f"cannot append to '{fmt.path}': its first line is not {fmt.encoding_name} CSV "
            f"({exc}); check `encoding` and `delimiter`, or use write_mode: overwrite",
        ) from exc
    if header and first != schema.names:
        raise StepError(
            "write.failed",
            f"cannot append to '{fmt.path}': its columns are {first}, the input's are "
            f"{schema.names}; append needs the same columns in the same order, or use "
            "write_mode: overwrite",
        )
    if not header and len(first) != len(schema.names):
        raise StepError(
            "write.failed",
            f"cannot append to '{fmt.path}': its rows have {len(first)} fields, the input has "
            f"{len(schema.names)} columns; use write_mode: overwrite",
        )


def _end_last_line(tmp: Path, eol: str, encoding: str) -> None:
    """End the file's last line if it lacks a line break, so the next row starts a line."""
    with open(tmp, "rb+") as f:
        f.seek(-min(f.seek(0, 2), 4), 2)
        tail = f.read()
        if not any(tail.endswith(e.encode(encoding)) for e in ("\n", "\r")):
            f.write(eol.encode(encoding))
