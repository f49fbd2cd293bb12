from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from postgrest import SyncPostgrestClient

from testing.db import postgres_database, postgres_execute, postgres_query
from testing.postgrest_standin import PostgrestStandin, postgres_dsn

ITEMS = """
CREATE TABLE items (
    id bigint PRIMARY KEY,
    name text,
    qty integer,
    price numeric(10,2),
    tags text[],
    data jsonb
);
INSERT INTO items VALUES
    (1, 'apple', 5, 1.50, '{red,fruit}', '{"color": "red"}'),
    (2, 'banana', NULL, 0.25, '{yellow,fruit}', NULL),
    (3, 'cherry', 20, NULL, '{}', '{"color": "dark red"}'),
    (4, 'a,b (odd) "name"', 0, 9.99, NULL, '[]'),
    (5, 'Apple pie', 2, 12.00, '{baked}', '{"n": 1}')
"""


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def db() -> Iterator[dict[str, Any]]:
    with postgres_database() as conn:
        yield conn


@pytest.fixture
def sql(db: dict[str, Any]) -> Callable[..., None]:
    """Run statements (separated by ';' in one string is fine) in the test database."""
    return lambda *statements: postgres_execute(db, *statements)


@pytest.fixture
def query(db: dict[str, Any]) -> Callable[[str], list[tuple[Any, ...]]]:
    return lambda text: postgres_query(db, text)


@pytest.fixture
def items(sql: Callable[..., None]) -> None:
    sql(ITEMS)


@pytest.fixture
def standin(db: dict[str, Any]) -> Iterator[PostgrestStandin]:
    with PostgrestStandin(postgres_dsn(db)) as server:
        yield server


@pytest.fixture
def client(standin: PostgrestStandin) -> Iterator[SyncPostgrestClient]:
    """The official client, pointed at the stand-in as supabase-py points it at Supabase."""
    with SyncPostgrestClient(standin.rest_url, headers=standin.client_headers()) as pg:
        yield pg


@pytest.fixture
def raw(standin: PostgrestStandin) -> Iterator[httpx.Client]:
    """Plain httpx for what the client cannot express (Range headers, exact bytes)."""
    with httpx.Client(base_url=standin.rest_url, headers=standin.client_headers()) as http:
        yield http


@pytest.fixture
def serve(db: dict[str, Any]) -> Iterator[Callable[..., tuple[PostgrestStandin, httpx.Client]]]:
    """Start another stand-in over the test database with other options; closed afterwards."""
    with contextlib.ExitStack() as stack:

        def start(**options: Any) -> tuple[PostgrestStandin, httpx.Client]:
            server = stack.enter_context(PostgrestStandin(postgres_dsn(db), **options))
            http = httpx.Client(base_url=server.rest_url, headers=server.client_headers())
            return server, stack.enter_context(http)

        yield start
