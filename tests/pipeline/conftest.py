from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in tmp_path, so problems name files as the user wrote them ("p.yaml")."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
