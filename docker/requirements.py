"""Print the runtime requirements of pyproject.toml (dependencies plus the named extras).

The image installs these in a layer of their own, before the source is copied, so a code change
rebuilds only the small wheel layer and not the ~300 MB of dependencies.

    python3 requirements.py pyproject.toml db e2b action > requirements.txt
"""

from __future__ import annotations

import sys
import tomllib


def requirements(pyproject: str, extras: list[str]) -> list[str]:
    with open(pyproject, "rb") as file:
        project = tomllib.load(file)["project"]
    optional = project.get("optional-dependencies", {})
    unknown = sorted(set(extras) - set(optional))
    if unknown:
        raise SystemExit(f"requirements.py: no such extra in {pyproject}: {', '.join(unknown)}")
    found: list[str] = []
    for line in [*project.get("dependencies", []), *(r for e in extras for r in optional[e])]:
        if line not in found:
            found.append(line)
    return found


if __name__ == "__main__":
    print("\n".join(requirements(sys.argv[1], sys.argv[2:])))
