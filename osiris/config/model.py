"""The settings model and the sources pydantic-settings merges (CLI, environment, YAML)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.types import EnvNoneType
from pydantic_settings.sources.utils import parse_env_vars

ENV_PREFIX = "OSIRIS_"
CONFIG_ENV = "OSIRIS_CONFIG"
DEFAULT_FILE = "osiris.yaml"
EXECUTORS = ("local", "e2b")
# How `sources` names a value set on the command line; the CLI may pass its own via `cli_flags`.
CLI_FLAGS: dict[str, str] = {
    "runner.executor": "--executor",
    "runner.timeout_seconds": "--timeout",
    "runner.e2b.image": "--image",
    "logging.logs_dir": "--logs-dir",
    "connections_file": "--connections",
}
HINT = "docs/configuration.md lists every key with its type, default and environment variable"

Host = Annotated[str, Field(min_length=1, pattern=r"^\S+$")]
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# Each `description` is the "expected ..." text of the error for a bad value.
class LoggingConfig(_Section):
    logs_dir: str = Field("logs", min_length=1, description="a directory path")
    events: list[str] = Field(["*"], description="a list of event names or globs")
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="one of DEBUG, INFO, WARNING, ERROR"
    )

    @field_validator("level", mode="before")
    @classmethod
    def _level_any_case(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class NetworkConfig(_Section):
    allow: list[Host] = Field(["*"], description="a list of hosts, host:port or URLs")
    connect_timeout_seconds: float = Field(30.0, gt=0, description="a number greater than 0")


class E2BNetworkConfig(_Section):
    allow: list[Host] | None = Field(None, description="a list of hosts, host:port or URLs or null")


class E2BConfig(_Section):
    image: str = Field("osiris", min_length=1, description="a template name")
    timeout_seconds: int = Field(3600, gt=0, description="an integer greater than 0")
    cpu: int | None = Field(None, gt=0, description="an integer greater than 0 or null")
    memory_mb: int | None = Field(None, gt=0, description="an integer greater than 0 or null")
    network: E2BNetworkConfig = Field(default_factory=E2BNetworkConfig, description="a mapping")
    env_from_secrets: list[EnvName] = Field([], description="a list of environment variable names")
    wait_for_sandbox_seconds: int = Field(600, ge=0, description="an integer, 0 or more")


class RunnerConfig(_Section):
    executor: Literal["local", "e2b"] = Field("local", description="one of local, e2b")
    timeout_seconds: int = Field(3600, gt=0, description="an integer greater than 0")
    idle_timeout_seconds: int = Field(600, ge=0, description="an integer, 0 or more")
    memory_mb: int | None = Field(None, gt=0, description="an integer greater than 0 or null")
    cpu: float | None = Field(None, gt=0, description="a number greater than 0 or null")
    network: NetworkConfig = Field(default_factory=NetworkConfig, description="a mapping")
    bundle_on_failure: bool = Field(True, description="true or false")
    max_parallel_steps: int = Field(4, ge=1, description="an integer, 1 or more")
    on_failure: Literal["stop", "continue"] = Field("stop", description="one of stop, continue")
    max_parallel_runs: int = Field(1, ge=1, description="an integer, 1 or more")
    e2b: E2BConfig = Field(default_factory=E2BConfig, description="a mapping")


@dataclass(frozen=True)
class Layers:
    environ: Mapping[str, str]
    yaml: dict[str, Any]


# settings_customise_sources is a classmethod without per-call arguments; this carries the
# environ and YAML data of the load_config call in progress.
LAYERS: ContextVar[Layers] = ContextVar("osiris_config_layers")


class OsirisConfig(BaseSettings):
    """All settings. Build it with `load_config`, which also records where each value came from."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_ignore_empty=True,
        env_parse_none_str="null",
        extra="forbid",
        frozen=True,
    )

    logging: LoggingConfig = Field(default_factory=LoggingConfig, description="a mapping")
    runner: RunnerConfig = Field(default_factory=RunnerConfig, description="a mapping")
    connections_file: str | None = Field(None, description="a file path or null")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        layers = LAYERS.get(Layers(os.environ, {}))
        return (
            init_settings,
            EnvSource(settings_cls, layers.environ),
            YamlSource(settings_cls, layers.yaml),
        )


class EnvSource(EnvSettingsSource):
    """The environment source reading a given mapping instead of os.environ."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ  # read by _load_env_vars, which the base __init__ calls
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )

    def decode_complex_value(self, field_name: str, field: FieldInfo, value: Any) -> Any:
        # Lists also take the shell-friendly form "a,b"; JSON is used when the value is "[...]".
        if (
            isinstance(value, str)
            and not isinstance(value, EnvNoneType)
            and field is not None
            and is_list(field.annotation)
            and not value.lstrip().startswith("[")
        ):
            return [item.strip() for item in value.split(",") if item.strip()]
        return super().decode_complex_value(field_name, field, value)


class YamlSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


def is_list(annotation: Any) -> bool:
    if get_origin(annotation) is list:
        return True
    return any(get_origin(arg) is list for arg in get_args(annotation))
