"""Which tables a many-table extractor reads (`tables`, `exclude_tables`)."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence

from osiris.components.api import StepError

__all__ = ["pick_tables"]

_GLOB = set("*?[")


def pick_tables(
    base: Sequence[str],
    views: Sequence[str],
    wanted: Sequence[str],
    exclude: Sequence[str] = (),
    *,
    where: str,
    sizes: Mapping[str, float] | None = None,
) -> list[str]:
    """The tables `wanted` names: a pattern matches base tables, an exact name a base table or
    a view. An exact name that is neither, or a result with no table, is an error saying what
    exists (`where` names the database).

    In name order; given their `sizes` (bytes, as the database estimates them), biggest first,
    then by name: side by side, the big copies start at once and the small ones fill the gaps,
    rather than one big table running alone at the end.
    """
    found: set[str] = set()
    for item in wanted:
        if _GLOB & set(item):
            found.update(t for t in base if fnmatch.fnmatchcase(t, item))
        elif item in base or item in views:
            found.add(item)
        else:
            raise StepError(
                "table.not_found",
                f"{where} has no table '{item}'; its tables are {_listed(base)}",
            )
    kept = sorted(t for t in found if not any(fnmatch.fnmatchcase(t, x) for x in exclude))
    if not kept:
        raise StepError(
            "table.not_found",
            f"no table of {where} matches tables {list(wanted)}"
            + (f" without {list(exclude)}" if exclude else "")
            + f"; its tables are {_listed(base)}",
        )
    if sizes:
        kept.sort(key=lambda t: -(sizes.get(t) or 0))  # stable: equal sizes stay in name order
    return kept


def _listed(names: Sequence[str]) -> str:
    shown = ", ".join(sorted(names)[:20])
    return (shown + (f" and {len(names) - 20} more" if len(names) > 20 else "")) or "none"
