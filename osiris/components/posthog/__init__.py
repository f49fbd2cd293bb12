"""`posthog.extractor`: PostHog events and persons over its HogQL query API."""

from __future__ import annotations

__all__: list[str] = []
