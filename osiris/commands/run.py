"""`osiris run`: compile, open a session, hand the run to the configured runner, summarise."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from osiris.commands import compiled
from osiris.commands.console import Console
from osiris.commands.pipeline import compile_with, print_warnings
from osiris.errors import EXIT_INTERNAL, OsirisError, PipelineError, UsageError

if TYPE_CHECKING:
    from osiris.config import LoadedConfig
    from osiris.runners import RunResult
    from osiris.runners.local import WarmExecutor
    from osiris.session import Session


SHORT_SECRET = 8


def run(
    path: Path,
    *,
    loaded: LoadedConfig,
    params: dict[str, str],
    dry_run: bool,
    quiet: bool,
    as_json: bool,
    verbose: bool,
    warm: WarmExecutor | None = None,
) -> int:
    from osiris.runners import PreparedRun, get_runner
    from osiris.runners.local import LocalRunner
    from osiris.session import Masker, Session

    if compiled.is_manifest(path):
        source = _compiled_source(path, loaded, params)
    else:
        try:
            manifest = compile_with(path, loaded, params)
        except PipelineError as exc:
            print(exc.format(), file=sys.stderr)
            return exc.exit_code
        print_warnings(manifest)
        source = compiled.Compiled(
            manifest, str(path), path.read_text(encoding="utf-8"), path.parent.resolve()
        )
    manifest = source.manifest
    executor = loaded.get("runner.executor")
    runner_cls = get_runner(executor)
    data = manifest.data
    env_names = sorted({*data["env"]["required"], *data["env"]["optional"], *data["env"]["secret"]})
    env = {n: os.environ[n] for n in env_names if n in os.environ}
    masker = Masker.from_manifest(data, env)
    short = [value for value in masker.secrets if len(value) < SHORT_SECRET]
    if short:
        # masking is by value: a short secret also hides every unrelated text that contains it
        print(
            f"warning: {len(short)} secret value(s) shorter than {SHORT_SECRET} characters; "
            "osiris masks them wherever they appear, which can hide names and paths too",
            file=sys.stderr,
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
    console = Console(
        session, quiet=quiet or as_json, verbose=verbose, level=loaded.get("logging.level")
    )
    with session, session.logging(console_level=console.log_level):
        console.start(data, executor, dry_run)
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
            manifest, source.input_root, env, dry_run=dry_run, output_dir=Path.cwd()
        )
        try:
            with runner_cls.from_config(loaded.config) as runner:
                if warm is not None and isinstance(runner, LocalRunner):
                    runner.adopt(warm)
                result = runner.run(prepared, session, on_progress=console.progress)
        except Exception:
            from osiris.commands.crash import report_crash

            log = report_crash(session.path / "osiris.log")
            session.finalize(
                "failed", EXIT_INTERNAL, {"code": "internal.error", "message": "unexpected error"}
            )
            print(f"error: unexpected error, please report it; details in {log}", file=sys.stderr)
            return EXIT_INTERNAL
        session.update(
            rows_read=result.rows_read,
            rows_written=result.rows_written,
            outputs=result.outputs,
            output_dir=result.output_dir,
        )
        session.finalize(result.status, result.exit_code, result.error)
        bundle = _bundle_on_failure(session, result, loaded)
    if as_json:
        print(json.dumps(_summary(session, result, bundle), indent=2, sort_keys=True))
    else:
        console.finish(result, bundle)
    return result.exit_code


def _compiled_source(path: Path, loaded: LoadedConfig, params: dict[str, str]) -> compiled.Compiled:
    """A compiled manifest to run as it is: what compile bound cannot change now."""
    if params:
        raise UsageError(
            "--param cannot change a compiled manifest (parameters are bound when compiling)",
            hint="pass --param to `osiris compile`, or run the pipeline file",
        )
    for key, flag in (("runner.timeout_seconds", "--timeout"),):
        if loaded.sources.get(key) == f"cli {flag}":
            raise UsageError(
                f"{flag} cannot change a compiled manifest (limits are part of it)",
                hint=f"pass {flag} to `osiris compile`, or run the pipeline file",
            )
    return compiled.load(path)


def _bundle_on_failure(session: Session, result: RunResult, loaded: LoadedConfig) -> Path | None:
    if result.status in ("succeeded", "dry_run") or not loaded.get("runner.bundle_on_failure"):
        return None
    from osiris.session.commands import bundle_session

    try:
        return bundle_session(session.path, masker=session.masker)
    except (OSError, OsirisError) as exc:
        print(f"warning: could not bundle the session: {exc}", file=sys.stderr)
        return None


def _summary(session: Session, result: RunResult, bundle: Path | None) -> dict[str, Any]:
    return session.masker.mask_obj(
        {
            "session_id": session.id,
            "session_dir": str(session.path),
            **result.to_dict(),
            "bundle": str(bundle) if bundle else None,
        }
    )
