"""The action's commands: prepare (compile, mask), then run / validate / compile via the CLI.

Every pipeline is compiled up front, before anything is printed, so that each secret it can
touch is registered with `::add-mask::` first, and so that validation problems become
annotations. The work itself is `osiris.cli.main(argv)`, one call per pipeline, inside a log
group; what a run did is read back from its session directory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from osiris.action import workflow
from osiris.action.inputs import Inputs, choose_executor, cli_options, expand_pipelines
from osiris.action.report import PipelineResult, Report, StepRow
from osiris.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, PipelineError, Problem
from osiris.session import Masker
from osiris.session.masking import MIN_SECRET_LENGTH, manifest_secrets

if TYPE_CHECKING:
    from osiris.config import LoadedConfig

__all__ = [
    "Context",
    "compile_pipelines",
    "load_action_config",
    "prepare",
    "register_secrets",
    "register_values",
    "run_pipelines",
    "validate_pipelines",
]


@dataclass
class Context:
    """Everything a command needs; `paths` are relative to `cwd`, the working directory."""

    inputs: Inputs
    environ: Mapping[str, str]
    workspace: Path
    cwd: Path
    loaded: LoadedConfig
    executor: str
    report: Report
    paths: list[str]
    manifests: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: dict[str, list[Problem]] = field(default_factory=dict)
    warnings: dict[str, list[Problem]] = field(default_factory=dict)

    def rel(self, path: Path | str) -> str:
        return workflow.workspace_path(self.cwd / path, self.workspace)

    def invalid(self, path: str) -> PipelineResult:
        """The result for a pipeline that did not compile; its problems become annotations."""
        problems = self.problems[path]
        for problem in problems:
            workflow.annotate_problem(problem, masker=self.report.masker)
        return PipelineResult(
            self.rel(path), "invalid", PipelineError(problems).exit_code, problems=problems
        )

    def warned(self, result: PipelineResult, path: str) -> PipelineResult:
        """`result` with the compile warnings of `path`, which also become annotations."""
        warnings = self.warnings.get(path, [])
        for problem in warnings:
            workflow.annotate_problem(problem, masker=self.report.masker)
        result.problems = [*result.problems, *warnings]
        return result


def prepare(
    inputs: Inputs, environ: Mapping[str, str], *, workspace: Path, cwd: Path, report: Report
) -> tuple[Context, str]:
    """Load the configuration, compile every pipeline and mask their secrets.

    Returns the context and the executor notice. Prints nothing but `::add-mask::` lines.
    """
    from osiris.commands.pipeline import compile_with

    paths = expand_pipelines(inputs.pipelines, cwd)
    first = load_action_config(inputs)
    executor, why = choose_executor(
        inputs.executor, environ, first.get("runner.executor"), first.sources["runner.executor"]
    )
    loaded = load_action_config(inputs, {"runner.executor": executor})
    ctx = Context(inputs, environ, workspace, cwd, loaded, executor, report, paths)
    for path in paths:
        try:
            manifest = compile_with(Path(path), loaded, dict(inputs.params))
        except PipelineError as exc:
            ctx.problems[path] = [_located(ctx, p) for p in exc.problems]
        else:
            ctx.manifests[path] = manifest.data
            ctx.warnings[path] = [_located(ctx, p) for p in manifest.warnings]
    register_secrets(ctx, ctx.manifests.values())
    # Injected into an E2B sandbox as they are, so just as secret.
    secret_names = loaded.get("runner.e2b.env_from_secrets")
    register_values(report.masker, [environ.get(n) for n in secret_names])
    return ctx, why


def load_action_config(inputs: Inputs, extra: Mapping[str, Any] | None = None) -> LoadedConfig:
    """The configuration as the inputs set it (config file, timeout, connections file).

    `extra` holds further dotted-key overrides; they win over the inputs'.
    """
    from osiris.config import load_config

    overrides: dict[str, Any] = {}
    if inputs.timeout:
        overrides["runner.timeout_seconds"] = inputs.timeout
    if inputs.connections:
        overrides["connections_file"] = inputs.connections
    config_file = Path(inputs.config) if inputs.config else None
    return load_config(config_file=config_file, cli={**overrides, **(extra or {})})


def _located(ctx: Context, problem: Problem) -> Problem:
    return dataclasses.replace(problem, file=ctx.rel(problem.file)) if problem.file else problem


def register_values(masker: Masker, values: Iterable[str | None]) -> None:
    """Mask `values` in the log now, and in everything the action writes later.

    Values too short for the masker (a 2-character "secret" would turn every occurrence of
    those characters into ***) are left out here too.
    """
    known = set(masker.secrets)
    fresh = [v for v in values if v and len(v) >= MIN_SECRET_LENGTH and v not in known]
    workflow.mask(fresh)
    for value in fresh:
        masker.add(value)


def register_secrets(ctx: Context, manifests: Iterable[Mapping[str, Any]]) -> None:
    """Mask every secret value the runs of these compiled manifests can see."""
    values = [v for data in manifests for v in manifest_secrets(data, ctx.environ)]
    register_values(ctx.report.masker, values)


def _steps(data: Mapping[str, Any]) -> list[StepRow]:
    return [StepRow(s["id"], s["component"], "planned", mode=s["mode"]) for s in data["steps"]]


def _compiled_result(ctx: Context, path: str, status: str, code: int) -> PipelineResult:
    """The result for a pipeline that compiled here, its planned steps listed."""
    data = ctx.manifests[path]
    return PipelineResult(
        ctx.rel(path),
        status,
        code,
        name=data["pipeline"]["name"],
        fingerprint=data["fingerprint"],
        steps=_steps(data),
    )


def validate_pipelines(ctx: Context) -> None:
    from osiris import cli

    argv = ["validate", *ctx.paths, *cli_options(ctx.inputs)]
    with workflow.group(f"osiris validate {' '.join(ctx.paths)}"):
        code = cli.main(argv)
    for path in ctx.paths:
        if path in ctx.problems:
            ctx.report.pipelines.append(ctx.invalid(path))
            continue
        ctx.report.pipelines.append(ctx.warned(_compiled_result(ctx, path, "valid", 0), path))
    if code and not ctx.report.exit_code:
        ctx.report.error = f"osiris validate exited with {code}; the step log says why"
        ctx.report.error_code = code


def compile_pipelines(ctx: Context) -> None:
    from osiris import cli

    for path in ctx.paths:
        if path in ctx.problems:
            ctx.report.pipelines.append(ctx.invalid(path))
            continue
        argv = ["compile", path, f"--executor={ctx.executor}", *cli_options(ctx.inputs)]
        with workflow.group(f"osiris compile {path}"):
            code = cli.main(argv)
        status = "compiled" if code == 0 else "error"
        ctx.report.pipelines.append(ctx.warned(_compiled_result(ctx, path, status, code), path))


def run_pipelines(ctx: Context) -> None:
    """Run each pipeline in turn (all of them, whatever the others did, unless interrupted)."""
    from osiris import cli

    logs_dir = ctx.cwd / ctx.loaded.get("logging.logs_dir")
    inputs = ctx.inputs
    before = _sessions(logs_dir)
    for path in ctx.paths:
        if path in ctx.problems:
            ctx.report.pipelines.append(ctx.invalid(path))
            continue
        argv = ["run", path, f"--executor={ctx.executor}", *cli_options(inputs)]
        argv += [f"--timeout={inputs.timeout}"] if inputs.timeout else []
        argv += ["--dry-run"] if inputs.dry_run else []
        with workflow.group(f"osiris run {path}"):
            code = cli.main(argv)
        after = _sessions(logs_dir)
        created = sorted(after - before)
        before = after
        session = logs_dir / created[-1] if created else None
        ctx.report.pipelines.append(ctx.warned(_run_result(ctx, path, code, session), path))
        if code == EXIT_INTERRUPTED:
            break


def _sessions(logs_dir: Path) -> set[str]:
    from osiris.session.info import SESSION_ID_RE

    if not logs_dir.is_dir():
        return set()
    return {p.name for p in logs_dir.iterdir() if p.is_dir() and SESSION_ID_RE.match(p.name)}


def _run_result(ctx: Context, path: str, code: int, session: Path | None) -> PipelineResult:
    from osiris.session.info import read_session

    masker = ctx.report.masker
    rel = ctx.rel(path)
    if session is None:
        message = f"osiris run stopped before a session started (exit {code}); see the step log"
        workflow.error(message, title="Pipeline did not run", file=rel)
        return PipelineResult(rel, "error", code or EXIT_INTERNAL, error=message)
    info = read_session(session)
    data = info.data
    name = info.pipeline_name
    result = PipelineResult(
        rel,
        info.status,
        code,
        name=name,
        session_id=info.id,
        session_dir=ctx.rel(session),
        duration_ms=info.duration_ms,
        rows_read=data.get("rows_read"),
        rows_written=data.get("rows_written"),
        steps=_step_rows(session, data),
        error=_error_text(data.get("error")),
        fingerprint=data.get("fingerprint"),
    )
    if code:
        message = masker.mask(result.error or f"exit code {code}")
        workflow.error(message, title=f"Pipeline {name or rel} {info.status}", file=rel)
    result.bundle = _bundle(ctx, session)
    return result


def _step_rows(session: Path, data: Mapping[str, Any]) -> list[StepRow]:
    import json

    steps = data.get("steps")
    recorded: dict[str, Any] = steps if isinstance(steps, dict) else {}
    try:
        manifest = json.loads((session / "artifacts" / "manifest.json").read_text("utf-8"))
        planned = [(s["id"], s["component"], s["mode"]) for s in manifest["steps"]]
    except (OSError, ValueError, KeyError, TypeError):
        planned = [(sid, str(s.get("component") or ""), "") for sid, s in recorded.items()]
    rows = []
    for sid, component, mode in planned:
        step = recorded.get(sid)
        if not isinstance(step, dict):
            rows.append(StepRow(sid, component, "not run", mode=mode))
            continue
        rows.append(
            StepRow(
                sid,
                component,
                str(step.get("status") or ""),
                mode=mode,
                rows=step.get("rows"),
                duration_ms=step.get("duration_ms"),
                error=_error_text(step.get("error")),
            )
        )
    return rows


def _error_text(error: object) -> str | None:
    if not isinstance(error, dict):
        return None
    text = f"[{error['code']}] {error.get('message', '')}" if error.get("code") else ""
    text = text or str(error.get("message") or "")
    if error.get("hint"):
        text += f" (hint: {error['hint']})"
    step = error.get("step_id")
    return f"step '{step}' failed: {text}" if step else text or None


def _bundle(ctx: Context, session: Path) -> str | None:
    """The session's bundle zip (the CLI writes one on failure), made here when missing."""
    from osiris.errors import OsirisError
    from osiris.session import bundle_session

    path = session.parent / f"{session.name}.zip"
    if not path.is_file():
        try:
            bundle_session(session, masker=ctx.report.masker)
        except OsirisError as exc:
            workflow.warning(f"Could not bundle the session: {exc.message}")
            return None
    return ctx.rel(path)
