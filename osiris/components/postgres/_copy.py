"""PostgreSQL binary COPY data from Arrow columns, built a column at a time (numpy + Arrow).

The format (PostgreSQL docs, "COPY", binary format): a signature and two int32 words, then per
row an int16 field count and per field an int32 length (-1 for NULL) followed by the value in its
type's binary wire format, big-endian; an int16 -1 ends the data.

Each column becomes a few *parts*, Arrow binary arrays with one element per row (its length
word, then its bytes); `binary_join_element_wise` concatenates the parts of all columns row by
row, and the data buffer of the joined array is the batch's COPY data. No Python code runs per
row or per value, which is what makes this several times cheaper than encoding value by value.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
TRAILER = b"\xff\xff"
# joined parts use int32 offsets; larger batches are encoded in slices below this size
MAX_CHUNK_BYTES = 256 << 20

_PG_EPOCH_DAYS = 10_957  # 2000-01-01 - 1970-01-01
_PG_EPOCH_US = _PG_EPOCH_DAYS * 86_400_000_000
# fixed-width kinds: numpy big-endian format of the wire value
_FIXED = {
    "int2": ">i2",
    "int4": ">i4",
    "int8": ">i8",
    "float4": ">f4",
    "float8": ">f8",
    "bool": "u1",
    "date": ">i4",
    "timestamp": ">i8",
    "time": ">i8",
}
_NATIVE = {  # how the Arrow data buffer of each fixed kind is read
    "int2": "=i2",
    "int4": "=i4",
    "int8": "=i8",
    "float4": "=f4",
    "float8": "=f8",
    "date": "=i4",
    "timestamp": "=i8",
    "time": "=i8",
}
KINDS = frozenset({*_FIXED, "bytes", "jsonb", "numeric", "interval", "array"})


@dataclass(frozen=True)
class Wire:
    """How a column goes on the wire: `kind`, and for arrays the element's kind and type OID."""

    kind: str
    element: Wire | None = None
    element_oid: int = 0


def encode(columns: list[pa.Array], wires: list[Wire]) -> Iterator[pa.Buffer]:
    """The COPY rows of one batch (columns already cast to their wire Arrow types)."""
    if not columns or len(columns[0]) == 0:
        return
    n = len(columns[0])
    size = sum(c.get_total_buffer_size() for c in columns)
    step = n if size <= MAX_CHUNK_BYTES else max(1, n * MAX_CHUNK_BYTES // size)
    for start in range(0, n, step):
        yield _rows([c.slice(start, step) for c in columns], wires)


def _rows(columns: list[pa.Array], wires: list[Wire]) -> pa.Buffer:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    parts: list[Any] = [pa.scalar(struct.pack(">h", len(columns)), pa.binary())]
    for arr, wire in zip(columns, wires, strict=True):
        parts += _parts(arr, wire)
    rows = pc.binary_join_element_wise(*parts, b"")
    n = len(rows)
    offsets = np.frombuffer(rows.buffers()[1], np.int32, n + 1 + rows.offset)[rows.offset :]
    data = rows.buffers()[2]
    assert data is not None
    return data.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))


def _parts(arr: pa.Array, wire: Wire) -> list[pa.Array]:
    """Parts whose row-wise concatenation is each value's length word and bytes."""
    kind = wire.kind
    if kind in _FIXED:
        return [_fixed(arr, kind)]
    if kind == "bytes":
        return _bytes(arr, version=None)
    if kind == "jsonb":
        return _bytes(arr, version=1)
    if kind == "numeric":
        return [_numeric(arr)]
    if kind == "interval":
        return [_interval(arr)]
    if kind == "array":
        assert wire.element is not None
        return _array(arr, wire.element, wire.element_oid)
    raise ValueError(f"no binary COPY encoding for {kind}")


def _valid(arr: pa.Array) -> np.ndarray | None:
    """Row validity as a numpy bool array, or None when the column has no nulls."""
    if arr.null_count == 0:
        return None
    return arr.is_valid().to_numpy(zero_copy_only=False)


def _values(arr: pa.Array, native: str) -> np.ndarray:
    """The fixed-width values of `arr` as numpy, without a copy (slots of nulls hold garbage)."""
    import numpy as np

    dtype = np.dtype(native)
    buf = arr.buffers()[1]
    assert buf is not None
    return np.frombuffer(buf, dtype, arr.offset + len(arr))[arr.offset :]


def _fixed(arr: pa.Array, kind: str) -> pa.Array:
    import numpy as np
    import pyarrow.compute as pc

    fmt = _FIXED[kind]
    width = np.dtype(fmt).itemsize
    rec = np.empty(len(arr), [("len", ">i4"), ("value", fmt)])
    rec["len"] = width
    if kind == "bool":
        rec["value"] = pc.fill_null(arr, False).to_numpy(zero_copy_only=False)
    else:
        values = _values(arr, _NATIVE[kind])
        if kind == "date":
            values = values - _PG_EPOCH_DAYS
        elif kind == "timestamp":
            values = values - _PG_EPOCH_US
        rec["value"] = values
    return _ragged(rec, _valid(arr))


def _bytes(arr: pa.Array, *, version: int | None) -> list[pa.Array]:
    """A text/bytea/json value is its bytes; jsonb's start with a version byte."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type):
        arr = arr.cast(pa.binary())
    elif pa.types.is_string(arr.type):
        arr = arr.view(pa.binary())
    valid = _valid(arr)
    lengths = pc.binary_length(arr).fill_null(0).to_numpy(zero_copy_only=False)
    if version is None:
        rec = np.empty(len(arr), [("len", ">i4")])
        rec["len"] = lengths
    else:
        rec = np.empty(len(arr), [("len", ">i4"), ("version", "u1")])
        rec["len"] = lengths + 1
        rec["version"] = version
    values = arr if valid is None else arr.fill_null(b"")
    return [_ragged(rec, valid), values]


def _numeric(arr: pa.Array) -> pa.Array:
    """numeric: int16 ndigits, weight, sign, dscale, then base-10000 digits, most significant
    first. PostgreSQL strips leading and trailing zero digits itself, so every row can carry
    the same number of digits."""
    import numpy as np

    n = len(arr)
    precision, scale = arr.type.precision, arr.type.scale
    width = arr.type.byte_width
    buf = arr.buffers()[1]
    assert buf is not None
    raw = np.frombuffer(buf, np.uint32, (arr.offset + n) * width // 4)[arr.offset * width // 4 :]
    limbs = raw.reshape(n, width // 4).astype(np.uint64)  # little-endian 32-bit limbs
    negative = limbs[:, -1] >> np.uint64(31) == 1
    if negative.any():
        limbs[negative] = _negate(limbs[negative])
    frac_groups = (scale + 3) // 4
    pad = 4 * frac_groups - scale  # zeros that fill the last fraction group
    digits: list[np.ndarray] = []  # least significant first
    if frac_groups:
        digits.append(_divmod(limbs, 10 ** (4 - pad)) * np.uint64(10**pad))
        digits += [_divmod(limbs, 10_000) for _ in range(frac_groups - 1)]
    int_groups = max(0, (precision - scale + 3) // 4)
    digits += [_divmod(limbs, 10_000) for _ in range(int_groups)]
    while limbs.any():  # a value wider than the declared precision: PostgreSQL rejects it
        digits.append(_divmod(limbs, 10_000))
        int_groups += 1
    count = len(digits)
    rec = np.empty(
        n,
        [
            ("len", ">i4"),
            ("ndigits", ">i2"),
            ("weight", ">i2"),
            ("sign", ">u2"),
            ("dscale", ">i2"),
            ("digits", ">i2", (count,)),
        ],
    )
    rec["len"] = 8 + 2 * count
    rec["ndigits"] = count
    rec["weight"] = int_groups - 1
    rec["sign"] = np.where(negative, 0x4000, 0)
    rec["dscale"] = scale
    if count:
        rec["digits"] = np.stack(digits[::-1], axis=1)
    return _ragged(rec, _valid(arr))


def _negate(limbs: np.ndarray) -> np.ndarray:
    """Two's complement magnitude of negative numbers held as 32-bit limbs in uint64."""
    import numpy as np

    out = ~limbs & np.uint64(0xFFFFFFFF)
    carry = np.ones(len(out), np.uint64)
    for j in range(out.shape[1]):
        out[:, j] += carry
        carry = out[:, j] >> np.uint64(32)
        out[:, j] &= np.uint64(0xFFFFFFFF)
    return out


def _divmod(limbs: np.ndarray, divisor: int) -> np.ndarray:
    """Divide every row's number by `divisor` (< 2^32) in place; return the remainders."""
    import numpy as np

    d = np.uint64(divisor)
    rest = np.zeros(len(limbs), np.uint64)
    for j in range(limbs.shape[1] - 1, -1, -1):
        cur = (rest << np.uint64(32)) | limbs[:, j]
        limbs[:, j] = cur // d
        rest = cur - limbs[:, j] * d
    return rest


def _interval(arr: pa.Array) -> pa.Array:
    """interval: int64 microseconds, int32 days, int32 months (from month_day_nano)."""
    import numpy as np

    n = len(arr)
    buf = arr.buffers()[1]
    assert buf is not None
    src = np.frombuffer(buf, [("months", "=i4"), ("days", "=i4"), ("nanos", "=i8")], arr.offset + n)
    src = src[arr.offset :]
    nanos = src["nanos"]
    rec = np.empty(n, [("len", ">i4"), ("micros", ">i8"), ("days", ">i4"), ("months", ">i4")])
    rec["len"] = 16
    rec["micros"] = np.where(nanos < 0, -(-nanos // 1000), nanos // 1000)  # toward zero
    rec["days"] = src["days"]
    rec["months"] = src["months"]
    return _ragged(rec, _valid(arr))


def _array(arr: pa.Array, element: Wire, oid: int) -> list[pa.Array]:
    """A one-dimensional array: ndim, has-nulls flag, element OID, length and lower bound,
    then the elements, each with its length word."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    values = arr.values
    if len(values):
        encoded = pc.binary_join_element_wise(*_parts(values, element), b"")
    else:
        encoded = pa.array([], pa.binary())
    # a fresh offsets array: from_arrays takes no null mask with a sliced one
    offsets = pa.array(arr.offsets.to_numpy(zero_copy_only=False))
    lists = pa.ListArray.from_arrays(offsets, encoded, mask=arr.is_null())
    joined = pc.binary_join(lists, b"")
    counts = pc.list_value_length(arr).fill_null(0).to_numpy(zero_copy_only=False)
    sizes = pc.binary_length(joined).fill_null(0).to_numpy(zero_copy_only=False)
    rec = np.empty(
        len(arr),
        [
            ("len", ">i4"),
            ("ndim", ">i4"),
            ("flags", ">i4"),
            ("oid", ">u4"),
            ("length", ">i4"),
            ("lower", ">i4"),
        ],
    )
    filled = counts > 0
    rec["len"] = 12 + np.where(filled, 8, 0) + sizes
    rec["ndim"] = filled
    rec["flags"] = 0  # "has nulls": PostgreSQL only checks that it is 0 or 1
    rec["oid"] = oid
    rec["length"] = counts
    rec["lower"] = 1
    valid = _valid(arr)
    keep = np.where(filled, 24, 16)
    if valid is not None:
        keep = np.where(valid, keep, 4)
        rec["len"][~valid] = -1
    header = _cut(rec, keep)
    return [header, joined if valid is None else joined.fill_null(b"")]


def _ragged(rec: np.ndarray, valid: np.ndarray | None) -> pa.Array:
    """Each row of `rec` as a binary value; rows of nulls keep only their length word, -1."""
    import numpy as np

    if valid is None:
        return _cut(rec, None)
    rec["len"][~valid] = -1
    return _cut(rec, np.where(valid, rec.dtype.itemsize, 4))


def _cut(rec: np.ndarray, keep: np.ndarray | None) -> pa.Array:
    """A binary array of the first `keep[i]` bytes of row i of `rec` (all of it by default)."""
    import numpy as np
    import pyarrow as pa

    n = len(rec)
    width = rec.dtype.itemsize
    raw = rec.view(np.uint8).reshape(n, width)
    if keep is None:
        offsets = np.arange(0, n * width + 1, width, dtype=np.int32)
        data = raw.reshape(-1)
    else:
        offsets = np.zeros(n + 1, np.int32)
        np.cumsum(keep, out=offsets[1:])
        data = raw[np.arange(width) < keep[:, None]]
    return pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
