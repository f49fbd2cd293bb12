"""Supabase components: `supabase.extractor` and `supabase.writer`.

With database credentials in the connection they run the postgres drivers against the
project's Postgres database (binary COPY); with only the project URL and an API key they speak
PostgREST, Supabase's REST API (`_rest`). `connection` decides which.
"""

from __future__ import annotations

__all__: list[str] = []
