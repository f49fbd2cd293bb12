"""Run pipelines from Python: what `osiris run` and the GitHub action both call.

    loaded = load_config()
    source = prepare(Path("pipeline.yaml"), loaded=loaded)     # compile (or load a manifest)
    result = run(source, loaded=loaded, runner=build_runner(loaded))
    result.session_dir, result.status, result.exit_code, result.rows_written

`run` opens the session, hands the run to the runner it is given and finalizes the session;
`run_many` runs several side by side, one runner (local executor process or E2B sandbox) each.
Nothing here prints: what a person sees comes from the `RunObserver` the caller passes.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from osiris.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, OsirisError, UsageError
from osiris.pipeline import compiled

if TYPE_CHECKING:
    from osiris.config import LoadedConfig
    from osiris.pipeline import Manifest
    from osiris.pipeline.compiled import Compiled
    from osiris.runners import Runner, RunResult
    from osiris.runners.local import WarmExecutor
    from osiris.session import Session

__all__ = [
    "RunObserver",
    "build_runner",
    "compile_file",
    "prepare",
    "run",
    "run_many",
]

log = logging.getLogger(__name__)

# masking is by value: a secret this short also hides unrelated text that contains it
SHORT_SECRET = 8


class RunObserver(Protocol):
    """What a caller wants to see of a run while it goes (the CLI's console, the action)."""

    @property
    def log_level(self) -> int | None:
        """The `osiris` logger's level on the console; None: no console log."""

    def started(self, session: Session, data: Mapping[str, Any], dry_run: bool) -> None: ...

    def progress(self, event: str, fields: dict[str, Any]) -> None: ...

    def notice(self, text: str) -> None: ...


def compile_file(
    path: Path,
    loaded: LoadedConfig,
    params: Mapping[str, str],
    *,
    environ: Mapping[str, str] | None = None,
) -> Manifest:
    """Compile the pipeline at `path` with the configuration `loaded` (PipelineError if not)."""
    from osiris.pipeline import compile_pipeline

    connections = loaded.get("connections_file")
    if connections and not Path(connections).is_file():
        source = loaded.sources.get("connections_file", "configuration")
        raise UsageError(
            f"connections file {connections} ({source}) does not exist",
            hint="fix the path, or leave it unset to use osiris_connections.yaml next to the "
            "pipeline",
        )
    return compile_pipeline(
        path,
        params=dict(params),
        environ=os.environ if environ is None else environ,
        connections_file=Path(connections) if connections else None,
        run_settings=loaded.run_settings(loaded.get("runner.executor")),
    )


def prepare(
    path: Path, *, loaded: LoadedConfig, params: Mapping[str, str] | None = None
) -> Compiled:
    """What to run for `path`: a pipeline file compiled now, or a compiled manifest as it is."""
    params = params or {}
    if compiled.is_manifest(path):
        if params:
            raise UsageError(
                "--param cannot change a compiled manifest (parameters are bound when compiling)",
                hint="pass --param to `osiris compile`, or run the pipeline file",
            )
        if loaded.sources.get("runner.timeout_seconds") == "cli --timeout":
            raise UsageError(
                "--timeout cannot change a compiled manifest (limits are part of it)",
                hint="pass --timeout to `osiris compile`, or run the pipeline file",
            )
        return compiled.load(path)
    manifest = compile_file(path, loaded, params)
    return compiled.Compiled(
        manifest, str(path), path.read_text(encoding="utf-8"), path.parent.resolve()
    )


def build_runner(loaded: LoadedConfig, *, warm: WarmExecutor | None = None) -> Runner:
    """The runner `runner.executor` names, built from the configuration.

    `warm`, an executor process started early by the CLI, is used by the local runner; for any
    other executor it is discarded.
    """
    from osiris.runners import get_runner

    executor = loaded.get("runner.executor")
    if executor == "local":
        from osiris.runners.local import LocalRunner

        return LocalRunner(warm=warm)
    if warm is not None:
        warm.discard()
    return get_runner(executor).from_config(loaded.config)


def run(
    source: Compiled,
    *,
    loaded: LoadedConfig,
    runner: Runner,
    dry_run: bool = False,
    observer: RunObserver | None = None,
    environ: Mapping[str, str] | None = None,
    output_dir: Path | None = None,
) -> RunResult:
    """Run `source` through `runner` in a new session; the result names the session.

    The environment variables the manifest names are taken from `environ` (default: this
    process's); outputs are also placed under `output_dir` (default: the working directory).
    A failure of the run is in the result; only a session that cannot be created raises.
    """
    from osiris.runners import PreparedRun
    from osiris.session import Masker, Session

    env_source = os.environ if environ is None else environ
    manifest = source.manifest
    data = manifest.data
    executor = runner.name
    names = sorted({*data["env"]["required"], *data["env"]["optional"], *data["env"]["secret"]})
    env = {n: env_source[n] for n in names if n in env_source}
    masker = Masker.from_manifest(data, env)
    short = [value for value in masker.secrets if len(value) < SHORT_SECRET]
    if short and observer is not None:
        observer.notice(
            f"warning: {len(short)} secret value(s) shorter than {SHORT_SECRET} characters; "
            "osiris masks them wherever they appear, which can hide names and paths too"
        )
    logs_dir = Path(loaded.get("logging.logs_dir"))
    try:
        session = Session.create(
            logs_dir,
            pipeline_name=data["pipeline"]["name"],
            pipeline_file=source.pipeline_file,
            executor=executor,
            events=loaded.get("logging.events"),
            masker=masker,
        )
    except OSError as exc:
        raise UsageError(
            f"cannot create a session directory in {logs_dir}: {exc.strerror}",
            hint="pass --logs-dir DIR or set logging.logs_dir to a writable directory",
        ) from exc
    level = observer.log_level if observer is not None else None
    with runner, session, session.logging(console_level=level):
        if observer is not None:
            observer.started(session, data, dry_run)
        if source.pipeline_text is not None:
            session.write_artifact("pipeline.yaml", source.pipeline_text)
        session.write_artifact("manifest.json", manifest.to_json())
        session.update(fingerprint=manifest.fingerprint)
        session.emit(
            "run_start",
            pipeline=data["pipeline"]["name"],
            executor=executor,
            fingerprint=manifest.fingerprint,
            dry_run=dry_run,
            steps=len(data["steps"]),
        )
        for warning in manifest.warnings:
            session.emit("compile_warning", **warning.to_dict())
        prepared = PreparedRun(
            manifest,
            source.input_root,
            env,
            dry_run=dry_run,
            output_dir=Path.cwd() if output_dir is None else output_dir,
        )
        on_progress = observer.progress if observer is not None else None
        try:
            result = runner.run(prepared, session, on_progress=on_progress)
        except Exception:
            from osiris.crash import report_crash

            crash = report_crash(session.path / "osiris.log")
            error = {"code": "internal.error", "message": f"unexpected error; details in {crash}"}
            session.finalize("failed", EXIT_INTERNAL, error)
            from osiris.runners import RunResult

            result = RunResult("failed", EXIT_INTERNAL, 0, error)
        else:
            session.update(
                rows_read=result.rows_read,
                rows_written=result.rows_written,
                outputs=result.outputs,
                output_dir=result.output_dir,
            )
            session.finalize(result.status, result.exit_code, result.error)
        bundle = _bundle_on_failure(session, result, loaded, observer)
    return dataclasses.replace(
        result, session_id=session.id, session_dir=session.path, bundle=bundle
    )


def run_many(
    sources: Sequence[Compiled],
    *,
    loaded: LoadedConfig,
    parallel: int,
    dry_run: bool = False,
    observer_for: Callable[[Compiled], RunObserver | None] | None = None,
    on_done: Callable[[Compiled, RunResult], None] | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[RunResult]:
    """Run every source, up to `parallel` at once, each with its own runner and session.

    Results come back in the order of `sources`. An interrupt (Ctrl-C, SIGTERM as
    KeyboardInterrupt) stops every run: each runner stops its executor (or kills its sandbox)
    and each session is finalized as interrupted; runs not yet started come back as interrupted
    without a session.
    """
    from osiris.runners import RunResult

    results: list[RunResult | None] = [None] * len(sources)
    runners: dict[int, Runner] = {}
    lock = threading.Condition()
    pending = list(range(len(sources)))
    active: set[int] = set()
    stopping = threading.Event()

    def work(i: int) -> None:
        source = sources[i]
        try:
            runner = runners[i]
            observer = observer_for(source) if observer_for is not None else None
            result = run(
                source,
                loaded=loaded,
                runner=runner,
                dry_run=dry_run,
                observer=observer,
                environ=environ,
            )
        except OsirisError as exc:
            result = RunResult(
                "failed", exc.exit_code, 0, {"code": "runner.error", "message": exc.message}
            )
        except BaseException as exc:  # a thread must always report back
            log.error("run of %s failed: %r", source.pipeline_file, exc, exc_info=True)
            result = RunResult(
                "failed", EXIT_INTERNAL, 0, {"code": "internal.error", "message": str(exc)}
            )
        if stopping.is_set() and result.status != "succeeded":
            result = dataclasses.replace(result, exit_code=EXIT_INTERRUPTED)
        try:
            if on_done is not None:
                on_done(source, result)
        finally:
            with lock:
                results[i] = result
                active.discard(i)
                lock.notify_all()

    threads: list[threading.Thread] = []
    try:
        with lock:
            while pending or active:
                while pending and len(active) < max(1, parallel):
                    i = pending.pop(0)
                    runners[i] = build_runner(loaded)
                    active.add(i)
                    t = threading.Thread(target=work, args=(i,), name=f"run-{i}", daemon=True)
                    threads.append(t)
                    t.start()
                lock.wait(timeout=0.5)
    except BaseException as exc:
        # Ctrl-C or SIGTERM: every runner stops its executor or kills its sandbox, and each
        # run finalizes its session as interrupted before this returns
        stopping.set()
        with lock:
            pending.clear()
            stopped = [runners[i] for i in active]
        for runner in stopped:
            runner.interrupt()
        for t in threads:
            t.join(timeout=60)
        if not isinstance(exc, KeyboardInterrupt):
            raise
    for t in threads:
        t.join(timeout=60)
    return [r if r is not None else _not_run() for r in results]


def _not_run() -> RunResult:
    from osiris.runners import RunResult

    return RunResult("interrupted", EXIT_INTERRUPTED, 0, {"code": "interrupted"})


def _bundle_on_failure(
    session: Session, result: RunResult, loaded: LoadedConfig, observer: RunObserver | None
) -> Path | None:
    if result.status in ("succeeded", "dry_run") or not loaded.get("runner.bundle_on_failure"):
        return None
    from osiris.session.commands import bundle_session

    try:
        return bundle_session(session.path, masker=session.masker)
    except (OSError, OsirisError) as exc:
        if observer is not None:
            observer.notice(f"warning: could not bundle the session: {exc}")
        return None
