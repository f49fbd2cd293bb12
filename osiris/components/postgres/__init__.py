"""PostgreSQL components: `postgres.extractor` and `postgres.writer` (also used by Supabase).

Both need the `db` extra: the ADBC PostgreSQL driver, which moves Arrow batches through binary
COPY in both directions, imported only when a step runs.
"""

from __future__ import annotations

__all__: list[str] = []
