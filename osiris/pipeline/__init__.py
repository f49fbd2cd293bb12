"""OML pipelines: loading with positions, validation, parameter binding, compiling to a manifest.

The names below are imported on first use: the executor needs only `resolve_step_config`, and
the compiler's imports (pydantic, jsonschema) would be most of its start-up time.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from osiris.pipeline.compiler import compile_pipeline, load_pipeline
    from osiris.pipeline.manifest import Manifest, resolve_step_config
    from osiris.pipeline.model import Param, Pipeline, Step

__all__ = [
    "Manifest",
    "Param",
    "Pipeline",
    "Step",
    "compile_pipeline",
    "load_pipeline",
    "resolve_step_config",
]
_HOMES = {
    "compile_pipeline": "compiler",
    "load_pipeline": "compiler",
    "Manifest": "manifest",
    "resolve_step_config": "manifest",
    "Param": "model",
    "Pipeline": "model",
    "Step": "model",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
