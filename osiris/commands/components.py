from __future__ import annotations

import json

import yaml

from osiris.components import get_registry


def components_list(*, as_json: bool) -> int:
    registry = get_registry()
    rows = [registry.components[n] for n in registry.names()]
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "name": c.name,
                        "version": c.spec.version,
                        "modes": c.spec.modes,
                        "connection_family": c.spec.connection_family,
                        "title": c.spec.title,
                        "source": c.source,
                    }
                    for c in rows
                ],
                indent=2,
            )
        )
        return 0
    width = max((len(c.name) for c in rows), default=4)
    print(f"{'NAME':<{width}}  {'VERSION':<8}  {'MODES':<10}  TITLE")
    for c in rows:
        print(
            f"{c.name:<{width}}  {c.spec.version:<8}  {','.join(c.spec.modes):<10}  {c.spec.title}"
        )
    return 0


def components_show(name: str, *, as_json: bool) -> int:
    comp = get_registry().require(name)
    data = comp.spec.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    if as_json:
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        print(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), end="")
    return 0
