"""`rest.extractor`: records from a JSON HTTP API, page by page (osiris.components._http)."""

from __future__ import annotations

__all__: list[str] = []
