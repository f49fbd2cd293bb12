"""What `osiris compile` keeps, so a compiled manifest can be run later.

Upstream Osiris users compile, then run what they compiled (`osiris run --last-compile`, or
`osiris run <manifest>`). In the working directory:

    .osiris/compiled/<first 12 hex digits of the manifest fingerprint>/
        manifest.json     the manifest, byte for byte what `osiris compile` printed
        pipeline.yaml     the pipeline it was compiled from (the run's session keeps a copy)
        source.json       {"pipeline": "<absolute path>"}: input files are relative to its folder
    .osiris/last_compile  the path of the last manifest.json compiled here, one line

A manifest written elsewhere with `--out` finds its pipeline through the copy kept here (by
fingerprint); one compiled on another machine runs too, its input files relative to the
manifest's folder. Nothing here holds a secret: manifests never do.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from osiris.errors import UsageError

if TYPE_CHECKING:
    from osiris.pipeline import Manifest

STORE = ".osiris"
LAST = "last_compile"


@dataclass(frozen=True)
class Compiled:
    """A manifest to run, with what the run needs of the pipeline it came from."""

    manifest: Manifest
    pipeline_file: str  # as the session names it
    pipeline_text: str | None  # None when the source is not at hand
    input_root: Path


def record(manifest: Manifest, pipeline: Path, *, cwd: Path | None = None) -> Path:
    """Keep `manifest` (compiled from `pipeline`) and make it the last compile; its path."""
    store = (cwd or Path.cwd()) / STORE
    folder = store / "compiled" / manifest.fingerprint.removeprefix("sha256:")[:12]
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / "pipeline.yaml", pipeline.read_bytes())
    _write(folder / "source.json", json.dumps({"pipeline": str(pipeline.resolve())}).encode())
    _write(folder / "manifest.json", manifest.to_json().encode("utf-8"))
    _write(store / LAST, f"{folder / 'manifest.json'}\n".encode())
    return folder / "manifest.json"


def last(*, cwd: Path | None = None) -> Path:
    """The manifest of the last `osiris compile` in the working directory."""
    pointer = (cwd or Path.cwd()) / STORE / LAST
    try:
        path = Path(pointer.read_text(encoding="utf-8").strip())
    except OSError:
        raise UsageError(
            f"no compiled pipeline in this directory ({pointer} does not exist)",
            hint="run `osiris compile <pipeline>` first, or `osiris run <pipeline>`",
        ) from None
    if not path.is_file():
        raise UsageError(
            f"the last compiled manifest {path} is gone",
            hint="run `osiris compile <pipeline>` again",
        )
    return path


def is_manifest(path: Path) -> bool:
    """A compiled manifest (JSON) rather than a pipeline (YAML)."""
    if path.suffix.lower() == ".json":
        return True
    try:
        with path.open("rb") as f:
            head = f.read(256).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        return False
    return head.startswith(b"{") and b'"manifest_version"' in head


def load(path: Path) -> Compiled:
    """A manifest file and, when it was compiled here, the pipeline it came from."""
    from osiris.pipeline import Manifest

    manifest = Manifest.from_file(path)
    folder = path.parent
    kept = Path.cwd() / STORE / "compiled" / manifest.fingerprint.removeprefix("sha256:")[:12]
    if not (folder / "source.json").is_file() and (kept / "source.json").is_file():
        folder = kept  # written with --out; the copy kept here knows where it came from
    try:
        source = json.loads((folder / "source.json").read_text(encoding="utf-8"))
        text = (folder / "pipeline.yaml").read_text(encoding="utf-8")
        pipeline = Path(source["pipeline"])
    except (OSError, ValueError, KeyError, TypeError):
        name = manifest.data["pipeline"]["file"]
        return Compiled(manifest, name, None, path.parent.resolve())
    return Compiled(manifest, str(pipeline), text, pipeline.parent)


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
