"""GitHub Action adapter: inputs, outputs, job summary, annotations and artifact upload.

`main()` is all that the container's entrypoint.py calls. It reads the `INPUT_*` variables,
compiles every pipeline once, validates, compiles or runs them (runs through `osiris.api`), and
turns what the runs left in their session directories into step outputs, a job summary,
annotations and a workflow artifact.
Needs the `action` extra (github-action-utils, httpx).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from osiris.errors import EXIT_USAGE

__all__ = ["main"]


def main(environ: Mapping[str, str] | None = None) -> int:
    """Run the action that `environ` (default: os.environ) describes; return the exit code.

    The code is the CLI's (see osiris/errors.py) when fail-on-error is true, else 0; an
    interrupted run gives 130 either way. A dict `environ` stands in for the process
    environment for the duration of the call.
    """
    try:
        from osiris.action.app import run_action
    except ImportError as exc:
        print(
            f"::error::the Osiris action cannot start: {exc}. Install osiris-run[action].",
            flush=True,
        )
        return EXIT_USAGE
    return run_action(os.environ if environ is None else environ)
