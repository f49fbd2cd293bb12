"""Upload a workflow artifact from a GitHub container action (the "artifacts v4" protocol).

This is the protocol of `@actions/artifact` >= 2: Twirp JSON calls to the results service at the
origin of ACTIONS_RESULTS_URL, authenticated with the ACTIONS_RUNTIME_TOKEN JWT, plus one Azure
block blob written through the SAS URL that CreateArtifact returns. docs/action.md ("Artifact
upload") is the user-facing description.

The blob is written with plain httpx Put Block / Put Block List, not azure-storage-blob: the SDK
keeps only the query parameters it knows as SAS fields (which breaks nektos/act's signed URLs)
and would add a dependency for two kinds of PUT request.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import random
import re
import time
import uuid
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs, quote, urlsplit

from osiris import __version__
from osiris.errors import RunnerError

if TYPE_CHECKING:
    import httpx
    from _typeshed import ReadableBuffer

__all__ = ["ArtifactUploadError", "UploadResult", "runtime_available", "upload_artifact"]

_SERVICE = "/twirp/github.actions.results.api.v1.ArtifactService/"
BLOCK_SIZE = 8 * 1024 * 1024  # the toolkit's getUploadChunkSize()
# Retry policy of the toolkit's ArtifactHttpClient.retryableRequest (packages/artifact/src/
# internal/shared/artifact-twirp-client.ts): 5 attempts in all; after failed attempt n the wait
# is exactly base for n = 0, else uniform in [base*1.5^n, base*1.5^(n+1)); base 3 s. We apply
# it to the blob PUTs too, where the JS client relies on the Azure SDK's own retries.
MAX_ATTEMPTS = 5
BACKOFF_BASE_SECONDS = 3.0
BACKOFF_MULTIPLIER = 1.5
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
# Forbidden by the toolkit (internal/upload/path-and-artifact-name-validation.ts).
_PATH_CHARS = '":<>|*?\r\n'
_NAME_CHARS = _PATH_CHARS + "\\/"
_T = TypeVar("_T")


@dataclass(frozen=True)
class UploadResult:
    """A finalized artifact; `digest` is the bare SHA-256 hex of the uploaded zip."""

    artifact_id: int
    name: str
    size: int
    digest: str
    url: str | None


class ArtifactUploadError(RunnerError):
    """The artifact could not be uploaded (exit 4). The message never holds the token or a SAS."""


def runtime_available(environ: Mapping[str, str]) -> bool:
    """True when this process got the runtime variables (docker and JavaScript action steps do)."""
    return bool(environ.get("ACTIONS_RUNTIME_TOKEN")) and bool(environ.get("ACTIONS_RESULTS_URL"))


def upload_artifact(
    name: str,
    files: Sequence[Path] | Path,
    *,
    root: Path | None = None,
    retention_days: int | None = None,
    environ: Mapping[str, str],
    log: Callable[[str], None] = print,
    backoff_base: float = BACKOFF_BASE_SECONDS,
) -> UploadResult:
    """Upload `files` as the workflow artifact `name` and return the finalized artifact.

    `files` is either one existing zip file, uploaded byte for byte, or a sequence of files and
    directories zipped on the fly (deflate level 6, paths relative to `root`, which defaults to
    their common parent directory); a single directory is zipped with itself as root. Nothing is
    written to or removed from the local disk. `retention_days` None or 0 leaves the repository
    default; a larger value is clamped to GITHUB_RETENTION_DAYS. `log` receives progress lines and
    the `::add-mask::` commands for the SAS signature, so it should reach the step's stdout.
    Raises ArtifactUploadError for every failure.
    """
    _check_chars("artifact name", name, _NAME_CHARS)
    if not runtime_available(environ):
        raise ArtifactUploadError(
            "GitHub artifact upload is unavailable: ACTIONS_RUNTIME_TOKEN or ACTIONS_RESULTS_URL "
            "is not set",
            hint="only docker and JavaScript action steps receive them, not `run:` steps",
        )
    server = urlsplit(environ.get("GITHUB_SERVER_URL") or "https://github.com").hostname or ""
    if server != "github.com" and not server.endswith((".ghe.com", ".localhost")):
        raise ArtifactUploadError(
            f"GitHub artifact upload is unavailable on GitHub Enterprise Server ({server}): "
            "v4 artifacts need github.com or GHE.com"
        )
    results = urlsplit(environ["ACTIONS_RESULTS_URL"])
    if results.scheme not in ("http", "https") or not results.netloc:
        raise ArtifactUploadError("ACTIONS_RESULTS_URL is not an http(s) URL")
    token = environ["ACTIONS_RUNTIME_TOKEN"]
    run_id, job_id = _backend_ids(token)
    ids = {"workflow_run_backend_id": run_id, "workflow_job_run_backend_id": job_id}
    source = _collect(files, root)
    create: dict[str, Any] = {**ids, "name": name, "version": 7, "mime_type": "application/zip"}
    expires_at = _expires_at(retention_days, environ, log)
    if expires_at:
        create["expires_at"] = expires_at

    try:
        import httpx
    except ImportError as exc:
        raise ArtifactUploadError("artifact upload needs httpx", hint="pip install httpx") from exc

    stall_ms = environ.get("ACTIONS_ARTIFACT_UPLOAD_TIMEOUT_MS", "")
    stall = int(stall_ms) / 1000 if stall_ms.isdigit() and int(stall_ms) > 0 else 300.0
    headers = {"User-Agent": f"osiris/{__version__}"}
    with httpx.Client(timeout=httpx.Timeout(stall, connect=30.0), headers=headers) as client:
        up = _Upload(client, f"{results.scheme}://{results.netloc}", token, backoff_base, log)
        log(f"Uploading artifact {name!r}")
        created = up.twirp("CreateArtifact", create)
        blob_url = str(created.get("signed_upload_url") or created.get("signedUploadUrl") or "")
        if not blob_url:
            raise ArtifactUploadError("CreateArtifact: the results service sent no upload URL")
        up.mask_sas(blob_url)
        size, digest = up.upload_zip(blob_url, source)
        body = {**ids, "name": name, "size": str(size), "hash": f"sha256:{digest}"}
        finalized = up.twirp("FinalizeArtifact", body)
        artifact_id = str(finalized.get("artifact_id") or finalized.get("artifactId") or "")
        if not artifact_id.isdigit():
            raise ArtifactUploadError("FinalizeArtifact: the results service sent no artifact id")
    url = None
    if all(environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")):
        # The URL shape is from actions/upload-artifact src/shared/upload-artifact.ts.
        url = (
            f"{environ['GITHUB_SERVER_URL']}/{environ['GITHUB_REPOSITORY']}/actions/runs/"
            f"{environ['GITHUB_RUN_ID']}/artifacts/{artifact_id}"
        )
    log(f"Artifact {name!r} uploaded: id {artifact_id}, {size} bytes, sha256:{digest}")
    return UploadResult(int(artifact_id), name, size, digest, url)


def _check_chars(what: str, value: str, forbidden: str) -> None:
    if not value:
        raise ArtifactUploadError(f"the {what} is empty")
    for char in forbidden:
        if char in value:
            raise ArtifactUploadError(
                f"the {what} {value!r} contains {char!r}",
                hint="leave out "
                + " ".join({"\r": "\\r", "\n": "\\n"}.get(c, c) for c in forbidden),
            )


def _backend_ids(token: str) -> tuple[str, str]:
    # The JWT is decoded without verification, as the toolkit does; the server verifies it.
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        scopes = str(claims.get("scp") or "").split(" ")
    except (IndexError, ValueError, AttributeError):
        scopes = []
    for scope in scopes:
        parts = scope.split(":")
        if parts[0] == "Actions.Results" and len(parts) == 3:
            return parts[1], parts[2]
        if parts[0] == "Actions.Results":
            break
    raise ArtifactUploadError(
        "failed to get backend IDs: ACTIONS_RUNTIME_TOKEN is not a JWT with an "
        "Actions.Results:<run>:<job> scope"
    )


def _collect(files: Sequence[Path] | Path, root: Path | None) -> Path | dict[str, Path]:
    """The zip to send as-is, or the files to zip keyed by their path inside the archive."""
    if isinstance(files, Path):
        if files.is_file():
            if not zipfile.is_zipfile(files):
                raise ArtifactUploadError(
                    f"{files} is not a zip file", hint="pass it in a list to have it zipped"
                )
            return files
        root, files = root or files, [files]
    paths = [Path(p).resolve() for p in files]
    for path in paths:
        if not path.exists():
            raise ArtifactUploadError(f"cannot upload {path}: no such file or directory")
    base = (root or Path(_common_parent(paths))).resolve()
    members: dict[str, Path] = {}
    for path in paths:
        for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if not file.is_file():
                continue
            if not file.is_relative_to(base):
                raise ArtifactUploadError(f"{file} is not under the root directory {base}")
            arcname = file.relative_to(base).as_posix()
            _check_chars("file path", arcname, _PATH_CHARS)
            members[arcname] = file
    if not members:
        raise ArtifactUploadError("no files were found to upload")
    return members


def _common_parent(paths: list[Path]) -> str:
    import os.path

    return os.path.commonpath([p if p.is_dir() else p.parent for p in paths])


def _expires_at(days: int | None, environ: Mapping[str, str], log: Callable[[str], None]) -> str:
    if not days:
        return ""
    if days < 0:
        raise ArtifactUploadError(f"retention days must be 1 or more, got {days}")
    limit = environ.get("GITHUB_RETENTION_DAYS", "")
    if limit.isdigit() and 0 < int(limit) < days:
        log(f"::warning::Retention days cannot exceed the repository maximum; using {limit}")
        days = int(limit)
    at = datetime.now(UTC) + timedelta(days=days)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


class _Retry(Exception):
    """A failed attempt that the retry policy repeats."""


class _Upload:
    def __init__(
        self,
        client: httpx.Client,
        origin: str,
        token: str,
        backoff: float,
        log: Callable[[str], None],
    ) -> None:
        self.client, self.origin, self.backoff, self.log = client, origin, backoff, log
        self.token = token
        self.secrets = [token]

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return " ".join(text.split())

    def mask_sas(self, url: str) -> None:
        # Mask the signature both decoded and encodeURIComponent-encoded, as the toolkit does.
        for sig in parse_qs(urlsplit(url).query).get("sig", []):
            for form in dict.fromkeys([sig, quote(sig, safe="-_.!~*'()")]):
                self.log(f"::add-mask::{form}")
                self.secrets.append(form)
        self.secrets.append(url)

    def retrying(self, what: str, attempt: Callable[[], _T]) -> _T:
        problem = ""
        for n in range(MAX_ATTEMPTS):
            try:
                return attempt()
            except _Retry as exc:
                problem = self.redact(str(exc))
            if n + 1 < MAX_ATTEMPTS:
                lo = self.backoff * BACKOFF_MULTIPLIER**n
                delay = lo if n == 0 else random.uniform(lo, lo * BACKOFF_MULTIPLIER)
                self.log(f"{what} failed ({problem}); retrying in {delay:.1f} s")
                time.sleep(delay)
        raise ArtifactUploadError(f"{what} failed after {MAX_ATTEMPTS} attempts: {problem}")

    def send(self, what: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        import httpx

        try:
            return self.client.request(method, url, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            # The toolkit's NetworkError: refused, unresolvable or unreachable is not retried.
            raise ArtifactUploadError(
                self.redact(f"{what}: cannot connect to {urlsplit(url).netloc}: {exc}"),
                hint="on a self-hosted runner, allow outbound HTTPS to GitHub's results service "
                "and blob storage",
            ) from exc
        except httpx.TransportError as exc:
            raise _Retry(f"{type(exc).__name__}: {exc}") from exc

    def twirp(self, method: str, body: Mapping[str, Any]) -> dict[str, Any]:
        def attempt() -> dict[str, Any]:
            auth = {"Authorization": f"Bearer {self.token}"}
            url = self.origin + _SERVICE + method
            response = self.send(method, "POST", url, json=body, headers=auth)
            try:
                answer = response.json()
            except ValueError:
                answer = None
            if response.is_success and isinstance(answer, dict):
                return answer
            code, msg = "", response.reason_phrase
            if isinstance(answer, dict):
                code, msg = str(answer.get("code") or ""), str(answer.get("msg") or msg)
            if "insufficient usage" in msg:
                raise ArtifactUploadError(
                    "artifact storage quota has been hit; no new artifacts can be uploaded",
                    hint="delete old artifacts; usage is recalculated every 6-12 hours",
                )
            problem = f"HTTP {response.status_code} {code}".rstrip() + f": {msg}"
            # Like the toolkit, a body that is not JSON is retried whatever the status.
            if response.status_code in RETRYABLE_STATUS or answer is None:
                raise _Retry(problem)
            raise ArtifactUploadError(self.redact(f"{method} failed: {problem}"))

        answer = self.retrying(method, attempt)
        if answer.get("ok") is not True:
            raise ArtifactUploadError(f"{method}: the results service answered not ok")
        return answer

    def put(self, what: str, url: str, content: bytes, headers: dict[str, str]) -> None:
        def attempt() -> None:
            response = self.send(what, "PUT", url, content=content, headers=headers)
            if response.is_success:
                return
            found = re.search(r"<Code>([^<]*)</Code>", response.text)
            problem = f"HTTP {response.status_code} {found.group(1) if found else ''}".strip()
            if response.status_code in RETRYABLE_STATUS:
                raise _Retry(problem)
            raise ArtifactUploadError(self.redact(f"{what} to blob storage failed: {problem}"))

        self.retrying(what, attempt)

    def upload_zip(self, url: str, source: Path | dict[str, Path]) -> tuple[int, str]:
        """Stream the zip into the block blob; return the byte count and SHA-256 hex sent."""
        sink = _BlockSink(self, url)
        path = source if isinstance(source, Path) else None
        try:
            if isinstance(source, Path):
                with source.open("rb") as f:
                    while chunk := f.read(BLOCK_SIZE):
                        sink.write(chunk)
            else:
                # A non-seekable sink makes zipfile write data descriptors, never seek back.
                with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
                    for arcname, path in source.items():
                        zf.write(path, arcname)
        except OSError as exc:
            raise ArtifactUploadError(f"cannot read {path}: {exc.strerror or exc}") from exc
        return sink.finish()


class _BlockSink(io.RawIOBase):
    """A write-only stream that sends every 8 MiB as one Put Block, in order (act appends them)."""

    def __init__(self, upload: _Upload, url: str) -> None:
        super().__init__()
        self.upload, self.url = upload, url
        self.sep = "&" if urlsplit(url).query else "?"
        version = parse_qs(urlsplit(url).query).get("sv", [])
        self.headers = {"x-ms-version": version[0]} if version else {}
        self.prefix = uuid.uuid4().hex
        self.ids: list[str] = []
        self.buffer, self.sha, self.size = bytearray(), hashlib.sha256(), 0

    def writable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer) -> int:
        view = memoryview(data)
        self.buffer += view
        while len(self.buffer) >= BLOCK_SIZE:
            self._put_block(bytes(self.buffer[:BLOCK_SIZE]))
            del self.buffer[:BLOCK_SIZE]
        return view.nbytes

    def _put_block(self, chunk: bytes) -> None:
        block_id = base64.b64encode(f"{self.prefix}{len(self.ids):06d}".encode()).decode()
        url = f"{self.url}{self.sep}comp=block&blockid={quote(block_id, safe='')}"
        self.upload.put(f"Put Block {len(self.ids)}", url, chunk, self.headers)
        self.ids.append(block_id)
        self.sha.update(chunk)
        self.size += len(chunk)

    def finish(self) -> tuple[int, str]:
        if self.buffer or not self.ids:
            self._put_block(bytes(self.buffer))
            self.buffer.clear()
        xml = "<?xml version='1.0' encoding='utf-8'?><BlockList>"
        xml += "".join(f"<Latest>{i}</Latest>" for i in self.ids) + "</BlockList>"
        headers = {**self.headers, "x-ms-blob-content-type": "application/zip"}
        url = f"{self.url}{self.sep}comp=blocklist"
        self.upload.put("Put Block List", url, xml.encode(), headers)
        return self.size, self.sha.hexdigest()
