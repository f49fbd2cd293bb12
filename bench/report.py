"""The markdown summary of one benchmark invocation: results, ratios, targets, types."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from checks import FAITHFUL, ColumnType
from tools import Tool

# Issue 3's targets for the two-step osiris pipeline.
TARGET_ROWS_PER_S = 230_000
TARGET_RSS_MB = 300
TARGET_RSS_GROWTH_5M = 1.2
TARGET_THREE_STEP = 1.3


def _median(values: Sequence[float | None]) -> float | None:
    clean = [v for v in values if v is not None]
    return statistics.median(clean) if clean else None


def summarize(records: list[dict[str, Any]], tool: Tool) -> dict[str, Any] | None:
    runs = [r for r in records if r["tool"] == tool.name]
    good = [r for r in runs if r["ok"]]
    if not good:
        return None
    walls = [r["wall_s"] for r in good]
    wall = statistics.median(walls)
    rows = good[0]["rows_expected"]
    cpu = [(r["user_cpu_s"] or 0) + (r["sys_cpu_s"] or 0) for r in good]
    db = [r.get("db_cpu_s") for r in good]
    other = [
        r["machine_busy_s"] - c - r["db_cpu_s"] if "machine_busy_s" in r else None
        for r, c in zip(good, cpu, strict=True)
    ]
    mismatches = sorted({m for r in good for m in (r["checksum_mismatch"] or [])})
    return {
        "ok": f"{len(good)}/{len(runs)}",
        "rows": rows,
        "wall": wall,
        "wall_min": min(walls),
        "wall_max": max(walls),
        "rows_per_s": rows / wall,
        "max_rss": _median([r["max_rss_mb"] for r in good]),
        "tree_rss": _median([r["tree_rss_mb"] for r in good]),
        "tree_rss_max": max(r["tree_rss_mb"] for r in good),
        "cpu": statistics.median(cpu),
        "db_cpu": _median(db),
        "other_cpu": _median(other),
        "content": "exact" if not mismatches else "differs: " + ", ".join(mismatches),
    }


def _fmt(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def render(
    header: dict[str, Any],
    records: list[dict[str, Any]],
    tools: list[Tool],
    source: list[ColumnType],
) -> str:
    stats = {t.name: summarize(records, t) for t in tools}
    base = stats.get("osiris")
    lines = [
        f"## Results: {header['rows']:,} rows from {header['source']}, {header['runs']} run(s) "
        f"per tool, round-robin (started {header['stamp']})",
        "",
        "| tool | ok | rows | rows/s (median) | wall s median (min-max) | max RSS MB (largest "
        "process) | tree RSS MB (sum) | tool CPU s | DB servers CPU s | other load CPU s | "
        "content | osiris rows/s ÷ tool | osiris RSS ÷ tool |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for t in tools:
        s = stats[t.name]
        if s is None:
            lines.append(f"| {t.title} | 0 | | | | | | | | | failed | | |")
            continue
        ratio = f"{base['rows_per_s'] / s['rows_per_s']:.2f}x" if base else "n/a"
        rss = (
            f"{base['max_rss'] / s['max_rss']:.2f}x"
            if base and base["max_rss"] and s["max_rss"]
            else "n/a"
        )
        lines.append(
            f"| {t.title} | {s['ok']} | {s['rows']:,} | {s['rows_per_s']:,.0f} | "
            f"{s['wall']:.2f} ({s['wall_min']:.2f}-{s['wall_max']:.2f}) | {_fmt(s['max_rss'])} | "
            f"{_fmt(s['tree_rss'])} | {s['cpu']:.1f} | {_fmt(s['db_cpu'], 1)} | "
            f"{_fmt(s['other_cpu'], 1)} | {s['content']} | {ratio} | {rss} |"
        )
    lines += ["", *_targets(stats, header), "", *_types(records, tools, source)]
    return "\n".join(lines) + "\n"


def _targets(stats: dict[str, dict[str, Any] | None], header: dict[str, Any]) -> list[str]:
    base, three = stats.get("osiris"), stats.get("osiris_duckdb")
    if base is None:
        return ["Targets: osiris did not run successfully."]

    def verdict(ok: bool) -> str:
        return "met" if ok else "**missed**"

    out = [
        "Targets (issue 3):",
        f"* throughput ≥ {TARGET_ROWS_PER_S:,} rows/s: {base['rows_per_s']:,.0f} rows/s — "
        f"{verdict(base['rows_per_s'] >= TARGET_ROWS_PER_S)}",
        f"* peak RSS ≤ {TARGET_RSS_MB} MB: largest process {_fmt(base['max_rss'])} MB — "
        f"{verdict((base['max_rss'] or 0) <= TARGET_RSS_MB)}; "
        f"whole tree {_fmt(base['tree_rss'])} MB — {verdict(base['tree_rss'] <= TARGET_RSS_MB)}",
        f"* exact content: {base['content']}",
    ]
    if three:
        ratio = three["wall"] / base["wall"]
        out.append(
            f"* three-step (DuckDB) ÷ two-step wall time ≤ {TARGET_THREE_STEP}: {ratio:.2f} — "
            f"{verdict(ratio <= TARGET_THREE_STEP)}"
        )
    if header["rows"] != 1_000_000:
        out.append(
            f"* at {header['rows']:,} rows: compare RSS with the 1M run "
            f"(≤ {TARGET_RSS_GROWTH_5M}x allowed)"
        )
    return out


def _types(records: list[dict[str, Any]], tools: list[Tool], source: list[ColumnType]) -> list[str]:
    latest: dict[str, dict[str, str]] = {}
    for r in records:
        if "pg_types" in r:
            latest[r["tool"]] = r["pg_types"]
    typed = [(t, latest[t.name]) for t in tools if t.name in latest]
    if not typed:
        return []
    out = [
        "Column types created in PostgreSQL (source: MariaDB; ✓ = the faithful mapping):",
        "",
        "| column | source | " + " | ".join(t.name for t, _ in typed) + " |",
        "|---|---|" + "---|" * len(typed),
    ]
    for col in source:
        cells = []
        for _, types in typed:
            text = types.get(col.name, "—")
            cells.append(f"{text} ✓" if text == FAITHFUL.get(col.name) else text)
        out.append(f"| {col.name} | {col.text()} | " + " | ".join(cells) + " |")
    extra = sorted({n for _, types in typed for n in types} - {c.name for c in source})
    if extra:
        out.append(f"\nExtra columns added by a tool: {', '.join(extra)}")
    return out
