"""Point the SDK at a fresh stand-in for the length of a `with` block (the tests' usual setup)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from testing.e2b_standin.standin import DEFAULT_API_KEY, E2BStandin

if TYPE_CHECKING:
    import pytest


@contextlib.contextmanager
def standin_env(
    monkeypatch: pytest.MonkeyPatch,
    *,
    api_key: str = DEFAULT_API_KEY,
    templates: Iterable[str] = ("base",),
    keep_dirs: bool = False,
) -> Iterator[E2BStandin]:
    """Remove every inherited `E2B_*` variable, start an `E2BStandin` and set its `env()`.

    The variables go through `monkeypatch`, so they are restored when the test ends; the
    stand-in is closed when the block ends.
    """
    for key in list(os.environ):
        if key.startswith("E2B_"):
            monkeypatch.delenv(key)
    with E2BStandin(api_key=api_key, templates=templates, keep_dirs=keep_dirs) as server:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        yield server
