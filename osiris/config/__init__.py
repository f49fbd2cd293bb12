"""Project settings: `osiris.yaml`, merged CLI > ENV (`OSIRIS_...`) > YAML > defaults.

pydantic-settings does the merge (recursively, so a YAML `runner:` block and
`OSIRIS_RUNNER__EXECUTOR` both survive); this module adds what it does not know: where each
leaf value came from (file:line, env var, flag), and error messages that name that place.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import SettingsError

from osiris.config.model import (
    CLI_FLAGS,
    CONFIG_ENV,
    DEFAULT_FILE,
    ENV_PREFIX,
    EXECUTORS,
    HINT,
    LAYERS,
    E2BConfig,
    EnvSource,
    Layers,
    LoggingConfig,
    NetworkConfig,
    OsirisConfig,
    RunnerConfig,
    is_list,
)
from osiris.errors import UsageError

__all__ = [
    "CLI_FLAGS",
    "E2BConfig",
    "LoadedConfig",
    "LoggingConfig",
    "NetworkConfig",
    "OsirisConfig",
    "RunnerConfig",
    "load_config",
]


@dataclass(frozen=True)
class LoadedConfig:
    config: OsirisConfig
    sources: dict[str, str]  # leaf key -> "default" | "<file>:<line>" | "env NAME" | "cli --flag"
    file: Path | None

    def get(self, dotted: str) -> Any:
        """The value of a leaf key, or the section model for a section key ("runner.e2b")."""
        node: Any = self.config
        for part in dotted.split("."):
            if not isinstance(node, BaseModel) or part not in type(node).model_fields:
                raise UsageError(
                    f"unknown configuration key {dotted!r}{_suggest(dotted)}", hint=HINT
                )
            node = getattr(node, part)
        return node

    def show(self) -> str:
        rows = [(key, _render(self.get(key)), self.sources[key]) for key in sorted(self.sources)]
        key_width = max(len(row[0]) for row in rows)
        value_width = max(len(row[1]) for row in rows)
        return "\n".join(f"{k:<{key_width}}  {v:<{value_width}}  {s}" for k, v, s in rows)

    def to_dict(self) -> dict[str, Any]:
        return {"values": self.config.model_dump(mode="json"), "sources": dict(self.sources)}

    def run_settings(self, executor: str) -> dict[str, Any]:
        """The manifest's "run" block: limits and network policy for `executor`.

        For e2b, a runner.e2b value overrides its runner counterpart when it is set
        (timeout_seconds: set anywhere but the defaults; the others: not null).
        """
        if executor not in EXECUTORS:
            raise UsageError(
                f"unknown executor {executor!r}", hint=f"use one of {', '.join(EXECUTORS)}"
            )
        runner = self.config.runner
        timeout, cpu, memory = runner.timeout_seconds, runner.cpu, runner.memory_mb
        allow = runner.network.allow
        if executor == "e2b":
            e2b = runner.e2b
            if self.sources["runner.e2b.timeout_seconds"] != "default":
                timeout = e2b.timeout_seconds
            cpu = float(e2b.cpu) if e2b.cpu is not None else cpu
            memory = e2b.memory_mb if e2b.memory_mb is not None else memory
            allow = e2b.network.allow if e2b.network.allow is not None else allow
        return {
            "limits": {
                "timeout_seconds": timeout,
                "idle_timeout_seconds": runner.idle_timeout_seconds,
                "memory_mb": memory,
                "cpu": cpu,
            },
            "network": {
                "allow": list(allow),
                "connect_timeout_seconds": runner.network.connect_timeout_seconds,
            },
            "steps": {"max_parallel": runner.max_parallel_steps, "on_failure": runner.on_failure},
        }


def load_config(
    *,
    config_file: Path | None = None,
    cli: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    cli_flags: Mapping[str, str] | None = None,
) -> LoadedConfig:
    """Merge defaults < osiris.yaml < OSIRIS_* environment < `cli` (dotted keys) into one config.

    The file is `config_file`, else the one named by OSIRIS_CONFIG, else <cwd>/osiris.yaml if it
    exists. `cli_flags` maps dotted keys to the flag names reported as their source.
    Raises UsageError for a missing explicit file, bad YAML, unknown keys or bad values.
    """
    env = dict(os.environ if environ is None else environ)
    base = Path.cwd() if cwd is None else cwd
    file, shown = _locate(config_file, env, base)
    yaml_data, yaml_lines = _read_yaml(file, shown) if file else ({}, {})

    # Lowest priority first, so a higher layer overwrites the origin of a key it also sets.
    origins: dict[str, tuple[str, Any]] = {}
    for path, value in _leaves(yaml_data):
        origins[path] = (f"{shown}:{yaml_lines[path]}", value)
    origins.update(_env_origins(env))
    flags = {**CLI_FLAGS, **(cli_flags or {})}
    cli_data: dict[str, Any] = {}
    for dotted, value in (cli or {}).items():
        single: dict[str, Any] = {}
        for target in (cli_data, single):
            _deep_set(target, dotted.split("."), value)
        for path, leaf in _leaves(single):
            origins[path] = (f"cli {flags.get(dotted, '--' + dotted)}", leaf)

    token = LAYERS.set(Layers(env, yaml_data))
    try:
        config = OsirisConfig(**cli_data)
    except ValidationError as exc:
        raise UsageError(_validation_message(exc, origins), hint=HINT) from None
    finally:
        LAYERS.reset(token)
    sources = {path: origins[path][0] if path in origins else "default" for path in _known()}
    return LoadedConfig(config=config, sources=dict(sorted(sources.items())), file=file)


def _locate(given: Path | None, env: Mapping[str, str], cwd: Path) -> tuple[Path | None, str]:
    if given is None and env.get(CONFIG_ENV):
        given, via = Path(env[CONFIG_ENV]), f" (named by {CONFIG_ENV})"
    elif given is not None:
        via = ""
    else:
        default = cwd / DEFAULT_FILE
        return (default, DEFAULT_FILE) if default.is_file() else (None, "")
    path = given if given.is_absolute() else cwd / given
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        raise UsageError(
            f"config file {given}{via} {what}",
            hint=f"check the path; without one, osiris reads ./{DEFAULT_FILE} if it exists",
        )
    return path, str(given)


def _read_yaml(path: Path, shown: str) -> tuple[dict[str, Any], dict[str, int]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read config file {shown}: {exc}") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{shown}:{mark.line + 1}:{mark.column + 1}" if mark else shown
        raise UsageError(
            f"{where}: invalid YAML: {exc.problem or exc.context}",
            hint="check the indentation and quoting at that position",
        ) from None
    finally:
        loader.dispose()
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise UsageError(
            f"{shown}:1: expected a mapping of settings, got "
            + ("a list" if isinstance(data, list) else _show(data)),
            hint="start the file with a section, e.g. `runner:`",
        )
    lines: dict[str, int] = {}
    if node is not None:
        _key_lines(node, "", lines, shown)
    return _drop_empty_sections(data, OsirisConfig), lines


def _key_lines(node: yaml.Node, prefix: str, lines: dict[str, int], shown: str) -> None:
    if not isinstance(node, yaml.MappingNode):
        return
    for key_node, value_node in node.value:
        path = f"{prefix}{key_node.value}"
        line = key_node.start_mark.line + 1
        if key_node.tag != "tag:yaml.org,2002:str":
            raise UsageError(
                f"{shown}:{line}: {path}: expected a key name, got "
                + key_node.tag.rpartition(":")[2],
                hint="quote the key or use one of the documented names",
            )
        if path in lines:
            raise UsageError(
                f"{shown}:{line}: {path}: duplicate key (first set on line {lines[path]})",
                hint="keep one of them",
            )
        lines[path] = line
        _key_lines(value_node, path + ".", lines, shown)


def _drop_empty_sections(data: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    # An empty section (`runner:` with everything below commented out) means "no settings".
    out: dict[str, Any] = {}
    for key, value in data.items():
        sub = _section(model, key)
        if sub is not None and value is None:
            continue
        out[key] = _drop_empty_sections(value, sub) if sub and isinstance(value, dict) else value
    return out


def _env_origins(env: Mapping[str, str]) -> dict[str, tuple[str, Any]]:
    # Source each variable on its own: that names the variable behind every leaf (and behind a
    # parse error). Deeper names win, as in pydantic-settings' own merge.
    names = sorted(
        (n for n in env if n.upper().startswith(ENV_PREFIX)), key=lambda n: n.count("__")
    )
    origins: dict[str, tuple[str, Any]] = {}
    for name in names:
        try:
            part = EnvSource(OsirisConfig, {name: env[name]})()
        except SettingsError:
            path = name[len(ENV_PREFIX) :].lower().replace("__", ".")
            field = _field(path)
            expected = field.description if field else "a mapping"
            form = " (JSON or comma-separated)" if field and is_list(field.annotation) else ""
            raise UsageError(
                f"env {name}: {path}: expected {expected}{form}, got {env[name]!r}", hint=HINT
            ) from None
        origins.update((path, (f"env {name}", value)) for path, value in _leaves(part))
    return origins


def _validation_message(exc: ValidationError, origins: dict[str, tuple[str, Any]]) -> str:
    lines: dict[str, tuple[tuple[int, int], str]] = {}
    for error in exc.errors():
        path = _loc_path(error["loc"])
        origin, value = next(
            (origins[p] for p in _prefixes(path) if p in origins), ("default", error["input"])
        )
        if error["type"] == "extra_forbidden":
            problem = f"unknown key{_suggest(path)}"
        else:
            field = _field(path)
            problem = f"expected {field.description if field else 'a mapping'}, got {_show(value)}"
        lines.setdefault(path, (_rank(origin), f"{origin}: {path}: {problem}"))
    return "\n".join(text for _, text in sorted(lines.values()))


def _rank(origin: str) -> tuple[int, int]:
    # cli first, then env, then the file top to bottom: the order a reader fixes them in.
    if origin.startswith("cli "):
        return (0, 0)
    if origin.startswith("env "):
        return (1, 0)
    line = origin.rpartition(":")[2]
    return (2, int(line) if line.isdigit() else 0)


def _suggest(path: str) -> str:
    parent, _, key = path.rpartition(".")
    model = _section_at(parent)
    siblings = list(model.model_fields) if model else []
    if close := difflib.get_close_matches(key, siblings, n=1, cutoff=0.6):
        return f" (did you mean {parent + '.' if parent else ''}{close[0]}?)"
    everywhere = _known(sections=True)
    if close := difflib.get_close_matches(path, everywhere, n=1, cutoff=0.6):
        return f" (did you mean {close[0]}?)"
    if same := [p for p in everywhere if p.endswith("." + key)]:
        return f" (did you mean {same[0]}?)"
    return f" (known keys here: {', '.join(siblings)})" if siblings else ""


# -- walking the model ------------------------------------------------------------------------


def _section(model: type[BaseModel] | None, key: Any) -> type[BaseModel] | None:
    field = model.model_fields.get(str(key)) if model else None
    annotation = field.annotation if field else None
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


def _section_at(dotted: str) -> type[BaseModel] | None:
    model: type[BaseModel] | None = OsirisConfig
    for part in dotted.split(".") if dotted else []:
        model = _section(model, part)
    return model


def _field(dotted: str) -> FieldInfo | None:
    parent, _, key = dotted.rpartition(".")
    model = _section_at(parent)
    return model.model_fields.get(key) if model else None


def _known(*, sections: bool = False, model: type[BaseModel] = OsirisConfig) -> list[str]:
    out: list[str] = []
    for name in model.model_fields:
        sub = _section(model, name)
        if sub is None or sections:
            out.append(name)
        if sub is not None:
            out.extend(f"{name}.{p}" for p in _known(sections=sections, model=sub))
    return out


def _leaves(
    data: Mapping[str, Any], model: type[BaseModel] | None = OsirisConfig
) -> Iterator[tuple[str, Any]]:
    for key, value in data.items():
        sub = _section(model, key)
        if sub is not None and isinstance(value, Mapping):
            yield from ((f"{key}.{p}", v) for p, v in _leaves(value, sub))
        else:
            yield str(key), value


def _loc_path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    model: type[BaseModel] | None = OsirisConfig
    for item in loc:
        if model is None or not isinstance(item, str):
            break
        parts.append(item)
        model = _section(model, item)
    return ".".join(parts)


def _prefixes(path: str) -> Iterator[str]:
    parts = path.split(".")
    for end in range(len(parts), 0, -1):
        yield ".".join(parts[:end])


def _deep_set(target: dict[str, Any], parts: list[str], value: Any) -> None:
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def _show(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    return repr(value)


def _render(value: Any) -> str:
    if isinstance(value, str) and value:
        return value
    return json.dumps(value, ensure_ascii=False)
