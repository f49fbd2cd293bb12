"""Arrow values as the text other systems read back: durations, lists."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa


def duration_text(arr: pa.Array) -> pa.Array:
    """Each duration as `[-]H:MM:SS[.ffffff]`, hours past 24 included: what MySQL's TIME,
    PostgreSQL's interval and a spreadsheet read as a span of time."""
    import pyarrow as pa
    import pyarrow.compute as pc

    micros = pc.cast(arr, pa.duration("us"), safe=False).cast(pa.int64())
    size = pc.abs(micros)

    def split(whole: pa.Array, unit: int) -> tuple[pa.Array, pa.Array]:
        high = pc.divide(whole, unit)  # integer division: both are int64
        return high, pc.subtract(whole, pc.multiply(high, unit))

    seconds, fraction = split(size, 1_000_000)
    hours, rest = split(seconds, 3600)
    minutes, secs = split(rest, 60)

    def padded(part: pa.Array, width: int) -> pa.Array:
        return pc.utf8_lpad(part.cast(pa.string()), width, "0")

    sign = pc.if_else(pc.less(micros, 0), "-", "")
    dot = pc.if_else(pc.equal(fraction, 0), "", ".")
    digits = pc.if_else(pc.equal(fraction, 0), "", padded(fraction, 6))
    return pc.binary_join_element_wise(
        sign, padded(hours, 2), ":", padded(minutes, 2), ":", padded(secs, 2), dot,
        digits, "",
    )  # fmt: skip


def json_text(arr: pa.Array) -> pa.Array:
    """Each list as a JSON array."""
    import json

    import pyarrow as pa

    def text(v: object) -> str | None:
        return None if v is None else json.dumps(v, ensure_ascii=False, default=str)

    return pa.array([text(v) for v in arr.to_pylist()], pa.string())
