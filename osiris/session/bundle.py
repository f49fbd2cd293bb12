"""A session directory as one deterministic zip: what a user attaches to a bug report or a CI run.

Members are `<session_id>/<path>` in sorted order with a fixed timestamp and mode, followed by
`<session_id>/bundle_manifest.json` (each file's size and sha256), so bundling the same
directory twice gives byte-identical zips. Symbolic links are never followed and anything that is
not a regular file is left out; both are listed under "skipped" in the bundle manifest.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from osiris import __version__
from osiris.errors import UsageError
from osiris.session.info import read_session
from osiris.session.masking import Masker

__all__ = ["BUNDLE_MANIFEST", "bundle_session", "write_bundle"]

BUNDLE_MANIFEST = "bundle_manifest.json"
# Re-masked on the way into the bundle when a masker is given; outputs/ is user data, kept as is.
_TEXT_SUFFIXES = frozenset({".txt", ".log", ".jsonl", ".json", ".yaml", ".yml"})
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644 << 16
_ZIP64_FROM = 1 << 31
_CHUNK = 1 << 20


@dataclass(frozen=True)
class _Member:
    rel: str
    path: Path


def bundle_session(
    session_dir: Path, out: Path | None = None, *, masker: Masker | None = None
) -> Path:
    """Zips `session_dir` into `out` (default `<logs_dir>/<session_id>.zip`) and returns its path.

    With a masker, the text logs are masked once more on the way in (outputs are left alone).
    Raises UsageError when the directory is not a session or the zip cannot be written.
    """
    return write_bundle(session_dir, out, masker=masker)[0]


def write_bundle(
    session_dir: Path, out: Path | None = None, *, masker: Masker | None = None
) -> tuple[Path, list[dict[str, str]]]:
    """`bundle_session`, also returning what was left out ({path, reason})."""
    if session_dir.is_symlink() or not session_dir.is_dir():
        raise UsageError(f"{session_dir} is not a session directory")
    info = read_session(session_dir)
    session_id = session_dir.name
    out = out if out is not None else session_dir.parent / f"{session_id}.zip"
    tmp = out.with_name(out.name + ".tmp")
    excluded = {os.path.abspath(out), os.path.abspath(tmp)}
    members, skipped = _collect(session_dir, excluded)

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            files = []
            for member in members:
                entry = _add(zf, f"{session_id}/{member.rel}", member, masker)
                if entry is None:
                    skipped.append({"path": member.rel, "reason": "could not be read"})
                else:
                    files.append(entry)
            manifest: dict[str, Any] = {
                "bundle_version": 1,
                "osiris_version": __version__,
                "session_id": session_id,
                "status": info.status,
                "incomplete": info.incomplete,
                "files": files,
                "skipped": sorted(skipped, key=lambda s: s["path"]),
            }
            if masker is not None:
                manifest = masker.mask_obj(manifest)
            text = json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
            zf.writestr(_zipinfo(f"{session_id}/{BUNDLE_MANIFEST}"), text.encode("utf-8"))
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(
            f"cannot write the bundle {out}: {exc.strerror or exc}",
            hint="choose another place with --out",
        ) from exc
    return out, skipped


def _collect(session_dir: Path, excluded: set[str]) -> tuple[list[_Member], list[dict[str, str]]]:
    root = session_dir.resolve()
    members: list[_Member] = []
    skipped: list[dict[str, str]] = []
    pending: list[tuple[Path, str]] = [(session_dir, "")]
    while pending:
        directory, prefix = pending.pop()
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            where = prefix.rstrip("/") or "."
            skipped.append({"path": where, "reason": f"unreadable: {exc.strerror}"})
            continue
        for entry in entries:
            rel = prefix + entry.name
            path = Path(entry.path)
            if entry.is_symlink():
                if path.resolve().is_relative_to(root):
                    reason = "symbolic link (not followed)"
                else:
                    reason = "symbolic link pointing outside the session directory (refused)"
                skipped.append({"path": rel, "reason": reason})
            elif entry.is_dir(follow_symlinks=False):
                pending.append((path, rel + "/"))
            elif entry.is_file(follow_symlinks=False):
                if os.path.abspath(path) not in excluded:
                    members.append(_Member(rel, path))
            else:
                skipped.append({"path": rel, "reason": "not a regular file"})
    members.sort(key=lambda m: m.rel)
    return members, skipped


def _zipinfo(arcname: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(arcname, date_time=_ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3
    info.external_attr = _FILE_MODE
    return info


def _add(
    zf: zipfile.ZipFile, arcname: str, member: _Member, masker: Masker | None
) -> dict[str, Any] | None:
    digest = hashlib.sha256()
    size = 0
    try:
        if masker is not None and _maskable(member.rel):
            raw = member.path.read_bytes()
            with contextlib.suppress(UnicodeDecodeError):
                raw = masker.mask(raw.decode("utf-8")).encode("utf-8")
            zf.writestr(_zipinfo(arcname), raw)
            digest.update(raw)
            size = len(raw)
        else:
            big = member.path.stat().st_size >= _ZIP64_FROM
            with (
                member.path.open("rb") as src,
                zf.open(_zipinfo(arcname), "w", force_zip64=big) as dst,
            ):
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
    except (PermissionError, FileNotFoundError):
        return None
    return {"path": member.rel, "size": size, "sha256": digest.hexdigest()}


def _maskable(rel: str) -> bool:
    return not rel.startswith("artifacts/outputs/") and Path(rel).suffix in _TEXT_SUFFIXES
