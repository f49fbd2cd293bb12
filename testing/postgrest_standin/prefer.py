"""The Prefer header (RFC 7240 as PostgREST reads it) and the ranges of a read."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from testing.postgrest_standin.errors import ApiError
from testing.postgrest_standin.statements import Window
from testing.postgrest_standin.syntax import Query

_CHOICES = {
    "resolution": ("merge-duplicates", "ignore-duplicates"),
    "return": ("representation", "minimal", "headers-only"),
    "count": ("exact", "planned", "estimated"),
    "tx": ("commit", "rollback"),
    "missing": ("default", "null"),
    "handling": ("strict", "lenient"),
}


@dataclass
class Prefs:
    values: dict[str, str] = field(default_factory=dict)  # e.g. {"return": "minimal"}
    timezone: str | None = None
    max_affected: int | None = None
    invalid: list[str] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    @property
    def counts(self) -> bool:
        # planned and estimated are answered with the exact count (PostgREST: EXPLAIN estimate)
        return "count" in self.values

    @property
    def strict(self) -> bool:
        return self.values.get("handling") == "strict"


def parse_prefer(raw: str, timezone_ok: Callable[[str], bool]) -> Prefs:
    """`raw` is every Prefer header joined with commas; the first valid value of a kind wins."""
    prefs = Prefs()
    for item in (p.strip() for p in raw.split(",")):
        if not item:
            continue
        name, _, value = item.partition("=")
        if name in _CHOICES and value in _CHOICES[name]:
            prefs.values.setdefault(name, value)
        elif name == "timezone" and timezone_ok(value):
            prefs.timezone = prefs.timezone or value
        elif name == "max-affected" and re.fullmatch(r"-?\d+", value):
            prefs.max_affected = int(value) if prefs.max_affected is None else prefs.max_affected
        else:
            prefs.invalid.append(item)
    if prefs.strict and prefs.invalid:
        raise ApiError(
            400,
            "PGRST122",
            "Invalid preferences given with handling=strict",
            details="Invalid preferences: " + ", ".join(prefs.invalid),
        )
    return prefs


def applied(
    prefs: Prefs, *, resolution: bool, missing: bool, ret: bool, max_affected: bool
) -> str | None:
    """Preference-Applied: the honoured values in PostgREST's fixed order."""
    values = []
    if resolution and prefs.get("resolution"):
        values.append(f"resolution={prefs.values['resolution']}")
    if missing and prefs.get("missing"):
        values.append(f"missing={prefs.values['missing']}")
    if ret and prefs.get("return"):
        values.append(f"return={prefs.values['return']}")
    for name in ("count",):
        if prefs.get(name):
            values.append(f"{name}={prefs.values[name]}")
    # tx is not listed: Supabase does not let requests override the transaction end
    if prefs.get("handling"):
        values.append(f"handling={prefs.values['handling']}")
    if prefs.timezone:
        values.append(f"timezone={prefs.timezone}")
    if max_affected and prefs.strict and prefs.max_affected is not None:
        values.append(f"max-affected={prefs.max_affected}")
    return ", ".join(values) or None


def _range_error(details: str) -> ApiError:
    return ApiError(416, "PGRST103", "Requested range not satisfiable", details=details)


def _empty(lower: int, upper: int | None) -> bool:
    return upper is not None and upper < lower


def window(q: Query, range_header: str | None, max_rows: int | None) -> Window:
    """The top-level range: limit/offset params ∩ Range header (GET only), capped by max-rows."""
    offset = max(q.offset or 0, 0)
    if q.limit is not None:
        lim: tuple[int, int | None] = (offset, offset + q.limit - 1)
    else:
        lim = (offset, None)
    header: tuple[int, int | None] = (0, None)
    match = re.fullmatch(r"(\d+)-(\d*)", (range_header or "").strip())
    if match:
        header = (int(match[1]), int(match[2]) if match[2] else None)
    uppers = [u for u in (lim[1], header[1]) if u is not None]
    both = (max(lim[0], header[0]), min(uppers) if uppers else None)
    limit_zero = lim == (0, -1)
    lower, upper = (0, -1) if limit_zero else both
    if _empty(lower, upper) and not limit_zero:
        if _empty(*header):
            raise _range_error(
                "The lower boundary must be lower than or equal to the upper boundary "
                "in the Range header."
            )
        raise _range_error("Limit should be greater than or equal to zero.")
    if max_rows is not None:
        cap = lower + max_rows - 1
        upper = cap if upper is None else min(upper, cap)
    return Window(lower, upper)


def content_range(lower: int, returned: int, total: int | None) -> tuple[int, str]:
    """PostgREST's read status (200/206/416) and Content-Range for a page of `returned` rows."""
    upper = lower + returned - 1
    shown = f"{lower}-{upper}" if total != 0 and lower <= upper else "*"
    header = f"{shown}/{'*' if total is None else total}"
    if total is None:
        return 200, header
    if lower > total:
        return 416, header
    if 1 + upper - lower < total:
        return 206, header
    return 200, header


def out_of_bounds(lower: int, total: int | None) -> ApiError:
    return _range_error(
        f"An offset of {lower} was requested, but there are only {total or 0} rows."
    )
