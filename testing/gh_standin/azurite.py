"""Azurite, the Azure Storage emulator from npm, as the blob store behind the results stand-in.

`azurite()` starts its blob service on a free 127.0.0.1 port and yields an `AzuriteBlob` that
creates containers and signs SAS URLs the way Azure does (HMAC-SHA256 with the account key over
the documented string-to-sign), so nothing here needs azure-storage-blob.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import os
import queue
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

# Azurite's fixed development account; the key is public and documented by Microsoft.
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
# A service version every Azurite 3.x knows; the client under test sends `sv` back as
# x-ms-version, and Azurite runs with --skipApiVersionCheck anyway.
SAS_VERSION = "2021-12-02"
INSTALL_HINT = "npm install --no-save azurite@3"
REPO_ROOT = Path(__file__).resolve().parents[2]


class AzuriteNotFoundError(RuntimeError):
    """Azurite is not installed where the tests look for it."""


@dataclass(frozen=True)
class AzuriteBlob:
    """A running Azurite blob service: `endpoint` is http://127.0.0.1:<port>/devstoreaccount1."""

    endpoint: str

    def create_container(self, container: str) -> None:
        """Create `container`; an existing one is fine."""
        sas = self._account_sas("c", "rwdlac")
        status, _, body = request("PUT", f"{self.endpoint}/{container}?restype=container&{sas}")
        if status not in (201, 409):
            raise RuntimeError(f"Azurite create container {container}: {status} {body[:300]!r}")

    def blob_url(self, container: str, blob: str, permissions: str, *, hours: float = 1) -> str:
        """A service SAS URL for one blob (`permissions` in Azure's order, e.g. "cw" or "r")."""
        expiry = (datetime.now(UTC) + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
        # Service SAS string-to-sign for versions >= 2020-12-06: sp, st, se, resource, si, sip,
        # spr, sv, sr, snapshot time, ses, rscc, rscd, rsce, rscl, rsct.
        fields = [permissions, "", expiry, f"/blob/{ACCOUNT}/{container}/{blob}", "", "", ""]
        fields += [SAS_VERSION, "b", "", "", "", "", "", "", ""]
        query = {"sv": SAS_VERSION, "se": expiry, "sr": "b", "sp": permissions}
        query["sig"] = _sign("\n".join(fields))
        return f"{self.endpoint}/{container}/{quote(blob)}?{urlencode(query)}"

    def _account_sas(self, resource_types: str, permissions: str) -> str:
        expiry = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        # Account SAS string-to-sign for versions >= 2020-12-06; it ends with a newline.
        fields = [ACCOUNT, permissions, "b", resource_types, "", expiry, "", "", SAS_VERSION, ""]
        query = {"sv": SAS_VERSION, "ss": "b", "srt": resource_types, "sp": permissions}
        query |= {"se": expiry, "sig": _sign("\n".join([*fields, ""]))}
        return urlencode(query)


def _sign(string_to_sign: str) -> str:
    key = base64.b64decode(ACCOUNT_KEY)
    digest = hmac.new(key, string_to_sign.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def request(
    method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One plain HTTP request without any proxy: (status, lower-cased headers, body)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        conn.close()


def find_azurite() -> Path:
    """The azurite-blob launcher: $AZURITE_BIN, else node_modules/.bin at the repository root."""
    configured = os.environ.get("AZURITE_BIN")
    candidates = [Path(configured) if configured else REPO_ROOT / "node_modules/.bin/azurite-blob"]
    for candidate in candidates:
        # `azurite` starts all three services on fixed ports; its sibling starts only blob.
        sibling = candidate.with_name("azurite-blob")
        found = sibling if candidate.name == "azurite" and sibling.exists() else candidate
        if found.exists():
            return found
    raise AzuriteNotFoundError(
        f"Azurite is not installed ({', '.join(map(str, candidates))} not found); run "
        f"`{INSTALL_HINT}` in {REPO_ROOT} (needs Node.js) or set AZURITE_BIN"
    )


@contextmanager
def azurite(*, timeout: float = 30.0) -> Iterator[AzuriteBlob]:
    """Run Azurite's blob service in memory on a free 127.0.0.1 port for the `with` block."""
    binary = find_azurite()
    args = [str(binary), "--silent", "--disableTelemetry", "--skipApiVersionCheck", "--loose"]
    args += ["--inMemoryPersistence", "--blobHost", "127.0.0.1", "--blobPort", "0"]
    with tempfile.TemporaryDirectory(prefix="azurite-") as workdir:
        proc = subprocess.Popen(
            args,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # so that stopping it also stops node's children
        )
        lines: queue.Queue[str | None] = queue.Queue()
        # Keeps draining after start-up, so a chatty Azurite never blocks on a full pipe.
        pump = threading.Thread(target=_pump, args=(proc, lines), daemon=True)
        pump.start()
        try:
            port = _wait_for_port(lines, timeout)
            yield AzuriteBlob(f"http://127.0.0.1:{port}/{ACCOUNT}")
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            pump.join(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()


def _pump(proc: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.put(line)
    lines.put(None)


def _wait_for_port(lines: queue.Queue[str | None], timeout: float) -> int:
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            line = None
        if line is None:
            raise RuntimeError(f"Azurite did not start within {timeout} s: {''.join(seen)[-800:]}")
        seen.append(line)
        found = re.search(r"listens on http://127\.0\.0\.1:(\d+)", line)
        if found:
            return int(found.group(1))
