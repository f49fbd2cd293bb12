from __future__ import annotations

import os

import pytest

from osiris.runners.e2b import E2BRunner
from osiris.runners.local import LocalRunner
from testing.e2b_standin import E2BStandin


@pytest.fixture
def e2b_standin(monkeypatch):
    """A local E2B stand-in the unmodified SDK talks to; asserts no sandbox is left alive."""
    for key in list(os.environ):
        if key.startswith("E2B_"):
            monkeypatch.delenv(key)
    with E2BStandin(templates=("base", "osiris")) as server:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        yield server
        assert server.sandboxes == {}, "the run left a sandbox alive"


# The contract suite runs unchanged against every runner listed here.
@pytest.fixture(params=["local", "e2b"])
def runner(request):
    if request.param == "local":
        return LocalRunner()
    request.getfixturevalue("e2b_standin")
    return E2BRunner(image="osiris")
