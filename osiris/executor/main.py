"""`osiris exec`: the entry point every runner starts (a child process, a sandbox command)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from osiris.errors import EXIT_OK, EXIT_USAGE, OsirisError
from osiris.executor.limits import ParentWatch, start_memory_watchdog
from osiris.executor.network import install_guard
from osiris.executor.progress import encode

_parent = ParentWatch()


def _emit(kind: str, **fields: Any) -> None:
    try:
        sys.stdout.write(encode(kind, **fields) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        _parent.end_group_if_orphaned()
        raise


def _limit_cpus(cpu: float | None) -> None:
    # runner.cpu is applied as core affinity, to every thread there is (a warm start may have
    # some already); threads started later inherit it
    if cpu and hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))[: max(1, math.ceil(cpu))]
        tasks = Path("/proc/self/task")
        threads = [int(t.name) for t in tasks.iterdir()] if tasks.is_dir() else [0]
        for tid in threads:
            with contextlib.suppress(ProcessLookupError):
                os.sched_setaffinity(tid, cores)


def serve_stdin(preload: Path | None) -> int:
    """`osiris exec --stdin`: import what the run will need, then run what the runner sends.

    The LocalRunner starts this before the CLI has compiled the pipeline (a warm start), so
    Python and the data libraries load on another core in the meantime. `preload` is the
    pipeline file: the drivers of the components it names are imported (best effort; the run
    reports any real problem). The runner then writes one JSON line: the manifest path, the
    work and input directories, and the environment variables the manifest names, secrets
    included; they travel over this pipe, never through a file or the command line. End of
    input before that line means the run was called off.
    """
    _warm_up(preload)
    line = sys.stdin.readline()
    if not line.strip():
        return EXIT_OK
    request = json.loads(line)
    os.environ.update(request["env"])
    workdir = Path(request["workdir"])
    os.chdir(workdir)
    return exec_manifest(
        Path(request["manifest"]), workdir=workdir, input_root=Path(request["input_root"])
    )


def _warm_up(pipeline: Path | None) -> None:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # see exec_manifest
    import pyarrow.compute  # noqa: F401  (every step passes Arrow data)

    from osiris.components import load_driver
    from osiris.executor import engine  # noqa: F401

    for name in _components_of(pipeline):
        with contextlib.suppress(Exception):
            driver = load_driver(name)
            warm = getattr(driver, "warm", None)
            if callable(warm):
                warm()


def _components_of(pipeline: Path | None) -> list[str]:
    if pipeline is None:
        return []
    from osiris.components import load_yaml

    try:
        data = load_yaml(pipeline.read_text(encoding="utf-8"))
        steps = data.get("steps") if isinstance(data, dict) else None
        names = {s.get("component") for s in steps or [] if isinstance(s, dict)}
    except Exception:  # the compiler reports a broken pipeline properly
        return []
    return sorted(n for n in names if isinstance(n, str))


def exec_manifest(
    manifest_path: Path,
    *,
    workdir: Path,
    input_root: Path,
    environ: Mapping[str, str] | None = None,
) -> int:
    # numpy (which pyarrow imports when it is installed) starts an OpenBLAS thread per core
    # that spins while idle; the data path needs no BLAS, so one thread. A user's value is kept.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from osiris.executor.engine import execute

    env = os.environ if environ is None else environ
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"error: cannot read manifest {manifest_path}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    _limit_cpus(manifest["run"]["limits"].get("cpu"))
    start_memory_watchdog(manifest["run"]["limits"].get("memory_mb"), _emit)
    _parent.start()
    network = manifest["run"]["network"]
    install_guard(network.get("allow", ["*"]))
    output_root = workdir / "outputs"
    output_root.mkdir(parents=True, exist_ok=True)
    try:
        return execute(
            manifest,
            environ=env,
            input_root=input_root,
            output_root=output_root,
            scratch_dir=workdir / "scratch",
            emit=_emit,
        )
    except OsirisError as exc:
        _emit("error", code="config.invalid", message=exc.message, exit_code=exc.exit_code)
        print(f"error: {exc.format()}", file=sys.stderr)
        return exc.exit_code
    finally:
        _parent.end_group_if_orphaned()
