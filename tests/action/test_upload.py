"""The action's artifact upload, against the results-service stand-in and a real Azurite."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from osiris.action import main
from osiris.action.upload import artifact_name
from testing.gh_standin import AzuriteBlob, ResultsStandin, request, twirp_call
from tests.action.helpers import GITHUB, action_env, make_workspace, read_outputs, read_summary


@pytest.fixture
def service(blob: AzuriteBlob, monkeypatch: pytest.MonkeyPatch) -> Iterator[ResultsStandin]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with ResultsStandin(blob) as standin:
        yield standin


def download(service: ResultsStandin, name: str) -> bytes:
    ids = {"workflow_run_backend_id": service.run_id, "workflow_job_run_backend_id": service.job_id}
    status, signed = twirp_call(
        service.url, service.token, "GetSignedArtifactURL", {**ids, "name": name}
    )
    assert status == 200
    status, _, data = request("GET", signed["signed_url"])
    assert status == 200
    return data


def test_artifact_name() -> None:
    assert artifact_name(["run_20260101T000000_abcdef"]) == "osiris-run_20260101T000000_abcdef"
    assert artifact_name(["run_a", "run_b", "run_c"]) == "osiris-run_a-and-2-more"


def test_the_bundle_comes_back_byte_identical(
    service: ResultsStandin, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = make_workspace(tmp_path)
    env = action_env(
        workspace,
        {"pipeline": "examples/quickstart.yaml", "retention-days": "3"},
        **service.environ(**GITHUB),
    )

    assert main(env) == 0

    outputs = read_outputs(env)
    session = outputs["session-id"]
    [stored] = service.artifacts
    assert stored.name == f"osiris-{session}"
    assert outputs["artifact-id"] == str(stored.database_id)
    assert outputs["artifact-url"] == (
        f"https://github.com/acme/pipelines/actions/runs/4242/artifacts/{stored.database_id}"
    )
    assert outputs["artifact-digest"] == stored.blob_sha256
    bundle = (workspace / outputs["bundle-path"]).read_bytes()
    assert download(service, stored.name) == bundle
    assert "expires_at" in dict(service.calls)["CreateArtifact"]
    out = capsys.readouterr().out
    assert "::add-mask::" in out  # the SAS signature
    summary = read_summary(env)
    assert (
        f"📦 [`osiris-{session}`]({outputs['artifact-url']}): artifact id {stored.database_id}, "
        f"{len(bundle):,} bytes, sha256 `{stored.blob_sha256}`"
    ) in summary


def test_several_bundles_go_into_one_artifact(service: ResultsStandin, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path)
    quickstart = workspace / "examples" / "quickstart.yaml"
    (workspace / "examples" / "again.yaml").write_text(quickstart.read_text())
    env = action_env(
        workspace,
        {"pipeline": "examples/quickstart.yaml examples/again.yaml", "artifact-name": "nightly"},
        **service.environ(),
    )

    assert main(env) == 0

    outputs = read_outputs(env)
    first, second = outputs["bundle-path"].split("\n")
    with zipfile.ZipFile(io.BytesIO(download(service, "nightly"))) as zf:
        assert sorted(zf.namelist()) == sorted(Path(p).name for p in (first, second))
        assert zf.read(Path(first).name) == (workspace / first).read_bytes()


def test_a_failed_upload_is_a_warning(
    service: ResultsStandin, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = make_workspace(tmp_path)
    service.fail("CreateArtifact", 403, msg="insufficient usage to create artifact")
    env = action_env(workspace, {"pipeline": "examples/quickstart.yaml"}, **service.environ())

    assert main(env) == 0

    outputs = read_outputs(env)
    assert (outputs["status"], outputs["exit-code"], outputs["artifact-id"]) == (
        "succeeded",
        "0",
        "",
    )
    bundle = outputs["bundle-path"]
    assert (workspace / bundle).is_file()
    reason = (
        "artifact storage quota has been hit; no new artifacts can be uploaded; hint: delete "
        "old artifacts; usage is recalculated every 6-12 hours"
    )
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"::warning title=Artifact upload failed::{reason}. The session bundle stays in the "
        f"workspace: {bundle}"
    )
    assert (
        f"⚠️ Upload failed: {reason}. The bundle stays in the workspace: `{bundle}`"
    ) in read_summary(env)
