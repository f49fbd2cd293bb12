"""The executor: runs a compiled manifest, wherever a runner put it."""

from __future__ import annotations

__all__ = ["exec_manifest", "serve_stdin"]

from osiris.executor.main import exec_manifest, serve_stdin
