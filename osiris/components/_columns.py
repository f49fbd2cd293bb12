"""Column selection shared by the database extractors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from osiris.components.api import StepError


class _HasField(Protocol):
    @property
    def field(self) -> Any: ...


C = TypeVar("C", bound=_HasField)


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
