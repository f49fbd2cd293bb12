from __future__ import annotations

import os
from collections.abc import Iterator
from types import ModuleType

import pytest

from testing.e2b_standin import E2BStandin


@pytest.fixture(scope="session")
def e2b() -> ModuleType:
    # About a second of import; the stand-in needs it anyway, so it happens once per session.
    import e2b

    return e2b


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> Iterator[E2BStandin]:
    for key in list(os.environ):
        if key.startswith("E2B_"):
            monkeypatch.delenv(key)
    with E2BStandin(templates=("base", "osiris-test")) as server:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        yield server
        assert server.sandboxes == {}, "the test left sandboxes alive"
