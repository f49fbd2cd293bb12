"""Component registry: built-in components plus those registered through entry points.

A component is a folder holding `spec.yaml` and a `driver` module. Built-ins live at
`osiris/components/<family>/<kind>/`; third-party packages register a package holding the same
two files under the entry-point group `osiris.components`.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.resources
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml
from pydantic import ValidationError

from osiris.components.spec import ComponentSpec
from osiris.errors import UsageError

__all__ = ["Component", "ComponentSpec", "Registry", "get_registry"]

ENTRY_POINT_GROUP = "osiris.components"


@dataclass(frozen=True)
class Component:
    spec: ComponentSpec
    package: str
    source: str  # "builtin" or the distribution that registered it

    @property
    def name(self) -> str:
        return self.spec.name

    def load_driver(self) -> ModuleType:
        return importlib.import_module(self.spec.driver or f"{self.package}.driver")


@dataclass
class Registry:
    components: dict[str, Component] = field(default_factory=dict)

    def get(self, name: str) -> Component | None:
        return self.components.get(name)

    def require(self, name: str) -> Component:
        comp = self.components.get(name)
        if comp is None:
            raise UsageError(
                f"unknown component '{name}'",
                hint="run `osiris components list` to see the available ones",
            )
        return comp

    def names(self) -> list[str]:
        return sorted(self.components)


def _load_spec(text: str, origin: str) -> ComponentSpec:
    try:
        # libyaml's loader where available: specs are parsed on every command, in every executor
        data: Any = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        return ComponentSpec.model_validate(data)
    except (yaml.YAMLError, ValidationError) as exc:
        raise UsageError(
            f"invalid component spec {origin}: {exc}",
            hint="fix the spec.yaml of that component or uninstall the package providing it",
        ) from exc


def _builtin_components() -> list[Component]:
    root = Path(__file__).parent
    found = []
    for spec_path in sorted(root.glob("*/*/spec.yaml")):
        rel = spec_path.parent.relative_to(root)
        package = "osiris.components." + ".".join(rel.parts)
        spec = _load_spec(spec_path.read_text(encoding="utf-8"), str(spec_path))
        found.append(Component(spec, package, "builtin"))
    return found


def _entry_point_components() -> list[Component]:
    found = []
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        package = ep.value.split(":")[0]
        try:
            spec_file = importlib.resources.files(package) / "spec.yaml"
            text = spec_file.read_text(encoding="utf-8")
        except (ImportError, OSError) as exc:
            raise UsageError(
                f"component entry point '{ep.name}' ({ep.value}) has no readable spec.yaml: {exc}",
                hint="the entry point must name a package that contains spec.yaml and driver.py",
            ) from exc
        dist = ep.dist.name if ep.dist is not None else "unknown distribution"
        found.append(Component(_load_spec(text, f"{package}/spec.yaml"), package, dist))
    return found


@cache
def get_registry() -> Registry:
    registry = Registry()
    for comp in [*_builtin_components(), *_entry_point_components()]:
        if comp.name in registry.components:
            other = registry.components[comp.name]
            raise UsageError(
                f"component '{comp.name}' is registered twice ({other.source} and {comp.source})",
                hint="uninstall one of the packages providing it",
            )
        registry.components[comp.name] = comp
    return registry
