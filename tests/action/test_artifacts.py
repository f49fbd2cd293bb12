"""Artifact upload against the results-service stand-in and a real Azurite (no mocks)."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from osiris.action import artifacts
from osiris.action.artifacts import (
    ArtifactUploadError,
    UploadResult,
    runtime_available,
    upload_artifact,
)
from osiris.errors import EXIT_RUNNER, RunnerError
from testing.db import closed_port
from testing.gh_standin import AzuriteBlob, ResultsStandin, mint_runtime_token, request, twirp_call
from tests.action.helpers import GITHUB

FAST = 0.001  # backoff base for tests; the real one is 3 s


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def service(blob: AzuriteBlob) -> Iterator[ResultsStandin]:
    with ResultsStandin(blob) as standin:
        yield standin


def _zip(path: Path, payload: int) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("session.json", '{"status": "ok"}\n')
        zf.writestr("artifacts/outputs/data.bin", os.urandom(payload))
    return path


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return _zip(tmp_path / "bundle.zip", 10_000)


@pytest.fixture
def big_bundle(tmp_path: Path) -> Path:
    """A 20 MB zip, so the upload takes three 8 MiB blocks."""
    return _zip(tmp_path / "bundle.zip", 20_000_000)


def download(service: ResultsStandin, name: str) -> tuple[dict[str, str], bytes, str]:
    """List the artifact and fetch it through its signed URL, as download-artifact does."""
    ids = {
        "workflow_run_backend_id": service.run_id,
        "workflow_job_run_backend_id": service.job_id,
    }
    status, listed = twirp_call(
        service.url, service.token, "ListArtifacts", {**ids, "name_filter": name}
    )
    assert status == 200
    [entry] = listed["artifacts"]
    status, signed = twirp_call(
        service.url, service.token, "GetSignedArtifactURL", {**ids, "name": name}
    )
    assert status == 200
    status, headers, data = request("GET", signed["signed_url"])
    assert status == 200
    return entry, data, headers["content-type"]


def test_runtime_available() -> None:
    assert not runtime_available({})
    assert not runtime_available({"ACTIONS_RUNTIME_TOKEN": "t"})
    assert not runtime_available({"ACTIONS_RESULTS_URL": "https://results"})
    assert not runtime_available({"ACTIONS_RUNTIME_TOKEN": "", "ACTIONS_RESULTS_URL": "u"})
    assert runtime_available({"ACTIONS_RUNTIME_TOKEN": "t", "ACTIONS_RESULTS_URL": "u"})


def test_error_is_a_runner_error() -> None:
    assert issubclass(ArtifactUploadError, RunnerError)
    assert ArtifactUploadError("x").exit_code == EXIT_RUNNER == 4


def test_zip_bundle_round_trip(service: ResultsStandin, big_bundle: Path) -> None:
    bundle = big_bundle
    original = bundle.read_bytes()
    digest = hashlib.sha256(original).hexdigest()
    lines: list[str] = []

    result = upload_artifact(
        "osiris-session",
        bundle,
        environ=service.environ(**GITHUB),
        log=lines.append,
        backoff_base=FAST,
    )

    [stored] = service.artifacts
    assert result == UploadResult(
        artifact_id=stored.database_id,
        name="osiris-session",
        size=len(original),
        digest=digest,
        url=f"https://github.com/acme/pipelines/actions/runs/4242/artifacts/{stored.database_id}",
    )
    assert (stored.size, stored.digest) == (len(original), f"sha256:{digest}")
    assert (stored.blob_size, stored.blob_sha256) == (len(original), digest)
    assert stored.blob_content_type == "application/zip"
    mib8 = 8 * 1024 * 1024
    assert service.committed_blocks("osiris-session") == [mib8, mib8, len(original) - 2 * mib8]
    entry, data, content_type = download(service, "osiris-session")
    assert data == original
    assert content_type == "application/zip"
    assert entry == {
        "workflow_run_backend_id": service.run_id,
        "workflow_job_run_backend_id": service.job_id,
        "database_id": str(result.artifact_id),
        "name": "osiris-session",
        "size": str(len(original)),
        "created_at": stored.created_at,
        "digest": f"sha256:{digest}",
    }
    assert "sha256:" + hashlib.sha256(data).hexdigest() == entry["digest"]
    assert bundle.read_bytes() == original

    create = dict(service.calls)["CreateArtifact"]
    assert create == {
        "workflow_run_backend_id": service.run_id,
        "workflow_job_run_backend_id": service.job_id,
        "name": "osiris-session",
        "version": 7,
        "mime_type": "application/zip",
    }
    assert dict(service.calls)["FinalizeArtifact"]["size"] == str(len(original))

    [sig] = parse_qs(urlsplit(stored.upload_url).query)["sig"]
    encoded = quote(sig, safe="-_.!~*'()")
    assert sig != encoded  # base64 signatures hold + / =, so both forms must be masked
    assert lines[:3] == [
        "Uploading artifact 'osiris-session'",
        f"::add-mask::{sig}",
        f"::add-mask::{encoded}",
    ]
    assert lines[3:] == [
        f"Artifact 'osiris-session' uploaded: id {result.artifact_id}, {len(original)} bytes, "
        f"sha256:{digest}"
    ]


def test_files_are_zipped_on_the_fly(service: ResultsStandin, tmp_path: Path) -> None:
    root = tmp_path / "session"
    (root / "artifacts" / "outputs").mkdir(parents=True)
    (root / "events.jsonl").write_text(
        '{"ts": "2026-11-26T04:00:00.000Z", "session": "run_20261126T040000_abc123", '
        '"event": "run_start"}\n'
    )
    (root / "artifacts" / "outputs" / "orders.csv").write_text("id,total\n1,9.5\n")
    (root / "artifacts" / "stdout.txt").write_text("")
    files = [root / "events.jsonl", root / "artifacts"]

    result = upload_artifact(
        "logs", files, root=root, environ=service.environ(), log=lambda _: None
    )

    assert result.url is None  # no GITHUB_* variables given
    _, data, _ = download(service, "logs")
    assert hashlib.sha256(data).hexdigest() == result.digest
    assert len(data) == result.size
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        assert sorted(zf.namelist()) == [
            "artifacts/outputs/orders.csv",
            "artifacts/stdout.txt",
            "events.jsonl",
        ]
        assert zf.read("artifacts/outputs/orders.csv") == b"id,total\n1,9.5\n"
        assert zf.getinfo("events.jsonl").compress_type == zipfile.ZIP_DEFLATED


def test_a_large_file_is_streamed_through_several_blocks(
    service: ResultsStandin, tmp_path: Path
) -> None:
    payload = os.urandom(9 * 1024 * 1024)  # incompressible, so the zip needs two blocks
    (tmp_path / "big.bin").write_bytes(payload)

    result = upload_artifact(
        "big", [tmp_path / "big.bin"], environ=service.environ(), log=lambda _: None
    )

    assert service.committed_blocks("big") == [8 * 1024 * 1024, result.size - 8 * 1024 * 1024]
    _, data, _ = download(service, "big")
    assert zipfile.ZipFile(io.BytesIO(data)).read("big.bin") == payload


def test_a_directory_is_zipped_with_itself_as_root(service: ResultsStandin, tmp_path: Path) -> None:
    (tmp_path / "out" / "sub").mkdir(parents=True)
    (tmp_path / "out" / "sub" / "a.txt").write_text("a")

    upload_artifact("dir", tmp_path / "out", environ=service.environ(), log=lambda _: None)

    _, data, _ = download(service, "dir")
    assert zipfile.ZipFile(io.BytesIO(data)).namelist() == ["sub/a.txt"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "the artifact name is empty"),
        ("bad/name", "the artifact name 'bad/name' contains '/'"),
        ("a\\b", "the artifact name 'a\\\\b' contains '\\\\'"),
        ("what?", "the artifact name 'what?' contains '?'"),
        ("two\nlines", "the artifact name 'two\\nlines' contains '\\n'"),
        ('say "hi"', "the artifact name 'say \"hi\"' contains '\"'"),
    ],
)
def test_invalid_names_are_refused_before_any_request(
    name: str, message: str, bundle: Path
) -> None:
    with pytest.raises(ArtifactUploadError) as caught:
        upload_artifact(name, bundle, environ={}, log=lambda _: None)
    assert caught.value.message == message
    if name:
        assert caught.value.hint == 'leave out " : < > | * ? \\r \\n \\ /'


def test_paths_inside_the_zip_are_validated(service: ResultsStandin, tmp_path: Path) -> None:
    (tmp_path / "a:b.txt").write_text("x")
    with pytest.raises(ArtifactUploadError) as caught:
        upload_artifact("x", [tmp_path / "a:b.txt"], environ=service.environ(), log=lambda _: None)
    assert caught.value.message == "the file path 'a:b.txt' contains ':'"
    assert service.calls == []


def test_local_input_errors(service: ResultsStandin, tmp_path: Path) -> None:
    env = service.environ()
    (tmp_path / "notes.txt").write_text("not a zip")
    (tmp_path / "empty").mkdir()
    cases = [
        (tmp_path / "notes.txt", None, f"{tmp_path / 'notes.txt'} is not a zip file"),
        (
            [tmp_path / "missing"],
            None,
            f"cannot upload {tmp_path / 'missing'}: no such file or directory",
        ),
        (tmp_path / "empty", None, "no files were found to upload"),
        (
            [tmp_path / "notes.txt"],
            tmp_path / "empty",
            f"{tmp_path / 'notes.txt'} is not under the root directory {tmp_path / 'empty'}",
        ),
    ]
    for files, root, message in cases:
        with pytest.raises(ArtifactUploadError) as caught:
            upload_artifact("x", files, root=root, environ=env, log=lambda _: None)
        assert caught.value.message == message
    assert service.calls == []


def _expiry(service: ResultsStandin) -> timedelta:
    sent = dict(service.calls)["CreateArtifact"]["expires_at"]
    assert sent.endswith("Z")
    return datetime.fromisoformat(sent) - datetime.now(UTC)


def test_retention_days_are_sent_as_expires_at(service: ResultsStandin, bundle: Path) -> None:
    upload_artifact("kept", bundle, retention_days=5, environ=service.environ(), log=lambda _: None)
    assert abs(_expiry(service) - timedelta(days=5)) < timedelta(minutes=1)
    assert service.find("kept").expires_at == dict(service.calls)["CreateArtifact"]["expires_at"]


def test_retention_is_clamped_to_the_repository_maximum(
    service: ResultsStandin, bundle: Path
) -> None:
    lines: list[str] = []
    env = service.environ(GITHUB_RETENTION_DAYS="3")
    upload_artifact("kept", bundle, retention_days=30, environ=env, log=lines.append)
    assert abs(_expiry(service) - timedelta(days=3)) < timedelta(minutes=1)
    assert "::warning::Retention days cannot exceed the repository maximum; using 3" in lines


@pytest.mark.parametrize("days", [None, 0])
def test_no_retention_leaves_the_server_default(
    service: ResultsStandin, bundle: Path, days: int | None
) -> None:
    upload_artifact(
        "kept", bundle, retention_days=days, environ=service.environ(), log=lambda _: None
    )
    assert "expires_at" not in dict(service.calls)["CreateArtifact"]


def test_negative_retention_is_refused(bundle: Path) -> None:
    env = {
        "ACTIONS_RUNTIME_TOKEN": mint_runtime_token("r", "j"),
        "ACTIONS_RESULTS_URL": "http://127.0.0.1:9/",
    }
    with pytest.raises(ArtifactUploadError) as caught:
        upload_artifact("x", bundle, retention_days=-1, environ=env, log=lambda _: None)
    assert caught.value.message == "retention days must be 1 or more, got -1"


def test_503_is_retried_until_it_succeeds(service: ResultsStandin, bundle: Path) -> None:
    service.fail("CreateArtifact", 503, times=2)
    lines: list[str] = []

    result = upload_artifact(
        "retried", bundle, environ=service.environ(), log=lines.append, backoff_base=FAST
    )

    assert service.attempts("CreateArtifact") == 3
    assert service.attempts("FinalizeArtifact") == 1
    retries = [line for line in lines if "retrying" in line]
    assert (
        retries
        == ["CreateArtifact failed (HTTP 503 unavailable: injected unavailable); retrying in 0.0 s"]
        * 2
    )
    assert download(service, "retried")[1] == bundle.read_bytes()
    assert result.digest == hashlib.sha256(bundle.read_bytes()).hexdigest()


def test_retry_waits_follow_the_toolkit_schedule(
    service: ResultsStandin, bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []
    monkeypatch.setattr(artifacts.time, "sleep", waits.append)
    service.fail("CreateArtifact", 500)
    with pytest.raises(ArtifactUploadError):
        upload_artifact("slow", bundle, environ=service.environ(), log=lambda _: None)
    assert len(waits) == 4
    assert waits[0] == 3.0
    for n, wait in enumerate(waits[1:], start=1):
        assert 3.0 * 1.5**n <= wait < 3.0 * 1.5 ** (n + 1)


def test_permanent_failure_leaves_the_local_file_untouched(
    service: ResultsStandin, bundle: Path
) -> None:
    before = (bundle.read_bytes(), bundle.stat().st_mtime_ns)
    service.fail("FinalizeArtifact", 503)

    with pytest.raises(ArtifactUploadError) as caught:
        upload_artifact(
            "doomed", bundle, environ=service.environ(), log=lambda _: None, backoff_base=FAST
        )

    assert caught.value.message == (
        "FinalizeArtifact failed after 5 attempts: HTTP 503 unavailable: injected unavailable"
    )
    assert caught.value.exit_code == 4
    assert service.attempts("FinalizeArtifact") == 5
    assert (bundle.read_bytes(), bundle.stat().st_mtime_ns) == before
    assert [p.name for p in bundle.parent.iterdir()] == ["bundle.zip"]
    status, listed = twirp_call(
        service.url,
        service.token,
        "ListArtifacts",
        {"workflow_run_backend_id": service.run_id, "workflow_job_run_backend_id": service.job_id},
    )
    assert (status, listed) == (200, {"artifacts": []})


def test_client_errors_are_not_retried(service: ResultsStandin, bundle: Path) -> None:
    env = service.environ()
    upload_artifact("twice", bundle, environ=env, log=lambda _: None)
    with pytest.raises(ArtifactUploadError) as caught:
        upload_artifact("twice", bundle, environ=env, log=lambda _: None, backoff_base=FAST)
    assert caught.value.message == (
        "CreateArtifact failed: HTTP 409 already_exists: an artifact named 'twice' already exists"
    )
    assert service.attempts("CreateArtifact") == 2


def test_unknown_token_gets_401_and_is_never_shown(service: ResultsStandin, bundle: Path) -> None:
    stranger = mint_runtime_token(
        service.run_id, service.job_id, scp=f"Actions.Results:{service.run_id}:other"
    )
    env = {**service.environ(), "ACTIONS_RUNTIME_TOKEN": stranger}
    with pytest.raises(ArtifactUploadError) as caught:
        upload_artifact("x", bundle, environ=env, log=lambda _: None, backoff_base=FAST)
    assert caught.value.message == (
        "CreateArtifact failed: HTTP 401 unauthenticated: missing or unknown bearer token"
    )
    assert service.attempts("CreateArtifact") == 1
    assert stranger not in caught.value.format()


def test_storage_quota_is_not_retried(service: ResultsStandin, bundle: Path) -> None:
    service.fail("CreateArtifact", 403, msg="insufficient usage to create artifact")
    with pytest.raises(ArtifactUploadError) as caught:
        upload_artifact(
            "big", bundle, environ=service.environ(), log=lambda _: None, backoff_base=FAST
        )
    assert (
        caught.value.message
        == "artifact storage quota has been hit; no new artifacts can be uploaded"
    )
    assert service.attempts("CreateArtifact") == 1


def test_blob_refusal_names_the_azure_code_but_not_the_sas(blob: AzuriteBlob, bundle: Path) -> None:
    with ResultsStandin(blob, upload_permissions="r") as service:
        with pytest.raises(ArtifactUploadError) as caught:
            upload_artifact("ro", bundle, environ=service.environ(), log=lambda _: None)
        [sig] = parse_qs(urlsplit(service.find("ro").upload_url).query)["sig"]
        assert service.attempts("FinalizeArtifact") == 0
    assert (
        caught.value.message
        == "Put Block 0 to blob storage failed: HTTP 403 AuthorizationPermissionMismatch"
    )
    assert sig not in caught.value.format()


def test_unreachable_service_fails_at_once(bundle: Path) -> None:
    with closed_port() as port:
        env = {
            "ACTIONS_RUNTIME_TOKEN": mint_runtime_token("r", "j"),
            "ACTIONS_RESULTS_URL": f"http://127.0.0.1:{port}/x",
        }
        with pytest.raises(ArtifactUploadError) as caught:
            upload_artifact("x", bundle, environ=env, log=lambda _: None)
    assert caught.value.message.startswith(f"CreateArtifact: cannot connect to 127.0.0.1:{port}: ")
    assert caught.value.hint == (
        "on a self-hosted runner, allow outbound HTTPS to GitHub's results service and blob storage"
    )


def test_missing_runtime_environment(bundle: Path) -> None:
    with pytest.raises(ArtifactUploadError) as caught:
        upload_artifact(
            "x", bundle, environ={"ACTIONS_RESULTS_URL": "https://r"}, log=lambda _: None
        )
    assert caught.value.format() == (
        "GitHub artifact upload is unavailable: ACTIONS_RUNTIME_TOKEN or ACTIONS_RESULTS_URL "
        "is not set\n"
        "  hint: only docker and JavaScript action steps receive them, not `run:` steps"
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"GITHUB_SERVER_URL": "https://github.acme.internal"},
            "GitHub artifact upload is unavailable on GitHub Enterprise Server "
            "(github.acme.internal): v4 artifacts need github.com or GHE.com",
        ),
        (
            {"ACTIONS_RUNTIME_TOKEN": "not-a-jwt"},
            "failed to get backend IDs: ACTIONS_RUNTIME_TOKEN is not a JWT with an "
            "Actions.Results:<run>:<job> scope",
        ),
        (
            {"ACTIONS_RUNTIME_TOKEN": mint_runtime_token("r", "j", scp="Actions.Results:only-run")},
            "failed to get backend IDs: ACTIONS_RUNTIME_TOKEN is not a JWT with an "
            "Actions.Results:<run>:<job> scope",
        ),
        ({"ACTIONS_RESULTS_URL": "results.example"}, "ACTIONS_RESULTS_URL is not an http(s) URL"),
    ],
)
def test_environment_problems(environ: dict[str, str], message: str, bundle: Path) -> None:
    env = {
        "ACTIONS_RUNTIME_TOKEN": mint_runtime_token("r", "j"),
        "ACTIONS_RESULTS_URL": "http://127.0.0.1:9/",
    }
    with pytest.raises(ArtifactUploadError) as caught:
        upload_artifact("x", bundle, environ={**env, **environ}, log=lambda _: None)
    assert caught.value.message == message


@pytest.mark.parametrize(
    "server", ["https://github.com", "https://acme.ghe.com", "http://github.localhost"]
)
def test_github_hosts_are_accepted(service: ResultsStandin, bundle: Path, server: str) -> None:
    env = service.environ(GITHUB_SERVER_URL=server)
    assert upload_artifact("ok", bundle, environ=env, log=lambda _: None).artifact_id == 1000
