from __future__ import annotations

from osiris.cli import main

raise SystemExit(main())
