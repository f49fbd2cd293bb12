"""Osiris Run: declarative data pipelines, compiled to a deterministic manifest and run anywhere."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
