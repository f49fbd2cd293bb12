"""Component registry: built-in components plus those registered through entry points.

A component is a folder holding `spec.yaml` and a `driver` module. Built-ins live at
`osiris/components/<family>/<kind>/`; third-party packages register a package holding the same
two files under the entry-point group `osiris.components`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from osiris.errors import UsageError

if TYPE_CHECKING:
    from osiris.components.spec import ComponentSpec

__all__ = ["Component", "ComponentSpec", "Registry", "get_registry", "load_driver"]

ENTRY_POINT_GROUP = "osiris.components"
_ROOT = Path(__file__).parent


def __getattr__(name: str) -> Any:
    # pydantic and the spec model are imported when needed, not by every executor
    if name == "ComponentSpec":
        from osiris.components.spec import ComponentSpec

        return ComponentSpec
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


def load_driver(name: str) -> ModuleType:
    """The driver module of component `name`.

    The executor needs only this; for a built-in it reads that one spec, where the registry
    would parse and validate every installed one (the compiler already did).
    """
    family, _, kind = name.partition(".")
    spec_path = _ROOT / family / kind / "spec.yaml"
    if family.isidentifier() and kind.isidentifier() and spec_path.is_file():
        data = load_yaml(spec_path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("name") == name:
            driver = data.get("driver") or f"osiris.components.{family}.{kind}.driver"
            return importlib.import_module(str(driver))
    return get_registry().require(name).load_driver()


def load_yaml(text: str) -> Any:
    """YAML through libyaml's safe loader where available: specs are parsed on every command,
    in every executor."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _load_spec(text: str, origin: str) -> ComponentSpec:
    import yaml
    from pydantic import ValidationError

    from osiris.components.spec import ComponentSpec

    try:
        data: Any = load_yaml(text)
        return ComponentSpec.model_validate(data)
    except (yaml.YAMLError, ValidationError) as exc:
        raise UsageError(
            f"invalid component spec {origin}: {exc}",
            hint="fix the spec.yaml of that component or uninstall the package providing it",
        ) from exc


def _builtin_components() -> list[Component]:
    found = []
    for spec_path in sorted(_ROOT.glob("*/*/spec.yaml")):
        rel = spec_path.parent.relative_to(_ROOT)
        package = "osiris.components." + ".".join(rel.parts)
        spec = _load_spec(spec_path.read_text(encoding="utf-8"), str(spec_path))
        found.append(Component(spec, package, "builtin"))
    return found


def _entry_point_components() -> list[Component]:
    import importlib.metadata
    import importlib.resources

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
