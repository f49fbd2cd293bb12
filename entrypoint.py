"""The GitHub Action's entry point (the container runs `python /app/entrypoint.py`).

Everything lives in `osiris.action`; see docs/action.md.
"""

from __future__ import annotations

import sys

from osiris.action import main

if __name__ == "__main__":
    sys.exit(main())
