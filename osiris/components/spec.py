"""The component spec (`spec.yaml`): what a component is called, what it accepts, what is secret."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Mode = Literal["extract", "transform", "write"]


class ConnectionField(BaseModel):
    """A connection field a step's config may name (upstream Osiris's `x-connection-fields`):
    `allowed` overrides the connection's value for this step, `forbidden` is a compile error."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    override: Literal["allowed", "forbidden"]


class ComponentSpec(BaseModel):
    """A component's contract, loaded from its `spec.yaml`.

    `secrets` are JSON pointers: `/field` into the step config, `/connection/field` into the
    resolved connection. `outputs` point at config fields naming files the step writes (relative
    to the run's output area), `inputs` at config fields naming files it reads (relative to the
    pipeline's directory; a runner ships them with the run). `ignored` maps config keys that are
    accepted for compatibility but change nothing here to the reason, which the compiler shows
    as a warning.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
    version: str
    title: str = ""
    description: str = ""
    modes: list[Mode] = Field(min_length=1)
    connection_family: str | None = None
    # a step may name a connection of the family, but one that names none gets no default
    connection_optional: bool = Field(False, alias="x-connection-optional")
    config_schema: dict[str, Any]
    connection_schema: dict[str, Any] | None = None
    secrets: list[str] = Field(default_factory=list, alias="x-secret")
    outputs: list[str] = Field(default_factory=list, alias="x-outputs")
    inputs: list[str] = Field(default_factory=list, alias="x-inputs")
    ignored: dict[str, str] = Field(default_factory=dict, alias="x-ignored")
    # the config key of an extractor that names several tables ("tables"): one stream per table
    many_tables: str | None = Field(None, alias="x-many-tables")
    # how a writer writes one of several tables: "table" (its target is named after the source
    # table, `table_prefix` first) or "path" (its path holds `{table}`)
    per_table: Literal["table", "path"] | None = Field(None, alias="x-per-table")
    # a writer that can tell the largest value of a column in its target (`since: auto`)
    watermark: bool = Field(False, alias="x-watermark")
    # config values (e.g. {write_mode: append}) under which the step's outputs continue the files
    # already at their paths: runners put those into the run's output area first
    appends_when: dict[str, Any] = Field(default_factory=dict, alias="x-appends-when")
    connection_fields: list[ConnectionField] = Field(
        default_factory=list, alias="x-connection-fields"
    )
    driver: str = ""
    examples: list[dict[str, Any]] = Field(default_factory=list)

    def config_secret_pointers(self) -> list[str]:
        return [p for p in self.secrets if not p.startswith("/connection/")]

    def connection_secret_fields(self) -> list[str]:
        return [
            p.removeprefix("/connection/") for p in self.secrets if p.startswith("/connection/")
        ]
