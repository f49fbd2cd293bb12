"""A local stand-in for E2B that the unmodified `e2b` SDK talks to over plain HTTP/1.1.

    with E2BStandin() as standin:
        monkeypatch.setenv(...) for each item of standin.env()
        sandbox = e2b.Sandbox.create()          # real SDK, real HTTP, real subprocesses
        ...
        standin.history[0].commands[0].cmd       # what the SDK asked for

See README.md in this folder for the path mapping, the faults and the SDK exception each one
produces.
"""

from __future__ import annotations

from testing.e2b_standin.env import standin_env
from testing.e2b_standin.probes import eventually, pid_alive
from testing.e2b_standin.records import CommandRecord, Faults, SandboxRecord, UploadRecord
from testing.e2b_standin.standin import DEFAULT_API_KEY, E2BStandin

__all__ = [
    "DEFAULT_API_KEY",
    "CommandRecord",
    "E2BStandin",
    "Faults",
    "SandboxRecord",
    "UploadRecord",
    "eventually",
    "pid_alive",
    "standin_env",
]
