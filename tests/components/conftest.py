"""Fixtures shared by the component tests: a fresh database per test on the real servers.

test_postgres_copy.py keeps its own module-scoped `pg`, which overrides this one there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from testing import db


@pytest.fixture
def mysql() -> Iterator[dict[str, Any]]:
    """A new MariaDB database, dropped after the test; the connection fields a driver gets."""
    with db.mysql_database() as conn:
        yield conn


@pytest.fixture
def pg() -> Iterator[dict[str, Any]]:
    """A new PostgreSQL database, dropped after the test; the connection fields a driver gets."""
    with db.postgres_database() as conn:
        yield conn
