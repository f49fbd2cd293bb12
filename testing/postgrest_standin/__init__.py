"""A local Supabase REST API (gateway + PostgREST v13/v14) over the real PostgreSQL.

    with postgres_database() as conn, PostgrestStandin(postgres_dsn(conn)) as standin:
        client = SyncPostgrestClient(standin.rest_url, headers=standin.client_headers())
        client.table("items").insert({"id": 1}).execute()   # real HTTP, real SQL
        standin.requests[-1].prefer                           # ["return=representation"]
        standin.fail_next(status=429, retry_after=1)          # the next request gets a 429

See README.md in this folder for what is implemented, the faults, and the protocol facts.
"""

from __future__ import annotations

from testing.postgrest_standin.errors import ApiError
from testing.postgrest_standin.records import Fault, RequestRecord
from testing.postgrest_standin.standin import DEFAULT_KEY, PostgrestStandin, postgres_dsn

__all__ = [
    "DEFAULT_KEY",
    "ApiError",
    "Fault",
    "PostgrestStandin",
    "RequestRecord",
    "postgres_dsn",
]
