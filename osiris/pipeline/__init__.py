"""OML pipelines: loading with positions, validation, parameter binding, compiling to a manifest."""

from __future__ import annotations

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
