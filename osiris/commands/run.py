"""`osiris run`: compile, run through the configured runner (osiris.api), summarise.

One pipeline prints a line per step event and a summary. Several run side by side (up to
`--parallel` / runner.max_parallel_runs at once), each in its own session with its own runner;
the console then shows a line per pipeline as it ends, and a total. The exit code is the worst.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from osiris.commands.console import Console
from osiris.errors import EXIT_INTERRUPTED, EXIT_OK, PipelineError

if TYPE_CHECKING:
    from osiris.config import LoadedConfig
    from osiris.pipeline.compiled import Compiled
    from osiris.runners import RunResult
    from osiris.runners.local import WarmExecutor


def run(
    paths: list[Path],
    *,
    loaded: LoadedConfig,
    params: dict[str, str],
    dry_run: bool,
    quiet: bool,
    as_json: bool,
    verbose: bool,
    parallel: int | None = None,
    warm: WarmExecutor | None = None,
) -> int:
    from osiris import api
    from osiris.commands.pipeline import print_warnings

    sources: list[tuple[Path, Compiled | None]] = []
    worst = EXIT_OK
    for path in paths:
        try:
            source = api.prepare(path, loaded=loaded, params=params)
        except PipelineError as exc:
            print(exc.format(), file=sys.stderr)
            worst = max(worst, exc.exit_code)
            sources.append((path, None))
            continue
        print_warnings(source.manifest)
        sources.append((path, source))
    if len(paths) == 1:
        only = sources[0][1]
        if only is None:
            return worst
        console = Console(
            quiet=quiet or as_json, verbose=verbose, level=loaded.get("logging.level")
        )
        result = api.run(
            only, loaded=loaded, runner=api.build_runner(loaded, warm=warm), dry_run=dry_run,
            observer=console,
        )  # fmt: skip
        if as_json:
            print(json.dumps(_summary(result, console), indent=2, sort_keys=True))
        else:
            console.finish(result)
        return result.exit_code
    return _run_several(
        sources, worst, loaded=loaded, dry_run=dry_run, quiet=quiet, as_json=as_json,
        parallel=parallel or loaded.get("runner.max_parallel_runs"),
    )  # fmt: skip


def _run_several(
    sources: list[tuple[Path, Compiled | None]],
    worst: int,
    *,
    loaded: LoadedConfig,
    dry_run: bool,
    quiet: bool,
    as_json: bool,
    parallel: int,
) -> int:
    from osiris import api

    runnable = [s for _, s in sources if s is not None]
    t0 = time.monotonic()
    executor = loaded.get("runner.executor")
    if not (quiet or as_json):
        print(
            f"Running {len(runnable)} pipelines, up to {parallel} at a time, with the {executor} "
            "executor",
            flush=True,
        )
    consoles: dict[int, Console] = {}

    def observer_for(source: Compiled) -> Console:
        console = Console(quiet=True, verbose=False, level=loaded.get("logging.level"))
        consoles[id(source)] = console
        return console

    printing = threading.Lock()

    def done(source: Compiled, result: RunResult) -> None:
        if not (quiet or as_json):
            with printing:  # runs end on their own threads; a line is written whole
                print(_line(source, result, consoles.get(id(source))), flush=True)

    results = api.run_many(
        runnable, loaded=loaded, parallel=parallel, dry_run=dry_run,
        observer_for=observer_for, on_done=done,
    )  # fmt: skip
    if any(r.exit_code == EXIT_INTERRUPTED for r in results):
        print("interrupted: every run was stopped; their sessions say so", file=sys.stderr)
    by_source = dict(zip((id(s) for s in runnable), results, strict=True))
    worst = max([worst, *(r.exit_code for r in results)])
    ok = sum(1 for r in results if r.status in ("succeeded", "dry_run"))
    invalid = sum(1 for _, s in sources if s is None)
    if as_json:
        rows = []
        for path, source in sources:
            if source is None:
                rows.append({"pipeline_file": str(path), "status": "invalid"})
                continue
            result = by_source[id(source)]
            rows.append({"pipeline_file": str(path), **_summary(result, consoles[id(source)])})
        print(json.dumps({"exit_code": worst, "runs": rows}, indent=2, sort_keys=True))
        return worst
    total = f"{len(sources)} pipelines: {ok} ok"
    if len(results) - ok:
        total += f", {len(results) - ok} failed"
    if invalid:
        total += f", {invalid} invalid"
    seconds = time.monotonic() - t0
    print(
        f"Total: {total} in {seconds:.2f}s (exit {worst})", file=sys.stderr if worst else sys.stdout
    )
    return worst


def _line(source: Compiled, result: RunResult, console: Console | None) -> str:
    name = source.manifest.data["pipeline"]["name"]
    text = (
        f"  {result.status:<11} {name} ({source.pipeline_file}) in {result.duration_ms / 1000:.2f}s"
    )
    if result.status == "succeeded":
        text += f": {result.rows_read:,} rows read, {result.rows_written:,} written"
    elif result.error:
        text += f": [{result.error.get('code', 'error')}] {result.error.get('message', '')}"
    if result.session_dir is not None:
        text += f" — session {result.session_dir}"
    masker = getattr(getattr(console, "session", None), "masker", None)
    return masker.mask(text) if masker is not None else text


def _summary(result: RunResult, console: Console) -> dict[str, Any]:
    data = {
        "session_id": result.session_id,
        "session_dir": str(result.session_dir) if result.session_dir else None,
        **result.to_dict(),
        "bundle": str(result.bundle) if result.bundle else None,
    }
    session = getattr(console, "session", None)
    return session.masker.mask_obj(data) if session is not None else data
