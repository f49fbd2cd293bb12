"""The step outputs declared in action.yml, computed from a `Report`.

With several pipelines, `session-id` and `bundle-path` hold one line per session, in the order
the pipelines ran; every other output describes the whole invocation.
"""

from __future__ import annotations

import json

from osiris.action.report import Report

__all__ = ["OUTPUTS", "outputs"]

OUTPUTS = (
    "session-id",
    "status",
    "exit-code",
    "bundle-path",
    "artifact-id",
    "artifact-url",
    "artifact-digest",
    "rows-written",
    "summary-json",
    "pipelines",
)


def outputs(report: Report) -> dict[str, str]:
    """Every output, as text (empty when it does not apply), masked."""
    artifact = report.artifact
    uploaded = artifact is not None and artifact.status == "uploaded"
    rows = report.rows_written
    values = {
        "session-id": "\n".join(p.session_id for p in report.pipelines if p.session_id),
        "status": report.status,
        "exit-code": str(report.exit_code),
        "bundle-path": "\n".join(p.bundle for p in report.pipelines if p.bundle),
        "artifact-id": str(artifact.artifact_id) if uploaded and artifact else "",
        "artifact-url": (artifact.url or "") if uploaded and artifact else "",
        "artifact-digest": (artifact.digest or "") if uploaded and artifact else "",
        "rows-written": "" if rows is None else str(rows),
        "summary-json": json.dumps(report.to_dict(), sort_keys=True, ensure_ascii=False),
        "pipelines": "" if report.listed is None else json.dumps(report.listed),
    }
    return {name: report.masker.mask(value) for name, value in values.items()}
