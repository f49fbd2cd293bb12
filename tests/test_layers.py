"""Leaf modules import nothing above them: the arrows between the layers point one way."""

from __future__ import annotations

import subprocess
import sys

import pytest

# module -> the osiris modules it may load (besides itself and the package)
LEAVES = {
    "osiris.templates": set(),
    "osiris.errors": set(),
    "osiris.crash": set(),
    "osiris.document": {"osiris.errors"},
    "osiris.connections": {"osiris.errors", "osiris.document", "osiris.templates"},
}


@pytest.mark.parametrize("module", sorted(LEAVES))
def test_leaf_modules_import_nothing_above_them(module):
    code = (
        f"import sys, {module}\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('osiris.'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert set(out) - {module} <= LEAVES[module]
