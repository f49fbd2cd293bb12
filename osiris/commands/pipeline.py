"""`osiris validate` (and `osiris oml validate`) and `osiris compile`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from osiris.api import compile_file
from osiris.errors import PipelineError
from osiris.pipeline import compiled

if TYPE_CHECKING:
    from osiris.config import LoadedConfig
    from osiris.pipeline import Manifest


def print_warnings(manifest: Manifest) -> None:
    """What the compiler accepted but the user should know, one line each on stderr."""
    for warning in manifest.warnings:
        print(warning.format(), file=sys.stderr)


def validate(paths: list[Path], *, loaded: LoadedConfig, params: dict[str, str], fmt: str) -> int:
    results: list[dict[str, Any]] = []
    code = 0
    for path in paths:
        try:
            manifest = compile_file(path, loaded, params)
        except PipelineError as exc:
            code = exc.exit_code
            results.append(
                {"file": str(path), "valid": False, "problems": [p.to_dict() for p in exc.problems]}
            )
            if fmt == "text":
                print(exc.format(), file=sys.stderr)
        else:
            results.append(
                {
                    "file": str(path),
                    "valid": True,
                    "fingerprint": manifest.fingerprint,
                    "steps": len(manifest.data["steps"]),
                    "warnings": [p.to_dict() for p in manifest.warnings],
                }
            )
            if fmt == "text":
                show_valid(path, manifest)
    if fmt == "json":
        print(json.dumps({"valid": code == 0, "pipelines": results}, indent=2))
    return code


def compile_one(
    path: Path, *, loaded: LoadedConfig, params: dict[str, str], out: Path | None, fmt: str
) -> int:
    try:
        manifest = compile_file(path, loaded, params)
    except PipelineError as exc:
        if fmt == "json":
            print(json.dumps(exc.to_dict(), indent=2))
        else:
            print(exc.format(), file=sys.stderr)
        return exc.exit_code
    show_compiled(path, manifest, out)
    return 0


def show_valid(path: Path | str, manifest: Manifest) -> None:
    """`osiris validate`'s lines for a pipeline that compiled."""
    print(f"{path}: ok ({len(manifest.data['steps'])} steps, {manifest.fingerprint[:19]})")
    print_warnings(manifest)


def show_compiled(path: Path | str, manifest: Manifest, out: Path | None) -> None:
    """What `osiris compile` does with a compiled pipeline: the manifest to `out` (stdout when
    None), and kept for `osiris run --last-compile`."""
    print_warnings(manifest)
    if out is None:
        sys.stdout.write(manifest.to_json())
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(manifest.to_json(), encoding="utf-8")
        print(f"wrote {out} ({manifest.fingerprint})", file=sys.stderr)
    try:
        kept = compiled.record(manifest, Path(path))
    except OSError as exc:
        print(f"warning: could not keep the manifest for --last-compile: {exc}", file=sys.stderr)
    else:
        print(f"run it with `osiris run --last-compile` (kept as {kept})", file=sys.stderr)
