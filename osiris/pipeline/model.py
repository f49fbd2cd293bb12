"""The OML v0.1.0 pipeline as validated data (pydantic models).

Validation itself happens in validate.py, against the YAML node tree, so that every problem
carries its file position; these models hold the result and refuse anything that slipped by.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from osiris.document import Document

OML_VERSIONS = ("0.1.0",)
ParamType = Literal["string", "integer", "number", "boolean"]
PARAM_TYPES: tuple[ParamType, ...] = ("string", "integer", "number", "boolean")
ParamValue = str | int | float | bool

# Upstream Osiris names and ids steps freely (its own examples use kebab-case); ids reach file
# names, SQL and DuckDB only through quoting or mapping.
STEP_ID_PATTERN = r"^[A-Za-z0-9_.-]+$"
# OML's `mode: read` is this project's `extract`
MODE_ALIASES = {"read": "extract"}
PARAM_NAME_PATTERN = r"^[a-z_][a-z0-9_]*$"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class Param(_Model):
    name: str
    type: ParamType
    default: ParamValue | None = None  # None: no default, the parameter must be bound
    description: str = ""

    @property
    def env_var(self) -> str:
        return f"OSIRIS_PARAM_{self.name.upper()}"


class Step(_Model):
    index: int  # position in the file's `steps` list
    id: str
    component: str
    mode: str  # with MODE_ALIASES applied
    config: dict[str, Any]
    needs: tuple[str, ...] = ()  # from `needs:` and from `inputs:`, in that order
    inputs: dict[str, str] = Field(default_factory=dict)  # OML `inputs:` name -> step id
    extensions: dict[str, Any] = Field(default_factory=dict)


class Pipeline(_Model):
    """A loaded pipeline. `steps` are in file order, `order` is the topological order of ids."""

    path: Path
    source: bytes
    oml_version: str
    name: str
    description: str
    metadata: dict[str, Any]
    params: dict[str, Param]
    steps: tuple[Step, ...]
    order: tuple[str, ...]
    extensions: dict[str, Any]
    document: Document = Field(repr=False, exclude=True)

    def step(self, step_id: str) -> Step:
        return next(s for s in self.steps if s.id == step_id)
