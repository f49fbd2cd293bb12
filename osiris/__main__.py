from __future__ import annotations

from osiris.cli import entry

entry()
