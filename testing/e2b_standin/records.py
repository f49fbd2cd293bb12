"""What the stand-in remembers for tests to assert on, and the faults tests can switch on."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class CommandRecord:
    """One `Process/Start`: the command line as the SDK sent it and the envs it passed."""

    cmd: str  # the `bash -l -c` script, i.e. what the caller passed to `commands.run`
    argv: list[str]  # the full argv, e.g. ["/bin/bash", "-l", "-c", cmd]
    envs: dict[str, str]  # per-command envs only (sandbox envs are on SandboxRecord.envs)
    cwd: str | None  # sandbox path as requested, None when the SDK sent none
    pid: int
    exit_code: int | None = None  # None while running or when the sandbox died first


@dataclass
class UploadRecord:
    """One file written through `POST /files`."""

    path: str  # absolute sandbox path, e.g. /home/user/run/manifest.json
    size: int  # bytes written (after gzip decoding)


@dataclass
class SandboxRecord:
    """Everything about one sandbox, kept after it is gone."""

    sandbox_id: str
    template: str
    metadata: dict[str, str]
    envs: dict[str, str]  # `envVars` of the create request
    timeout: int  # seconds, as requested (or the API default 300)
    request: dict[str, Any]  # the raw create body, e.g. to check `network`
    root: Path  # host directory standing in for the sandbox's "/"
    created_at: float  # time.time()
    commands: list[CommandRecord] = field(default_factory=list)
    uploads: list[UploadRecord] = field(default_factory=list)
    killed: bool = False
    killed_at: float | None = None
    # "killed" (DELETE), "timeout" (sandbox timeout expired), "died" (fault or crash()),
    # "shutdown" (the stand-in closed with the sandbox still alive)
    end_reason: str | None = None


@dataclass
class Faults:
    """Failures to inject; set the attributes in a test before the SDK calls that should fail.

    create_errors: HTTP statuses answered by the next `POST /v2/sandboxes` calls, one per call,
        each with the JSON error body of the real API; e.g. `[429]` is 429 then success,
        `[401]`, `[500]`, `[503]`. No `Should-Retry` header is sent, like the real API, so the
        SDK retries 429/502/503/504 by itself (backoff about 0.1 s, then 0.2 s, 0.4 s).
    upload_delay: seconds to wait before answering every `POST /files` (a slow upload).
    die_on_output: when a command prints this text (stdout or stderr), its sandbox dies at
        once: every process is killed, its streams end as a lost sandbox's do, and every
        later call gets the answers for a sandbox that is gone.
    drop_stream_on_output: when a command prints this text, its output stream is cut (the
        TCP connection closes with no end event); the process itself keeps running.
    max_sandboxes: the team's concurrent sandbox limit: a create while this many are alive is
        answered 429 with the real API's message (counted in `refused`).
    """

    create_errors: list[int] = field(default_factory=list)
    upload_delay: float = 0.0
    die_on_output: str | None = None
    drop_stream_on_output: str | None = None
    max_sandboxes: int | None = None
    refused: int = 0
