"""`graphql.extractor`: upstream Osiris's GraphQL component, on the shared HTTP client."""

from __future__ import annotations

__all__: list[str] = []
