from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from osiris.config import LoadedConfig


def e2b_template_build(loaded: LoadedConfig, *, name: str | None, wheel: Path | None) -> int:
    from osiris.runners.e2b_template import build_template

    e2b = loaded.config.runner.e2b
    if name in (None, "runner.e2b.image"):
        name = e2b.image
    built = build_template(name, cpu=e2b.cpu, memory_mb=e2b.memory_mb, wheel=wheel)
    print(f"template built: {built}")
    print(
        f"use it with `runner: {{e2b: {{image: {built}}}}}` in osiris.yaml "
        f"or OSIRIS_RUNNER__E2B__IMAGE={built}"
    )
    return 0
