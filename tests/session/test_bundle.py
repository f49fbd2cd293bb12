from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path

import pytest

from osiris.errors import UsageError
from osiris.session import Masker, Session, bundle_session
from osiris.session.commands import logs_bundle


def _session(logs_dir: Path) -> Session:
    session = Session.create(
        logs_dir, pipeline_name="orders", pipeline_file="pipeline.yaml", executor="local"
    )
    session.emit("run_start")
    session.metric("rows_read", 3, "rows", step="extract")
    session.write_artifact("pipeline.yaml", "name: orders\n")
    session.write_artifact("manifest.json", '{"manifest_version":"0.1"}\n')
    session.write_artifact("outputs/orders.csv", b"id\n1\n2\n3\n")
    session.write_artifact("outputs/nested/part-0.csv", b"id\n4\n")
    session.stream_writer("stdout")("hello")
    session.finalize("succeeded", 0)
    session.close()
    return session


def _names(zip_path: Path) -> list[str]:
    with zipfile.ZipFile(zip_path) as zf:
        return zf.namelist()


def test_bundles_are_byte_identical_and_ignore_mtimes(logs_dir, tmp_path):
    session = _session(logs_dir)
    first = bundle_session(session.path, tmp_path / "a.zip")
    second = bundle_session(session.path, tmp_path / "b.zip")
    for path in session.path.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    third = bundle_session(session.path, tmp_path / "c.zip")
    assert first.read_bytes() == second.read_bytes() == third.read_bytes()


def test_bundle_layout_and_manifest(logs_dir):
    session = _session(logs_dir)
    out = bundle_session(session.path)
    assert out == logs_dir / f"{session.id}.zip"
    prefix = session.id + "/"
    expected = [
        "artifacts/manifest.json",
        "artifacts/outputs/nested/part-0.csv",
        "artifacts/outputs/orders.csv",
        "artifacts/pipeline.yaml",
        "artifacts/stdout.txt",
        "events.jsonl",
        "metrics.jsonl",
        "report.html",
        "session.json",
    ]
    assert _names(out) == [prefix + n for n in expected] + [prefix + "bundle_manifest.json"]
    with zipfile.ZipFile(out) as zf:
        assert {info.date_time for info in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        manifest = json.loads(zf.read(prefix + "bundle_manifest.json"))
        assert [f["path"] for f in manifest["files"]] == expected
        for entry in manifest["files"]:
            data = zf.read(prefix + entry["path"])
            assert entry["size"] == len(data)
            assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert {k: manifest[k] for k in ("session_id", "status", "incomplete", "skipped")} == {
        "session_id": session.id,
        "status": "succeeded",
        "incomplete": False,
        "skipped": [],
    }


def test_symlinks_are_never_followed_and_escaping_ones_are_refused(logs_dir, tmp_path, capsys):
    session = _session(logs_dir)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "id_rsa").write_text("TOPSECRET-KEY")
    (session.outputs / "key").symlink_to(outside / "id_rsa")
    (session.outputs / "dir").symlink_to(outside, target_is_directory=True)
    (session.outputs / "dangling").symlink_to(tmp_path / "missing")
    (session.outputs / "again.csv").symlink_to(session.outputs / "orders.csv")

    assert logs_bundle(logs_dir, session.id, out=None) == 0
    out = logs_dir / f"{session.id}.zip"
    captured = capsys.readouterr()
    assert captured.out == f"{out}\n"
    refused = "symbolic link pointing outside the session directory (refused)"
    assert captured.err.splitlines() == [
        "note: left out artifacts/outputs/again.csv: symbolic link (not followed)",
        f"note: left out artifacts/outputs/dangling: {refused}",
        f"note: left out artifacts/outputs/dir: {refused}",
        f"note: left out artifacts/outputs/key: {refused}",
    ]
    with zipfile.ZipFile(out) as zf:
        assert not any("TOPSECRET" in zf.read(name).decode() for name in zf.namelist())
        assert not any(n.endswith(("/key", "/dir", "/again.csv")) for n in zf.namelist())
        manifest = json.loads(zf.read(f"{session.id}/bundle_manifest.json"))
    assert [s["path"] for s in manifest["skipped"]] == [
        "artifacts/outputs/again.csv",
        "artifacts/outputs/dangling",
        "artifacts/outputs/dir",
        "artifacts/outputs/key",
    ]


def test_a_masker_masks_text_files_again_but_not_outputs(logs_dir):
    session = _session(logs_dir)
    (session.artifacts / "stderr.txt").write_text("leaked hunter2\n")
    session.write_artifact("outputs/raw.txt", b"hunter2")
    out = bundle_session(session.path, masker=Masker(["hunter2"]))
    with zipfile.ZipFile(out) as zf:
        assert zf.read(f"{session.id}/artifacts/stderr.txt") == b"leaked ***\n"
        assert zf.read(f"{session.id}/artifacts/outputs/raw.txt") == b"hunter2"


def test_a_bundle_written_inside_the_session_is_not_bundled_into_itself(logs_dir):
    session = _session(logs_dir)
    out = session.path / "bundle.zip"
    bundle_session(session.path, out)
    bundle_session(session.path, out)
    assert f"{session.id}/bundle.zip" not in _names(out)


def test_bundling_something_that_is_not_a_session_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match=f"^{tmp_path / 'nope'} is not a session directory$"):
        bundle_session(tmp_path / "nope")
