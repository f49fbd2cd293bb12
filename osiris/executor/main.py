"""`osiris exec`: the entry point every runner starts (a child process, a sandbox command)."""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from osiris.errors import EXIT_USAGE, OsirisError
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
    # runner.cpu is applied as core affinity, set before any worker thread exists
    if cpu and hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))[: max(1, math.ceil(cpu))]
        os.sched_setaffinity(0, cores)


def exec_manifest(
    manifest_path: Path,
    *,
    workdir: Path,
    input_root: Path,
    environ: Mapping[str, str] | None = None,
) -> int:
    # numpy (which pyarrow imports) starts an OpenBLAS thread per core that spins while idle;
    # the data path needs no BLAS, so one thread. A value set by the user is kept.
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
