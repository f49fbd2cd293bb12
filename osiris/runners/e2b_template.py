"""`osiris e2b template build`: an E2B template with this exact osiris preinstalled.

CPU and memory are properties of an E2B template, not of a sandbox, so `runner.e2b.cpu` and
`runner.e2b.memory_mb` are applied here. The wheel is built from the source checkout this osiris
runs from (or given with --wheel), so the template holds exactly the local version.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from osiris import __version__
from osiris.errors import UsageError
from osiris.runners.e2b import _sdk, sdk_errors

WHEEL_DIR = "/opt/osiris-wheel"


def source_root() -> Path | None:
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / "osiris").is_dir() else None


def build_wheel(out_dir: Path) -> Path:
    """Build the osiris wheel from the source checkout into `out_dir`."""
    root = source_root()
    if root is None:
        raise UsageError(
            "osiris is not running from a source checkout, so no wheel can be built",
            hint="pass --wheel PATH to an osiris wheel of this version",
        )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "-w",
            str(out_dir),
            str(root),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    wheels = sorted(out_dir.glob(f"osiris_run-{__version__}-*.whl"))
    if proc.returncode != 0 or not wheels:
        raise UsageError(f"building the osiris wheel failed: {proc.stderr.strip()[-500:]}")
    return wheels[-1]


def template_definition(wheel: Path, *, python: str = "3.11") -> Any:
    """The E2B template: a Python image with the wheel (and its db, e2b extras) installed."""
    e2b = _sdk()
    return (
        e2b.Template(file_context_path=str(wheel.parent))
        .from_python_image(python)
        .copy(wheel.name, f"{WHEEL_DIR}/{wheel.name}")
        .run_cmd(f"pip install --no-cache-dir '{WHEEL_DIR}/{wheel.name}[db]'")
        .run_cmd("python3 -m osiris --version")
    )


def build_template(
    name: str,
    *,
    cpu: int | None,
    memory_mb: int | None,
    wheel: Path | None = None,
    log: Callable[[str], None] = print,
) -> str:
    e2b = _sdk()
    with tempfile.TemporaryDirectory(prefix="osiris-wheel-") as tmp:
        wheel = wheel or build_wheel(Path(tmp))
        log(f"building E2B template '{name}' with {wheel.name} (cpu={cpu}, memory_mb={memory_mb})")
        with sdk_errors(f"building template '{name}'"):
            info = e2b.Template.build(
                template_definition(wheel),
                name,
                cpu_count=cpu,
                memory_mb=memory_mb,
                on_build_logs=lambda entry: log(str(getattr(entry, "message", entry))),
            )
    return str(getattr(info, "name", None) or getattr(info, "alias", None) or name)
