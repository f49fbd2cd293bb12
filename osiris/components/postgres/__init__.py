"""PostgreSQL components: `postgres.extractor` and `postgres.writer` (also used by Supabase).

Both need the `db` extra, imported only when a step runs: the extractor reads Arrow batches
through ADBC's PostgreSQL driver (binary COPY out); the writer encodes them with pgpq and sends
binary COPY through psycopg.
"""

from __future__ import annotations

__all__: list[str] = []
