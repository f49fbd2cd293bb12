"""Supabase components: `supabase.extractor` and `supabase.writer`.

They run the postgres drivers against the project's Postgres database; the connection may name
the project (`project_ref` or `url`) instead of the host. Specs only; the code is in
`osiris.components.postgres`.
"""

from __future__ import annotations

__all__: list[str] = []
