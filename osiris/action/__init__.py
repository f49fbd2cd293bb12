"""GitHub Action adapter: inputs, outputs, job summary, annotations and artifact upload."""

from __future__ import annotations

__all__: list[str] = []
