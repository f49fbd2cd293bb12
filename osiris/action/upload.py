"""After `run`: upload the session bundles as one workflow artifact, or say why not.

An upload failure is a warning, never a change of the exit code: the pipeline's own result is
what the step reports, and failing a step whose pipeline already wrote its targets invites a
re-run that writes them again. The bundles stay in the workspace either way.
"""

from __future__ import annotations

from pathlib import Path

from osiris.action import workflow
from osiris.action.commands import Context
from osiris.action.report import ArtifactResult

__all__ = ["artifact_name", "upload_bundles"]

_NO_RUNTIME = (
    "ACTIONS_RUNTIME_TOKEN and ACTIONS_RESULTS_URL are not set (GitHub gives them only to "
    "docker and JavaScript action steps, not to `run:` steps or a plain `docker run`)"
)


def artifact_name(session_ids: list[str]) -> str:
    """The default name: from the first session id, which is new in every run attempt."""
    name = f"osiris-{session_ids[0]}"
    return name if len(session_ids) == 1 else f"{name}-and-{len(session_ids) - 1}-more"


def _log(line: str) -> None:
    print(line, flush=True)


def upload_bundles(ctx: Context) -> None:
    from osiris.action.artifacts import ArtifactUploadError, runtime_available, upload_artifact

    report, inputs = ctx.report, ctx.inputs
    done = [p for p in report.pipelines if p.bundle and p.session_id]
    if not done:
        return
    bundles = [ctx.workspace / str(p.bundle) for p in done]
    listed = ", ".join(str(p.bundle) for p in done)
    if not inputs.upload_artifact:
        reason = "the upload-artifact input is false"
    elif not runtime_available(ctx.environ):
        reason = _NO_RUNTIME
    else:
        reason = ""
    if reason:
        workflow.notice(f"Artifact upload skipped: {reason}. Session bundle: {listed}")
        report.artifact = ArtifactResult("skipped", reason)
        return
    name = inputs.artifact_name or artifact_name([str(p.session_id) for p in done])
    files: Path | list[Path] = bundles[0] if len(bundles) == 1 else bundles
    try:
        result = upload_artifact(
            name, files, retention_days=inputs.retention_days, environ=ctx.environ, log=_log
        )
    except ArtifactUploadError as exc:
        message = exc.format().replace("\n  hint:", "; hint:")
        workflow.warning(
            f"{message}. The session bundle stays in the workspace: {listed}",
            title="Artifact upload failed",
        )
        report.artifact = ArtifactResult("failed", message, name=name)
        return
    report.artifact = ArtifactResult(
        "uploaded",
        name=result.name,
        artifact_id=result.artifact_id,
        url=result.url,
        size=result.size,
        digest=result.digest,
    )
