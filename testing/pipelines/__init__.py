"""Fixture pipelines and helpers for compiling them against the test-only components."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from osiris.errors import PipelineError
from osiris.pipeline import Manifest, compile_pipeline
from testing.components import fixture_registry

ROOT = Path(__file__).parent
ORDERS = ROOT / "orders.yaml"
MYSQL_TO_POSTGRES = ROOT / "mysql_to_postgres" / "pipeline.yaml"
REGISTRY = fixture_registry()


def write(path: Path, text: str) -> Path:
    """Write dedented YAML text, creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def compile_file(
    path: Path, *, environ: Mapping[str, str] | None = None, **kwargs: Any
) -> Manifest:
    """compile_pipeline with the fixture registry and an empty environment unless given."""
    return compile_pipeline(path, environ=environ or {}, registry=REGISTRY, **kwargs)


def problems(call: Callable[[], object]) -> list[str]:
    """The formatted problems of the PipelineError `call` raises (fails if it raises nothing)."""
    try:
        call()
    except PipelineError as exc:
        return [p.format() for p in exc.problems]
    raise AssertionError("expected a PipelineError")
