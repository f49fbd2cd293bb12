"""Test-only components: specs shaped like the built-in ones, without drivers.

`fixture_registry()` gives compiler tests a registry that does not depend on which built-in
components exist.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from osiris.components import Component, ComponentSpec, Registry

ROOT = Path(__file__).parent


def fixture_registry() -> Registry:
    components = {}
    for spec_path in sorted(ROOT.glob("*/*/spec.yaml")):
        spec = ComponentSpec.model_validate(yaml.safe_load(spec_path.read_text(encoding="utf-8")))
        package = "testing.components." + ".".join(spec_path.parent.relative_to(ROOT).parts)
        components[spec.name] = Component(spec, package, "testing")
    return Registry(components=components)
