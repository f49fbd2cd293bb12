"""CSV as upstream Osiris reads and writes it (with pandas), on top of pyarrow's CSV.

Reading: pandas' dtype names and default NA strings, and `LineFilter`, which applies the line
rules of pandas' C parser that pyarrow has no option for (`comment`, and `header: N` counting
only non-blank, non-comment lines). Writing: `format_rows`, the quoting of Python's csv module
(`quoting`, `quotechar`) that pyarrow's writer lacks.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from osiris.components.api import StepError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "PANDAS_NA",
    "CsvFormat",
    "LineFilter",
    "format_rows",
    "header_line",
    "lines_of",
    "pandas_type",
    "unquotable_column",
]

# pandas' default NA strings (`keep_default_na=True`), which upstream's `na_values` add to
PANDAS_NA = [
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
]

_INTS = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
_PANDAS_TYPES = {
    **{n: n for n in _INTS},
    # pandas' nullable integers (Int64, UInt8, ...): every Arrow type is nullable
    **{n.capitalize() if n[0] == "i" else "U" + n[1:].capitalize(): n for n in _INTS},
    "int": "int64",
    "float": "float64",
    "float32": "float32",
    "float64": "float64",
    "Float32": "float32",
    "Float64": "float64",
    "bool": "bool",
    "boolean": "bool",
    "str": "string",
    "string": "string",
    "object": "string",
    "category": "string",
    "datetime64": "timestamp[ns]",
    "datetime64[s]": "timestamp[s]",
    "datetime64[ms]": "timestamp[ms]",
    "datetime64[us]": "timestamp[us]",
    "datetime64[ns]": "timestamp[ns]",
}


def pandas_type(column: str, name: Any) -> pa.DataType:
    """The Arrow type read for a pandas dtype name (`dtype: {column: name}`)."""
    import pyarrow as pa

    alias = _PANDAS_TYPES.get(str(name))
    if alias is None:
        raise StepError(
            "config.invalid",
            f"dtype of column '{column}' is '{name}', which is not a pandas dtype this reader "
            f"knows; use one of {', '.join(_PANDAS_TYPES)}, or `column_types` for Arrow types",
        )
    return pa.type_for_alias(alias)


_LINE_END = re.compile(r"(\r\n|\r|\n)")


class LineFilter(io.RawIOBase):
    """A CSV text stream as UTF-8 bytes, with pandas' line rules applied as it is read.

    In order: the first `skip_lines` physical lines go (like `skiprows`); lines starting with
    `comment` go, and an unquoted `comment` ends a line (a row that it cuts short is padded
    with empty fields, as pandas reads missing fields as NA); blank lines go if `skip_blank`;
    then the first `drop_records` rows go (everything before `header: N`). Quotes are tracked
    across lines, so a `comment` or line break inside a quoted field is data. Without
    `comment`, the text passes through untouched once the first rows are dealt with. Memory
    stays bounded: the text is read in 1 MiB pieces.
    """

    _CHUNK = 1 << 20

    def __init__(
        self,
        text: IO[str],
        *,
        delimiter: str,
        quotechar: str = '"',
        comment: str | None,
        skip_lines: int,
        drop_records: int,
        skip_blank: bool,
    ) -> None:
        self._text = text
        self._delim, self._quote, self._comment = delimiter, quotechar, comment
        self._skip, self._drop, self._skip_blank = skip_lines, drop_records, skip_blank
        d, q, c = (re.escape(ch) for ch in (delimiter, quotechar, comment or "\n"))
        self._special = re.compile(f"[{d}{q}{c}]")
        # a whole row without an unquoted comment char (most lines) needs no work
        field = f"(?:[^{d}{q}{c}\\r\\n]*|{q}[^{q}]*(?:{q}{q}[^{q}]*)*{q})"
        self._plain = re.compile(f"{field}(?:{d}{field})*").fullmatch
        self._carry = ""
        self._out = bytearray()
        self._eof = False
        self._in_quote = False
        self._dropping = False  # the current row (which may span lines) is being dropped
        self._fields = 0  # delimiters seen so far in the current row
        self._ncols: int | None = None  # fields of the first row kept (the header)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while len(self._out) < len(view) and not self._eof:
            self._fill()
        n = min(len(view), len(self._out))
        view[:n] = self._out[:n]
        del self._out[:n]
        return n

    def close(self) -> None:
        self._text.close()
        super().close()

    def _fill(self) -> None:
        chunk = self._text.read(self._CHUNK)
        data = self._carry + chunk
        self._carry = ""
        if not chunk:
            self._eof = True
            parts = [data, ""] if data else []
        elif self._comment is None and not (self._skip or self._drop or self._in_quote):
            self._out += data.encode("utf-8", "surrogateescape")
            return
        else:
            if data.endswith("\r"):
                # the "\n" of a "\r\n" may be the next chunk's first character
                data, self._carry = data[:-1], "\r"
            parts = _LINE_END.split(data)
            self._carry = parts.pop() + self._carry
        kept: list[str] = []
        quote, comment, plain = self._quote, self._comment or "\n", self._plain
        for i in range(0, len(parts), 2):
            body = parts[i]
            ready = self._ncols is not None and not (self._in_quote or self._drop)
            if ready and ((quote not in body and comment not in body) or plain(body)):
                kept += (body, parts[i + 1])
            elif (line := self._line(body)) is not None:
                kept += (line, parts[i + 1])
        self._out += "".join(kept).encode("utf-8", "surrogateescape")

    def _line(self, body: str) -> str | None:
        if self._skip:
            self._skip -= 1
            return None
        continued = self._in_quote
        if not continued:
            self._dropping = False
            self._fields = 0
            if self._comment and body.startswith(self._comment):
                return None
        body, cut = self._scan(body, continued)
        if not continued:
            if not body and self._skip_blank:
                return None
            if self._drop:
                self._drop -= 1
                self._dropping = True
                return None
        elif self._dropping:
            return None
        if self._in_quote:
            return body
        fields = self._fields + 1
        if self._ncols is None:
            self._ncols = fields
        elif cut and fields < self._ncols:
            body += self._delim * (self._ncols - fields)
        return body

    def _scan(self, body: str, in_quote: bool) -> tuple[str, bool]:
        """Track quotes and count delimiters in `body`; cut it at an unquoted comment char."""
        field_start = -1 if in_quote else 0
        escaped = False
        for m in self._special.finditer(body):
            at, ch = m.start(), m.group()
            if in_quote:
                if ch != self._quote:
                    continue
                if escaped:
                    escaped = False
                elif body.startswith(self._quote, at + 1):
                    escaped = True  # a doubled quote is a literal quote
                else:
                    in_quote = False
            elif ch == self._delim:
                self._fields += 1
                field_start = at + 1
            elif ch == self._quote:
                in_quote = at == field_start
            elif ch == self._comment:
                self._in_quote = False
                return body[:at], True
        self._in_quote = in_quote
        return body, False


def lines_of(raw: IO[bytes], encoding: str) -> IO[str]:
    """`raw` decoded, line ends kept as they are; bytes that are not `encoding` pass through
    (as pyarrow's reader keeps them), so they end up in a binary column rather than an error."""
    # utf-8-sig: a UTF-8 byte order mark is not part of the first column's name
    name = "utf-8-sig" if encoding == "utf-8" else encoding
    return io.TextIOWrapper(raw, encoding=name, errors="surrogateescape", newline="")


@dataclass(frozen=True)
class CsvFormat:
    """How csv_writer writes: `quoting` is minimal | all | nonnumeric | none (Python's csv)."""

    path: str
    delimiter: str
    quotechar: str
    quoting: str
    eol: str
    encoding: str  # Python's codec name
    encoding_name: str  # as the config writes it


def header_line(names: list[str], fmt: CsvFormat) -> str:
    """The header as pyarrow writes it: every name quoted, except with `quoting: none`."""
    if fmt.quoting != "none":
        q = fmt.quotechar
        return fmt.delimiter.join(q + n.replace(q, q + q) + q for n in names) + fmt.eol
    bad = [n for n in names if any(ch in n for ch in (fmt.delimiter, fmt.quotechar, "\r", "\n"))]
    if bad:
        raise StepError(
            "write.failed",
            f"column name '{bad[0]}' has the delimiter, the quote character or a line break, "
            "which `quoting: none` cannot write; rename the column or use quoting: minimal",
        )
    return fmt.delimiter.join(names) + fmt.eol


def format_rows(batch: pa.RecordBatch, fmt: CsvFormat) -> str:
    """`batch` as CSV text, for what pyarrow's writer cannot do (another quotechar, nonnumeric).

    Values are the text pyarrow's writer would write (it casts to string the same way); the
    quoting follows Python's csv module, which pandas writes with: a NULL is an empty string,
    which `all` and `nonnumeric` quote.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if batch.num_rows == 0 or batch.num_columns == 0:
        return fmt.eol * batch.num_rows
    s = pa.large_string()
    q = pa.scalar(fmt.quotechar, s)
    columns = []
    for field, column in zip(batch.schema, batch.columns, strict=True):
        text = pc.cast(column, s)
        needs = _needs_quotes(text, fmt)
        if fmt.quoting == "none":
            if pc.any(needs).as_py():
                raise _unquotable(field.name)
            columns.append(pc.fill_null(text, ""))
            continue
        quoted = pc.binary_join_element_wise(
            q, pc.replace_substring(text, fmt.quotechar, fmt.quotechar * 2), q, pa.scalar("", s)
        )
        if fmt.quoting == "all" or (
            _is(field.type, _STRINGY) if fmt.quoting == "minimal" else not _is(field.type, _NUMERIC)
        ):
            text = quoted
        else:
            text = pc.if_else(pc.fill_null(needs, False), quoted, text)
        columns.append(pc.fill_null(text, "" if fmt.quoting == "minimal" else fmt.quotechar * 2))
    rows = pc.binary_join_element_wise(*columns, pa.scalar(fmt.delimiter, s))
    return fmt.eol.join(rows.to_pylist()) + fmt.eol


def unquotable_column(batch: pa.RecordBatch, fmt: CsvFormat) -> StepError | None:
    """The error for the first column with a value `quoting: none` cannot write, if any."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for field, column in zip(batch.schema, batch.columns, strict=True):
        try:
            if pc.any(_needs_quotes(pc.cast(column, pa.large_string()), fmt)).as_py():
                return _unquotable(field.name)
        except pa.ArrowException:
            continue
    return None


def _needs_quotes(text: pa.Array, fmt: CsvFormat) -> pa.Array:
    import pyarrow.compute as pc

    found = [pc.match_substring(text, ch) for ch in (fmt.delimiter, fmt.quotechar, "\r", "\n")]
    return pc.or_(pc.or_(found[0], found[1]), pc.or_(found[2], found[3]))


def _unquotable(column: str) -> StepError:
    return StepError(
        "write.failed",
        f"column '{column}' has a value with the delimiter, the quote character or a line break, "
        "which `quoting: none` cannot write; use quoting: minimal",
    )


# pyarrow's writer quotes these types with its "needed" style, whatever their values
_STRINGY = ("is_string", "is_large_string", "is_binary", "is_large_binary", "is_fixed_size_binary")
# Python's csv module sees these values as numbers (QUOTE_NONNUMERIC leaves them unquoted)
_NUMERIC = ("is_integer", "is_floating", "is_decimal", "is_boolean")


def _is(t: pa.DataType, kinds: tuple[str, ...]) -> bool:
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        t = t.value_type
    return any(getattr(pa.types, kind)(t) for kind in kinds)
