"""One action invocation from start to finish: inputs → command → outputs, summary, exit code."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import FrameType

from osiris.action import workflow
from osiris.action.commands import (
    compile_pipelines,
    prepare,
    register_values,
    run_pipelines,
    validate_pipelines,
)
from osiris.action.inputs import DEFAULTS, Inputs, read_inputs
from osiris.action.outputs import outputs
from osiris.action.report import Report
from osiris.action.summary import render
from osiris.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, OsirisError, UsageError

__all__ = ["run_action"]


@contextlib.contextmanager
def _process_environment(environ: Mapping[str, str]) -> Iterator[None]:
    """Make `environ` the process environment: the CLI, the runners and github-action-utils
    all read os.environ."""
    if environ is os.environ:
        yield
        return
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _line_buffered() -> None:
    # Commands and the CLI's output share stdout with child processes; keep them in order.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_action(environ: Mapping[str, str]) -> int:
    _line_buffered()
    if threading.current_thread() is threading.main_thread():
        # GitHub cancels a job with SIGTERM: stop the runs and still write the summary
        signal.signal(signal.SIGTERM, _raise_interrupt)
    command = (environ.get("INPUT_COMMAND") or DEFAULTS["command"]).strip()
    report = Report(command=command)
    inputs: Inputs | None = None
    with _process_environment(environ):
        # Before anything else is printed: the key is in the environment whatever runs.
        register_values(report.masker, [environ.get("E2B_API_KEY")])
        try:
            inputs = read_inputs(environ)
            _execute(inputs, environ, report)
        except OsirisError as exc:
            report.error = exc.format()
            report.error_code = exc.exit_code
            workflow.error(report.masker.mask(report.error), title=f"osiris {report.command}")
        except KeyboardInterrupt:
            report.error = "interrupted"
            report.error_code = EXIT_INTERRUPTED
        except Exception:
            print(report.masker.mask(traceback.format_exc()), file=sys.stderr, flush=True)
            report.error = "unexpected error, please report it; the traceback is in the step log"
            report.error_code = EXIT_INTERNAL
            workflow.error(report.error, title=f"osiris {report.command}")
        workflow.set_outputs(outputs(report))
        workflow.write_summary(render(report), masker=report.masker)
        code = report.exit_code
        fail_on_error = inputs.fail_on_error if inputs is not None else True
        if code and not fail_on_error and code != EXIT_INTERRUPTED:
            workflow.warning(
                f"osiris {report.command} finished with exit code {code} ({report.status}); "
                "fail-on-error is false, so this step succeeds"
            )
            return 0
    return code


def _execute(inputs: Inputs, environ: Mapping[str, str], report: Report) -> None:
    workspace = Path(environ.get("GITHUB_WORKSPACE") or os.getcwd()).resolve()
    cwd = (workspace / inputs.working_directory).resolve()
    if not cwd.is_dir():
        raise UsageError(
            f"working-directory '{inputs.working_directory}' is not a directory in {workspace}",
            hint="it is relative to the workspace; check out the repository first",
        )
    with contextlib.chdir(cwd):
        ctx, why = prepare(inputs, environ, workspace=workspace, cwd=cwd, report=report)
        if inputs.command in ("run", "compile"):
            report.executor = ctx.executor
            workflow.notice(why)
        if inputs.command == "run":
            from osiris.action.upload import upload_bundles

            run_pipelines(ctx)
            upload_bundles(ctx)
        elif inputs.command == "validate":
            validate_pipelines(ctx)
        elif inputs.command == "compile":
            compile_pipelines(ctx)
        elif inputs.command == "list":
            from osiris.action.plan import list_pipelines

            list_pipelines(ctx)
        else:
            from osiris.action.plan import plan_diffs

            plan_diffs(ctx)
