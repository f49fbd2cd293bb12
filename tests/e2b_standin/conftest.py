from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest

from testing.e2b_standin import E2BStandin, standin_env


@pytest.fixture(scope="session")
def e2b() -> ModuleType:
    # About a second of import; the stand-in needs it anyway, so it happens once per session.
    import e2b

    return e2b


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> Iterator[E2BStandin]:
    with standin_env(monkeypatch, templates=("base", "osiris-test")) as server:
        yield server
        assert server.sandboxes == {}, "the test left sandboxes alive"
