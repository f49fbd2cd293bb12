"""scripts/pin_action_image.py: a release's action.yml runs the pushed image, pinned by digest."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "pin_action_image.py"
DIGEST = "sha256:" + "0123456789abcdef" * 4


def pin(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    tool = Path(sys.executable).parent / "check-jsonschema"
    return subprocess.run(
        [str(tool), "--builtin-schema", "vendor.github-actions", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_release_action_runs_the_pushed_image_and_passes_the_schema(tmp_path):
    shutil.copy(ROOT / "action.yml", tmp_path / "action.yml")
    done = pin("--owner", "Osiris", "--version", "v1.4.0", "--digest", DIGEST, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    reference = f"docker://ghcr.io/osiris/osiris:1.4.0@{DIGEST}"
    assert done.stdout.strip() == reference
    after = (tmp_path / "action.yml").read_text()
    assert yaml.safe_load(after)["runs"]["image"] == reference
    # one line changed, nothing else
    before = (ROOT / "action.yml").read_text().splitlines()
    changed = [(a, b) for a, b in zip(before, after.splitlines(), strict=True) if a != b]
    assert changed == [("  image: Dockerfile", f"  image: {reference}")]
    checked = check_jsonschema(tmp_path / "action.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--owner", "o", "--version", "1.0", "--digest", DIGEST], "is not a release version"),
        (["--owner", "o", "--version", "1.0.0", "--digest", "sha256:abc"], "64 lower-case hex"),
        (["--owner", "a b", "--version", "1.0.0", "--digest", DIGEST], "not a GitHub user"),
    ],
)
def test_bad_arguments_are_named(tmp_path, args, message):
    shutil.copy(ROOT / "action.yml", tmp_path / "action.yml")
    done = pin(*args, cwd=tmp_path)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert (tmp_path / "action.yml").read_text() == (ROOT / "action.yml").read_text()


def test_a_pinned_action_is_not_pinned_again(tmp_path):
    shutil.copy(ROOT / "action.yml", tmp_path / "action.yml")
    args = ["--owner", "o", "--version", "1.0.0", "--digest", DIGEST]
    assert pin(*args, cwd=tmp_path).returncode == 0
    again = pin(*args, cwd=tmp_path)
    assert again.returncode == 2 and "is this already a release?" in again.stderr


@pytest.mark.skipif(shutil.which("podman") is None, reason="podman is not installed")
def test_the_digest_is_the_one_the_push_reported(tmp_path):
    """Push a small image to an OCI layout (a registry's storage) and pin what podman says it
    pushed: that digest is the manifest the layout serves."""
    env = {**os.environ}
    rootfs = tmp_path / "rootfs"
    (rootfs / "etc").mkdir(parents=True)
    (rootfs / "etc" / "release").write_text("pin test\n")
    tar = subprocess.run(
        ["tar", "-C", str(rootfs), "-c", "."], capture_output=True, check=True
    ).stdout
    name = "localhost/osiris-pin-test:1"
    subprocess.run(
        ["podman", "import", "-", name], input=tar, capture_output=True, check=True, env=env
    )
    try:
        digest_file = tmp_path / "digest"
        subprocess.run(
            [
                "podman",
                "push",
                "--digestfile",
                str(digest_file),
                name,
                f"oci:{tmp_path / 'oci'}:1.0.0",
            ],
            capture_output=True,
            check=True,
            env=env,
        )
    finally:
        subprocess.run(["podman", "rmi", "-f", name], capture_output=True, check=False, env=env)
    shutil.copy(ROOT / "action.yml", tmp_path / "action.yml")
    done = pin(
        "--owner", "o", "--version", "1.0.0", "--digest-file", str(digest_file), cwd=tmp_path
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    index = json.loads((tmp_path / "oci" / "index.json").read_text())
    served = {m["digest"] for m in index["manifests"]}
    image = yaml.safe_load((tmp_path / "action.yml").read_text())["runs"]["image"]
    assert image.rsplit("@", 1)[1] in served
