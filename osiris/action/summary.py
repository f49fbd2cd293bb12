"""The job summary: GitHub-flavoured Markdown rendered from a `Report` (pure functions).

Masking and the 1 MiB limit are applied when it is written (`workflow.write_summary`).
"""

from __future__ import annotations

from osiris.action.plandiff import Change, PlanDiff
from osiris.action.report import ArtifactResult, PipelineResult, Report

__all__ = ["render", "render_plan"]

ICONS = {
    "succeeded": "✅",
    "valid": "✅",
    "compiled": "✅",
    "unchanged": "✅",
    "dry_run": "🧪",
    "changed": "✏️",
    "failed": "❌",
    "invalid": "❌",
    "error": "❌",
    "interrupted": "⏹️",
    "running": "⏳",
    "not run": "⏭️",
    "skipped": "⏭️",
}
_MAX_VALUE = 200


def render(report: Report) -> str:
    """The whole summary for one action invocation."""
    title = f"## {_status(report.status)} — osiris {report.command}"
    parts = [title, ""]
    if report.error is not None:
        parts += [f"**Error:** {_text(report.error)}", ""]
    if report.command == "run":
        parts += _run(report)
    elif report.command == "validate":
        parts += _validate(report)
    elif report.command == "compile":
        parts += _compile(report)
    elif report.command == "list":
        parts += _list(report)
    else:
        parts += _plans(report)
    return "\n".join(parts).rstrip("\n") + "\n"


def _status(status: str) -> str:
    return f"{ICONS.get(status, '•')} {status.replace('_', ' ')}"


def _text(text: str) -> str:
    return " ".join(text.split())


def _cell(text: str) -> str:
    return _text(text).replace("|", "\\|")


def _code(text: str) -> str:
    text = _text(text)
    if len(text) > _MAX_VALUE:
        text = text[: _MAX_VALUE - 1] + "…"
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _cell_code(text: str) -> str:
    # GFM splits table cells on `|` even inside code spans.
    return _code(text).replace("|", "\\|")


def _duration(ms: int | None) -> str:
    if ms is None:
        return ""
    if ms < 1000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f} s"
    return f"{ms // 60_000} min {ms % 60_000 // 1000} s"


def _number(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def _run(report: Report) -> list[str]:
    lines = [
        "| Pipeline | Session | Status | Rows read | Rows written | Duration |",
        "|---|---|---|--:|--:|--:|",
    ]
    for p in report.pipelines:
        label = f"{_cell(p.name)}<br>{_cell_code(p.file)}" if p.name else _cell_code(p.file)
        session = _cell_code(p.session_id) if p.session_id else ""
        lines.append(
            f"| {label} | {session} | {_status(p.status)} | {_number(p.rows_read)} "
            f"| {_number(p.rows_written)} | {_duration(p.duration_ms)} |"
        )
    if len(report.pipelines) > 1:
        counts: dict[str, int] = {}
        for p in report.pipelines:
            counts[p.status] = counts.get(p.status, 0) + 1
        tally = ", ".join(f"{n} {status}" for status, n in counts.items())
        lines.append(
            f"| **Total: {len(report.pipelines)} pipelines** | | {tally} "
            f"| {_number(sum(p.rows_read or 0 for p in report.pipelines))} "
            f"| {_number(sum(p.rows_written or 0 for p in report.pipelines))} | |"
        )
    lines.append("")
    for p in report.pipelines:
        lines += [f"### {_status(p.status)} — {_cell(p.name or p.file)}", ""]
        if report.executor and p.session_id:
            lines += [f"Executor `{report.executor}`, session {_code(p.session_id)}.", ""]
        if p.steps:
            lines += [
                "| Step | Component | Status | Rows | Duration |",
                "|---|---|---|--:|--:|",
            ]
            lines += [
                f"| {_cell_code(s.id)} | {_cell_code(s.component)} | {_status(s.status)} "
                f"| {_number(s.rows)} | {_duration(s.duration_ms)} |"
                for s in p.steps
            ]
            lines.append("")
        if p.error:
            lines += [f"**Error:** {_text(p.error)}", ""]
        lines += _problems(p)
        lines += [f"- {_text(note)}" for note in p.notes]
        if p.bundle:
            lines += [f"Bundle: {_code(p.bundle)}", ""]
            if p.session_id:
                page = _code(f"{p.session_id}/report.html")
                lines += [f"Report: {page} in the bundle (graph, timeline, events)", ""]
    lines += _artifact(report.artifact, report.pipelines)
    return lines


def _artifact(artifact: ArtifactResult | None, pipelines: list[PipelineResult]) -> list[str]:
    if artifact is None:
        return []
    lines = ["### Artifact", ""]
    bundles = ", ".join(_code(p.bundle) for p in pipelines if p.bundle)
    if artifact.status == "uploaded":
        name = _code(artifact.name)
        link = f"[{name}]({artifact.url})" if artifact.url else name
        lines.append(
            f"📦 {link}: artifact id {artifact.artifact_id}, {_number(artifact.size)} bytes, "
            f"sha256 `{artifact.digest}`"
        )
    elif artifact.status == "failed":
        lines.append(
            f"⚠️ Upload failed: {_text(artifact.reason)}. The bundle stays in the workspace: "
            f"{bundles}"
        )
    else:
        where = f" The bundle is in the workspace: {bundles}" if bundles else ""
        lines.append(f"Upload skipped: {_text(artifact.reason)}.{where}")
    return [*lines, ""]


def _problems(p: PipelineResult) -> list[str]:
    if not p.problems:
        return []
    lines = ["| Location | Problem |", "|---|---|"]
    for problem in p.problems:
        where = problem.file or p.file
        if problem.line:
            where += f":{problem.line}:{problem.col}"
        label = "warning: " if problem.severity == "warning" else ""
        lines.append(f"| {_cell_code(where)} | {_cell(label + problem.describe())} |")
    return [*lines, ""]


def _validate(report: Report) -> list[str]:
    bad = [p for p in report.pipelines if p.status != "valid"]
    lines = [
        f"{len(bad)} of {len(report.pipelines)} pipelines invalid."
        if bad
        else f"All {len(report.pipelines)} pipelines are valid.",
        "",
        "| Pipeline | Result |",
        "|---|---|",
    ]
    for p in report.pipelines:
        n = sum(problem.severity != "warning" for problem in p.problems)
        warned = len(p.problems) - n
        if n:
            result = f"{_status(p.status)}: {n} problem{'s' if n != 1 else ''}"
        elif p.status == "valid":
            result = f"{_status(p.status)} ({len(p.steps)} steps)"
        else:
            result = _status(p.status) + (f": {_cell(p.error)}" if p.error else "")
        if warned:
            result += f", {warned} warning{'s' if warned != 1 else ''}"
        lines.append(f"| {_cell_code(p.file)} | {result} |")
    lines.append("")
    for p in report.pipelines:
        if p.problems:
            lines += [f"### {_code(p.file)}", "", *_problems(p)]
    return lines


def _compile(report: Report) -> list[str]:
    lines: list[str] = []
    for p in report.pipelines:
        lines += [f"### {_status(p.status)} — {_code(p.file)}", ""]
        if p.fingerprint:
            lines += [f"Manifest fingerprint {_code(p.fingerprint)}.", ""]
        if p.steps:
            lines += ["| Step | Component | Mode |", "|---|---|---|"]
            lines += [
                f"| {_cell_code(s.id)} | {_cell_code(s.component)} | {s.mode} |" for s in p.steps
            ]
            lines.append("")
        if p.error:
            lines += [f"**Error:** {_text(p.error)}", ""]
        lines += _problems(p)
    return lines


def _list(report: Report) -> list[str]:
    listed = report.listed or []
    lines = [
        f"{len(listed)} of {len(report.pipelines)} pipelines listed in the `pipelines` output.",
        "",
        "| Pipeline | Listed | Why |",
        "|---|---|---|",
    ]
    for p in report.pipelines:
        label = f"{_cell(p.name)}<br>{_cell_code(p.file)}" if p.name else _cell_code(p.file)
        mark = "yes" if p.status == "listed" else "no"
        lines.append(f"| {label} | {mark} | {_cell('; '.join(p.notes))} |")
    return [*lines, ""]


def _plans(report: Report) -> list[str]:
    lines: list[str] = []
    for p in report.pipelines:
        lines += [f"### {_status(p.status)} — {_code(p.file)}", ""]
        lines += [f"- {_text(note)}" for note in p.notes]
        if p.notes:
            lines.append("")
        lines += _problems(p)
        if p.plan is not None:
            lines += render_plan(p.plan, base_label=p.base_label)
    return lines


def render_plan(diff: PlanDiff, *, base_label: str) -> list[str]:
    """A plan diff as Markdown lines: headline, targets table, step changes, other changes."""
    base = _code(base_label)
    if not diff.changed:
        return [f"No change to the compiled plan compared with {base}.", ""]
    if not diff.base_exists:
        head = f"No plan at {base} to compare with: all {len(diff.steps)} steps are new."
    elif not diff.head_exists:
        head = f"The pipeline is gone: all {len(diff.steps)} steps at {base} are removed."
    else:
        counts = diff.counts()
        said = [f"{n} step{'s' if n != 1 else ''} {kind}" for kind, n in counts.items() if n]
        n = len(diff.targets)
        if n:
            said.append(f"{n} write target{'s' if n != 1 else ''} changed")
        head = f"Compared with {base}: " + (", ".join(said) or "settings changed") + "."
    lines = [head, ""]
    if diff.targets:
        lines += ["**Write targets**", "", "| Step | Before | After |", "|---|---|---|"]
        for t in diff.targets:
            before = _cell(t.before.text()) if t.before else "—"
            after = _cell(t.after.text()) if t.after else "—"
            lines.append(f"| {_cell_code(t.step)} | {before} | {after} |")
        lines.append("")
    if diff.steps:
        lines += ["**Steps**", ""]
        marks = {"added": "🆕", "removed": "🗑️", "changed": "✏️"}
        for s in diff.steps:
            lines.append(
                f"- {marks[s.kind]} {_code(s.id)} ({_code(s.component)}, {s.mode}) {s.kind}"
            )
            lines += _changes(s.changes, indent="  ")
        lines.append("")
    if diff.order:
        old, new = (" → ".join(ids) for ids in diff.order)
        lines += [f"**Execution order** changed: {_code(old)} became {_code(new)}.", ""]
    for title, changes in (
        ("Parameters", diff.params),
        ("Connections", diff.connections),
        ("Run limits and network", diff.run),
    ):
        if changes:
            lines += [f"**{title}**", "", *_changes(changes, indent=""), ""]
    return lines


def _changes(changes: tuple[Change, ...], *, indent: str) -> list[str]:
    lines = []
    for c in changes:
        if c.secret:
            lines.append(f"{indent}- {_code(c.what)}: changed (secret, value hidden)")
        elif c.diff:
            lines += [f"{indent}- {_code(c.what)}:", "", f"{indent}  ```diff"]
            lines += [f"{indent}  {line}" for line in c.diff]
            lines += [f"{indent}  ```", ""]
        elif c.before is None:
            lines.append(f"{indent}- {_code(c.what)}: added {_code(str(c.after))}")
        elif c.after is None:
            lines.append(f"{indent}- {_code(c.what)}: removed (was {_code(c.before)})")
        else:
            lines.append(f"{indent}- {_code(c.what)}: {_code(c.before)} → {_code(c.after)}")
    return lines
