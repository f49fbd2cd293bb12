from __future__ import annotations

import sys
import tempfile
import time
import traceback
from pathlib import Path

from osiris import __version__


def report_crash(log_path: Path | None = None) -> Path:
    """Write the current exception's traceback to a log file and return its path."""
    if log_path is None:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        log_path = Path(tempfile.gettempdir()) / f"osiris-crash-{stamp}.log"
    with log_path.open("a", encoding="utf-8") as f:
        f.write(f"osiris {__version__}, python {sys.version.split()[0]}\n")
        f.write(traceback.format_exc())
    return log_path
