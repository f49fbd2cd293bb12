"""The action's commands: prepare (compile, mask), then run / validate / compile.

Every pipeline is compiled once, up front, before anything is printed, so that each secret it
can touch is registered with `::add-mask::` first, and so that validation problems become
annotations. Validating and compiling print what the CLI's commands print, from those
manifests; runs go through `osiris.api` with them, and what a run did is read back from the
session its result names.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from osiris.action import workflow
from osiris.action.inputs import Inputs, choose_executor, expand_pipelines
from osiris.action.report import PipelineResult, Report, StepRow
from osiris.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, PipelineError, Problem
from osiris.session import Masker
from osiris.session.masking import MIN_SECRET_LENGTH, manifest_secrets

if TYPE_CHECKING:
    from osiris.config import LoadedConfig
    from osiris.pipeline.compiled import Compiled
    from osiris.runners import RunResult

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
    sources: dict[str, Compiled] = field(default_factory=dict)
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
    from osiris import api

    paths = expand_pipelines(inputs.pipelines, cwd)
    first = load_action_config(inputs)
    executor, why = choose_executor(
        inputs.executor, environ, first.get("runner.executor"), first.sources["runner.executor"]
    )
    loaded = load_action_config(inputs, {"runner.executor": executor})
    ctx = Context(inputs, environ, workspace, cwd, loaded, executor, report, paths)
    for path in paths:
        try:
            source = api.prepare(Path(path), loaded=loaded, params=dict(inputs.params))
        except PipelineError as exc:
            ctx.problems[path] = [_located(ctx, p) for p in exc.problems]
        else:
            ctx.sources[path] = source
            ctx.manifests[path] = source.manifest.data
            ctx.warnings[path] = [_located(ctx, p) for p in source.manifest.warnings]
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
    """Print what `osiris validate` prints, from the pipelines compiled in `prepare`."""
    from osiris.commands.pipeline import show_valid

    with workflow.group(f"osiris validate {' '.join(ctx.paths)}"):
        for path in ctx.paths:
            if path in ctx.problems:
                print(PipelineError(ctx.problems[path]).format(), file=sys.stderr, flush=True)
            else:
                show_valid(path, ctx.sources[path].manifest)
    for path in ctx.paths:
        if path in ctx.problems:
            ctx.report.pipelines.append(ctx.invalid(path))
            continue
        ctx.report.pipelines.append(ctx.warned(_compiled_result(ctx, path, "valid", 0), path))


def compile_pipelines(ctx: Context) -> None:
    """Print (and keep) what `osiris compile` does, from the pipelines compiled in `prepare`."""
    from osiris.commands.pipeline import show_compiled

    for path in ctx.paths:
        if path in ctx.problems:
            ctx.report.pipelines.append(ctx.invalid(path))
            continue
        with workflow.group(f"osiris compile {path}"):
            show_compiled(path, ctx.sources[path].manifest, None)
        sys.stdout.flush()
        ctx.report.pipelines.append(ctx.warned(_compiled_result(ctx, path, "compiled", 0), path))


def run_pipelines(ctx: Context) -> None:
    """Run every pipeline that compiled (all of them, whatever the others did, unless
    interrupted): one after another, each in a log group with its step lines, or with
    `parallel` > 1 up to that many at once, a line each as they end."""
    from osiris import api
    from osiris.commands.console import Console

    inputs, loaded = ctx.inputs, ctx.loaded
    parallel = inputs.parallel or loaded.get("runner.max_parallel_runs")
    level = loaded.get("logging.level")
    runnable = [p for p in ctx.paths if p not in ctx.problems]
    results: dict[str, RunResult] = {}
    if parallel > 1 and len(runnable) > 1:
        by_source = {id(ctx.sources[p]): p for p in runnable}
        printing = threading.Lock()

        def done(source: Compiled, result: RunResult) -> None:
            path = by_source[id(source)]
            line = f"{path}: {result.status} (exit {result.exit_code})"
            if result.session_id:
                line += f", session {result.session_id}"
            with printing:  # runs end on their own threads; a line is written whole
                print(ctx.report.masker.mask(line), flush=True)

        title = f"osiris run: {len(runnable)} pipelines, up to {parallel} at a time"
        with workflow.group(title):
            ran = api.run_many(
                [ctx.sources[p] for p in runnable],
                loaded=loaded,
                parallel=parallel,
                dry_run=inputs.dry_run,
                observer_for=lambda _: Console(quiet=True, verbose=False, level=level),
                on_done=done,
            )
        results = dict(zip(runnable, ran, strict=True))
    else:
        for path in runnable:
            console = Console(quiet=False, verbose=False, level=level)
            with workflow.group(f"osiris run {path}"):
                result = api.run(
                    ctx.sources[path],
                    loaded=loaded,
                    runner=api.build_runner(loaded),
                    dry_run=inputs.dry_run,
                    observer=console,
                )
                if result.session_id is not None:
                    console.finish(result)
            results[path] = result
            if result.exit_code == EXIT_INTERRUPTED:
                break
    for path in ctx.paths:
        if path in ctx.problems:
            ctx.report.pipelines.append(ctx.invalid(path))
        elif path in results:
            result = results[path]
            pipeline = _run_result(ctx, path, result.exit_code, result.session_dir)
            ctx.report.pipelines.append(ctx.warned(pipeline, path))


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
